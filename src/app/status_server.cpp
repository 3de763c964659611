// The status thread and `ftpalg status`'s client: see status_server.hpp.
#include "status_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "log/diagnostics.hpp"

namespace ftpalg::app {

namespace {

std::string errnoText() { return std::strerror(errno); }

void setTimeouts(int fd) {
  timeval second{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &second, sizeof second);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &second, sizeof second);
}

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

// Reads until `terminator` is in the data, EOF, `limit` bytes or the socket's timeout.
std::string receiveUntil(int fd, std::string_view terminator, std::size_t limit) {
  std::string data;
  char buffer[512];
  while (data.size() < limit && data.find(terminator) == std::string::npos) {
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    data.append(buffer, static_cast<std::size_t>(got));
  }
  return data;
}

Result<sockaddr_un> unixAddress(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return Err("--status-socket " + path + ": longer than " + std::to_string(sizeof address.sun_path - 1) +
               " bytes");
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

}  // namespace

Result<std::unique_ptr<StatusServer>> StatusServer::open(const std::string& socketPath,
                                                         const std::optional<Endpoint>& metrics) {
  std::unique_ptr<StatusServer> server(new StatusServer());
  auto address = unixAddress(socketPath);
  if (!address) return Err(address.error());
  const std::filesystem::path directory = std::filesystem::path(socketPath).parent_path();
  if (!directory.empty()) {
    std::error_code error;
    if (!std::filesystem::exists(directory, error) && ::mkdir(directory.c_str(), 0755) != 0 &&
        errno != EEXIST) {
      return Err("--status-socket " + socketPath + ": creating " + directory.string() + ": " + errnoText());
    }
  }
  // A socket file already there: a live daemon answers on it (refused), or it is stale (replaced).
  struct stat existing {};
  if (::lstat(socketPath.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode))
      return Err("--status-socket " + socketPath + ": exists and is not a socket");
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<const sockaddr*>(&address.value()),
                                              sizeof(sockaddr_un)) == 0;
    if (probe >= 0) ::close(probe);
    if (live)
      return Err("--status-socket " + socketPath + ": another process answers on it (another ftpalg run?)");
    ::unlink(socketPath.c_str());
  }
  server->unixFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server->unixFd_ < 0) return Err("--status-socket: socket: " + errnoText());
  // Mode 0600 from the start: no moment at which another user could connect.
  const mode_t previous = ::umask(0177);
  const int bound =
      ::bind(server->unixFd_, reinterpret_cast<const sockaddr*>(&address.value()), sizeof(sockaddr_un));
  const int bindErrno = errno;
  ::umask(previous);
  if (bound != 0) return Err("--status-socket " + socketPath + ": bind: " + std::strerror(bindErrno));
  server->socketPath_ = socketPath;
  if (::listen(server->unixFd_, 8) != 0)
    return Err("--status-socket " + socketPath + ": listen: " + errnoText());

  if (metrics) {
    const bool v6 = metrics->address.family() == IpFamily::V6;
    server->tcpFd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (server->tcpFd_ < 0) return Err("--metrics-listen: socket: " + errnoText());
    const int on = 1;
    ::setsockopt(server->tcpFd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage storage{};
    socklen_t length = 0;
    const auto bytes = metrics->address.bytes();
    if (v6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(metrics->port);
      std::memcpy(&in6->sin6_addr, bytes.data(), 16);
      ::setsockopt(server->tcpFd_, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
      length = sizeof(sockaddr_in6);
    } else {
      auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
      in4->sin_family = AF_INET;
      in4->sin_port = htons(metrics->port);
      std::memcpy(&in4->sin_addr, bytes.data() + bytes.size() - 4, 4);
      length = sizeof(sockaddr_in);
    }
    if (::bind(server->tcpFd_, reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
      return Err("--metrics-listen " + metrics->toString() + ": bind: " + errnoText());
    }
    if (::listen(server->tcpFd_, 16) != 0)
      return Err("--metrics-listen " + metrics->toString() + ": listen: " + errnoText());
  }
  server->stopFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (server->stopFd_ < 0) return Err("status: eventfd: " + errnoText());
  return server;
}

StatusServer::~StatusServer() {
  stop();
  for (const int fd : {unixFd_, tcpFd_, stopFd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void StatusServer::start(Collect collect, Describe describe) {
  collect_ = std::move(collect);
  describe_ = std::move(describe);
  thread_ = std::thread([this] { run(); });
  ::pthread_setname_np(thread_.native_handle(), "ftpalg-status");
}

void StatusServer::stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(stopFd_, &one, sizeof one);
    thread_.join();
  }
  if (!socketPath_.empty()) {
    ::unlink(socketPath_.c_str());
    socketPath_.clear();
  }
}

void StatusServer::run() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  while (true) {
    pollfd fds[3] = {{stopFd_, POLLIN, 0}, {unixFd_, POLLIN, 0}, {tcpFd_, POLLIN, 0}};
    if (::poll(fds, tcpFd_ >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::reportError("status: poll: " + errnoText());
      return;
    }
    if (fds[0].revents & POLLIN) return;
    for (const int which : {1, 2}) {
      if (which == 2 && tcpFd_ < 0) continue;
      if (!(fds[which].revents & POLLIN)) continue;
      const int client = ::accept4(fds[which].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      setTimeouts(client);
      if (which == 1) {
        answerUnix(client);
      } else {
        answerHttp(client);
      }
      ::close(client);
    }
  }
}

void StatusServer::answerUnix(int fd) {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 ||
      (peer.uid != 0 && peer.uid != ::geteuid())) {
    sendAll(fd, "error: ftpalg status is for root\n");
    return;
  }
  std::string request = receiveUntil(fd, "\n", 64);
  while (!request.empty() && (request.back() == '\n' || request.back() == '\r')) request.pop_back();
  if (request != "json" && request != "text") {
    sendAll(fd, "error: unknown request \"" + request.substr(0, 32) + "\" (expected json or text)\n");
    return;
  }
  const std::vector<WorkerStatus> workers = collect_();
  const DaemonStatus daemon = describe_();
  sendAll(fd, request == "json" ? statusJson(daemon, workers) : statusText(daemon, workers));
}

void StatusServer::answerHttp(int fd) {
  const std::string request = receiveUntil(fd, "\r\n\r\n", 8192);
  const std::string_view line = std::string_view(request).substr(0, request.find("\r\n"));
  std::string status, body;
  if (!line.starts_with("GET ")) {
    status = "405 Method Not Allowed";
    body = "only GET /metrics\n";
  } else if (line.starts_with("GET /metrics ") || line == "GET /metrics") {
    status = "200 OK";
    body = metricsText(collect_());
  } else {
    status = "404 Not Found";
    body = "ftpalg serves /metrics\n";
  }
  const std::string contentType =
      status.starts_with("200") ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain";
  sendAll(fd, "HTTP/1.1 " + status + "\r\nContent-Type: " + contentType + "\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

Result<std::string> queryStatus(const std::string& socketPath, bool json) {
  auto address = unixAddress(socketPath);
  if (!address) return Err(address.error());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err("socket: " + errnoText());
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address.value()), sizeof(sockaddr_un)) != 0) {
    const std::string why = errnoText();
    ::close(fd);
    return Err("no ftpalg run answers at " + socketPath + " (" + why +
               "); is it running, with this --status-socket, and are you root?");
  }
  timeval wait{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  if (!sendAll(fd, json ? "json\n" : "text\n")) {
    ::close(fd);
    return Err("sending to " + socketPath + ": " + errnoText());
  }
  std::string answer;
  char buffer[4096];
  while (true) {
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const std::string why = errnoText();
      ::close(fd);
      return Err("reading from " + socketPath + ": " + why);
    }
    if (got == 0) break;
    answer.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  if (answer.starts_with("error: ")) return Err(answer.substr(7, answer.find('\n') - 7));
  if (answer.empty()) return Err(socketPath + " closed without an answer");
  return answer;
}

}  // namespace ftpalg::app
