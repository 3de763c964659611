#include "service_notifier.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace ftpalg::app {

namespace {

std::optional<unsigned long long> positiveDecimal(std::string_view text) {
  unsigned long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value == 0) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

Result<NotifyAddress> parseNotifySocket(std::string_view value) {
  NotifyAddress result;
  result.address.sun_family = AF_UNIX;
  const std::size_t capacity = sizeof result.address.sun_path;
  const bool abstract = !value.empty() && value.front() == '@';
  if (value.empty() || (!abstract && value.front() != '/')) {
    return Err{"NOTIFY_SOCKET=\"" + std::string(value) +
               "\": expected an absolute path or an abstract name starting with '@'"};
  }
  // A path needs room for its terminating NUL; an abstract name has none (its '@' becomes the
  // leading NUL and the length says where it ends).
  if (value.size() > (abstract ? capacity : capacity - 1)) {
    return Err{"NOTIFY_SOCKET=\"" + std::string(value) + "\": longer than a unix socket address (" +
               std::to_string(capacity - 1) + " bytes)"};
  }
  std::memcpy(result.address.sun_path, value.data(), value.size());
  if (abstract) result.address.sun_path[0] = '\0';
  result.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() + (abstract ? 0 : 1));
  return result;
}

Result<std::optional<std::chrono::microseconds>> watchdogPingInterval(const char* usec, const char* pid,
                                                                      pid_t ourPid) {
  using Interval = std::optional<std::chrono::microseconds>;
  if (usec == nullptr) return Interval{};
  const auto timeout = positiveDecimal(usec);
  if (!timeout) {
    return Err{"WATCHDOG_USEC=\"" + std::string(usec) + "\": expected a positive number of microseconds"};
  }
  if (pid != nullptr) {
    const auto owner = positiveDecimal(pid);
    if (!owner) return Err{"WATCHDOG_PID=\"" + std::string(pid) + "\": expected a process id"};
    if (*owner != static_cast<unsigned long long>(ourPid)) return Interval{};
  }
  return Interval{std::chrono::microseconds(static_cast<std::int64_t>(*timeout / 2))};
}

Result<ServiceNotifier> ServiceNotifier::fromEnvironment() {
  ServiceNotifier notifier;
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr) return notifier;
  auto address = parseNotifySocket(socket);
  if (!address) return Err{address.error()};
  auto ping =
      app::watchdogPingInterval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
  if (!ping) return Err{ping.error()};
  notifier.address_ = address.value();
  notifier.socketName_ = socket;
  notifier.watchdogPing_ = ping.value();
  return notifier;
}

Status<> ServiceNotifier::notify(std::string_view state) const {
  if (!address_) return okStatus();
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err{"NOTIFY_SOCKET " + socketName_ + ": socket: " + std::strerror(errno)};
  const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address_->address), address_->length);
  const int error = errno;
  ::close(fd);
  if (sent < 0) return Err{"NOTIFY_SOCKET " + socketName_ + ": " + std::strerror(error)};
  if (static_cast<std::size_t>(sent) != state.size()) {
    return Err{"NOTIFY_SOCKET " + socketName_ + ": notification truncated"};
  }
  return okStatus();
}

}  // namespace ftpalg::app
