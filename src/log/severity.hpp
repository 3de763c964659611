// The level of a line the daemon writes (its own messages and, where it helps, a decision-log
// event): the syslog severities of RFC 5424 §6.2.1. Their numbers are the priorities syslog(3)
// takes and the "<N>" prefix a line written to the journal's standard-error stream may carry
// (sd-daemon(3), SD_ERR .. SD_DEBUG).
#pragma once

#include <string_view>

namespace ftpalg::log {

enum class Severity : unsigned char {
  Error = 3,    // something failed: ftpalg stops, or a part of its work is lost (log lines)
  Warning = 4,  // ftpalg goes on, but an admin should look (a refused announcement, a full queue)
  Notice = 5,   // normal but significant (a session ftpalg stops helping: TLS)
  Info = 6,     // normal operation (started, stopped, a rewrite, a pinhole)
  Debug = 7,
};

constexpr int severityNumber(Severity severity) { return static_cast<int>(severity); }

// "error", "warning", "notice", "info", "debug".
constexpr std::string_view severityName(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Notice: return "notice";
    case Severity::Info: return "info";
    case Severity::Debug: return "debug";
  }
  return "?";
}

}  // namespace ftpalg::log
