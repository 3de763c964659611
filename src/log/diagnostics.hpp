// The daemon's own messages (start-up, warnings, errors, the summary at stop), as distinct from
// its decisions (the decision log, event_log.hpp). Each message is one line on standard error,
// written with a single write(2) so that lines of concurrent threads never interleave, and
// carries its level (severity.hpp):
//
//   - standard error is the journal (systemd set JOURNAL_STREAM to the "DEVICE:INODE" of the
//     stream, and it is still standard error: sd-daemon(3)): "<4>queue 0: ...": the kernel-style
//     priority prefix the journal turns into the record's PRIORITY (its own fields name the
//     program and pid);
//   - otherwise (a terminal, a file): "ftpalg: warning: queue 0: ...".
//
// With --syslog (configureDiagnostics), each message also goes to syslog(3) (facility daemon,
// ident "ftpalg", the same level), unless standard error already is the journal, which forwards
// to syslog itself: a message is never stored twice.
//
// Thread-safe. The status and metrics work reuses Severity and report().
#pragma once

#include <string>
#include <string_view>

#include "severity.hpp"

namespace ftpalg::log {

enum class StderrStyle : unsigned char {
  Plain,    // "ftpalg: LEVEL: message"
  Journal,  // "<N>message"
};

// Journal when $JOURNAL_STREAM names standard error's device and inode (decimal "DEV:INO").
StderrStyle detectStderrStyle();

// The line report() writes for `message` in `style`, ending in '\n'. A message of several lines
// gives each line its own prefix. Pure: for tests.
std::string formatDiagnostic(StderrStyle style, Severity severity, std::string_view message);

// Once at start-up, before threads: detects the stderr style and, with `syslog`, opens the
// connection to syslog (LOG_NDELAY: while still root, before the privilege drop), which the
// decision log's syslog copy (event_log.hpp, SyslogEventLog) uses too.
// Without a call, messages go to standard error in the style detected at the first report().
void configureDiagnostics(bool syslog);

// Writes `message` at `severity` (see above).
void report(Severity severity, std::string_view message);
inline void reportError(std::string_view message) { report(Severity::Error, message); }
inline void reportWarning(std::string_view message) { report(Severity::Warning, message); }
inline void reportNotice(std::string_view message) { report(Severity::Notice, message); }
inline void reportInfo(std::string_view message) { report(Severity::Info, message); }

}  // namespace ftpalg::log
