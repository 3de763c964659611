// The decision log (docs/log-schema.md): one line per observation and per stats event, as JSON
// lines (one object per line, the default) or as text for humans, appended to a LogFile.
//
// JSON: "ts" (seconds, six decimals), "event", "flow" ("client_ip:port-server_ip:port" as the
// FlowResolver named it; null on the stats line) and "mode" ("live", "dry-run" or "replay"), then
// the event's own keys. Text: "<ts> <level> <mode> <event> <flow> key=value ...", flow "-" on the
// stats line, level the event's (event_fields.hpp: eventSeverity). All render each event's fields
// from one description (event_fields.hpp). FTP line text arrives escaped by the engine
// (escapeLine) and is JSON-escaped again here, so any byte an attacker sends yields valid JSON
// (and an unambiguous text line).
//
// `ftpalg run --syslog` also sends every line to syslog(3) (SyslogEventLog): the text line
// without its time and level, which syslog records itself, at the event's level, facility daemon.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/io/interfaces.hpp"
#include "log_file.hpp"

namespace ftpalg::log {

enum class LineFormat : unsigned char {
  Json,    // --log-format json
  Text,    // --log-format text
  Syslog,  // --syslog: the text line without "<ts> <level> "
};

// One line without the trailing newline. Pure: usable by tests without a file.
std::string observationLine(LineFormat format, const Observation& observation, std::string_view mode);
std::string statsLine(LineFormat format, Timestamp ts, const Stats& stats, std::string_view mode);

class FileEventLog final : public EventLog {
 public:
  FileEventLog(LineFormat format, std::unique_ptr<LogFile> file, std::string mode)
      : format_(format), file_(std::move(file)), mode_(std::move(mode)) {}

  void record(const Observation& observation) override;
  void recordStats(Timestamp ts, const Stats& stats) override;
  void flush() override { file_->flush(); }
  Status<> reopen() override { return file_->reopen(); }
  std::optional<std::string> writeError() const override { return file_->writeError(); }

 private:
  LineFormat format_;
  std::unique_ptr<LogFile> file_;
  std::string mode_;
};

// Each line to syslog(3) at the event's level, with facility daemon and the ident and connection
// configureDiagnostics(true) opened. syslog(3) reports no failure: writeError() stays empty.
class SyslogEventLog final : public EventLog {
 public:
  explicit SyslogEventLog(std::string mode) : mode_(std::move(mode)) {}

  void record(const Observation& observation) override;
  void recordStats(Timestamp ts, const Stats& stats) override;
  void flush() override {}

 private:
  std::string mode_;
};

// Every line to each of several logs (--log FILE and --syslog). writeError() is the first log's
// that has one.
class TeeEventLog final : public EventLog {
 public:
  explicit TeeEventLog(std::vector<std::unique_ptr<EventLog>> logs) : logs_(std::move(logs)) {}

  void record(const Observation& observation) override;
  void recordStats(Timestamp ts, const Stats& stats) override;
  void flush() override;
  Status<> reopen() override;
  std::optional<std::string> writeError() const override;

 private:
  std::vector<std::unique_ptr<EventLog>> logs_;
};

}  // namespace ftpalg::log
