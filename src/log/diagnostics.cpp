#include "diagnostics.hpp"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <optional>

namespace ftpalg::log {

namespace {

struct Destinations {
  std::mutex mutex;
  std::optional<StderrStyle> style;  // detected at configureDiagnostics() or the first report()
  bool syslog = false;
};

Destinations& destinations() {
  static Destinations instance;
  return instance;
}

// Parses "DEV:INO" (both decimal) as sd-daemon(3) describes $JOURNAL_STREAM.
bool parseDeviceInode(std::string_view text, unsigned long long& device, unsigned long long& inode) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const auto parse = [](std::string_view part, unsigned long long& out) {
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    return !part.empty() && error == std::errc() && end == part.data() + part.size();
  };
  return parse(text.substr(0, colon), device) && parse(text.substr(colon + 1), inode);
}

// write(2) until done; a failure (stderr closed) loses the message, there is nowhere to say so.
void writeAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace

StderrStyle detectStderrStyle() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (stream == nullptr || !parseDeviceInode(stream, device, inode)) return StderrStyle::Plain;
  struct stat info {};
  if (::fstat(STDERR_FILENO, &info) != 0) return StderrStyle::Plain;
  return static_cast<unsigned long long>(info.st_dev) == device &&
                 static_cast<unsigned long long>(info.st_ino) == inode
             ? StderrStyle::Journal
             : StderrStyle::Plain;
}

std::string formatDiagnostic(StderrStyle style, Severity severity, std::string_view message) {
  std::string prefix;
  if (style == StderrStyle::Journal) {
    prefix = "<" + std::to_string(severityNumber(severity)) + ">";
  } else {
    prefix = "ftpalg: " + std::string(severityName(severity)) + ": ";
  }
  std::string text;
  text.reserve(prefix.size() + message.size() + 1);
  for (;;) {
    const std::size_t newline = message.find('\n');
    text.append(prefix).append(message.substr(0, newline)).push_back('\n');
    if (newline == std::string_view::npos || newline + 1 == message.size()) break;
    message.remove_prefix(newline + 1);
  }
  return text;
}

void configureDiagnostics(bool syslog) {
  Destinations& where = destinations();
  std::lock_guard lock(where.mutex);
  where.style = detectStderrStyle();
  // The connection also serves the decision log's syslog copy (SyslogEventLog).
  if (syslog) ::openlog("ftpalg", LOG_PID | LOG_NDELAY, LOG_DAEMON);
  where.syslog = syslog && *where.style != StderrStyle::Journal;
}

void report(Severity severity, std::string_view message) {
  Destinations& where = destinations();
  std::lock_guard lock(where.mutex);
  if (!where.style) where.style = detectStderrStyle();
  writeAll(STDERR_FILENO, formatDiagnostic(*where.style, severity, message));
  if (where.syslog) {
    const std::string text(message);
    ::syslog(LOG_DAEMON | severityNumber(severity), "%s", text.c_str());
  }
}

}  // namespace ftpalg::log
