// Running programs: see run_command.hpp.
#include "run_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace ftpalg::firewall {

namespace {

constexpr std::size_t kMaxOutput = std::size_t{16} << 20;

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

// A memory file holding `input`, positioned at its start: the child's stdin. A file, not a pipe,
// so that writing the input can never wait for the child to read it.
int inputFile(std::string_view input, std::string& error) {
  const int fd = ::memfd_create("ftpalg-input", MFD_CLOEXEC);
  if (fd < 0) {
    error = std::string("memfd_create: ") + std::strerror(errno);
    return -1;
  }
  std::size_t written = 0;
  while (written < input.size()) {
    const ssize_t n = ::write(fd, input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("writing the input: ") + std::strerror(errno);
      ::close(fd);
      return -1;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) {
    error = std::string("lseek: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::optional<std::string> findProgram(std::string_view name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/", "/usr/local/sbin/"}) {
    std::string path = std::string(dir) + std::string(name);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

CommandResult runCommand(const std::string& program, const Argv& args, std::string_view input,
                         int timeoutSeconds) {
  CommandResult result;
  int stdinFd = -1;
  if (!input.empty()) {
    stdinFd = inputFile(input, result.output);
    if (stdinFd < 0) return result;
  }
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe: ") + std::strerror(errno);
    if (stdinFd >= 0) ::close(stdinFd);
    return result;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char locale[] = "LC_ALL=C";
  char* envp[] = {path, locale, nullptr};

  const pid_t pid = ::fork();
  if (pid < 0) {
    result.output = std::string("fork: ") + std::strerror(errno);
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    if (stdinFd >= 0) ::close(stdinFd);
    return result;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until execve.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int in = stdinFd >= 0 ? stdinFd : ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    ::dup2(pipeFds[1], 1);
    ::dup2(pipeFds[1], 2);
    ::execve(program.c_str(), argv.data(), envp);
    ::_exit(127);
  }
  ::close(pipeFds[1]);
  if (stdinFd >= 0) ::close(stdinFd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  char buffer[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);  // the child we started, by pid
      result.output += "\n(timed out after " + std::to_string(timeoutSeconds) + " s)";
      break;
    }
    pollfd waiter{pipeFds[0], POLLIN, 0};
    const int ready = ::poll(&waiter, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t got = ::read(pipeFds[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (result.output.size() < kMaxOutput) {
      result.output.append(buffer, static_cast<std::size_t>(got));
    } else {
      result.truncated = true;
    }
  }
  ::close(pipeFds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exitStatus =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  result.output = trim(result.output);
  return result;
}

}  // namespace ftpalg::firewall
