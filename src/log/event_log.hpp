// The decision log (docs/log-schema.md): one line per observation and per stats event, as JSON
// lines (one object per line, the default) or as text for humans, appended to a LogFile.
//
// JSON: "ts" (seconds, six decimals), "event", "flow" ("client_ip:port-server_ip:port" as the
// FlowResolver named it; null on the stats line) and "mode" ("live", "dry-run" or "replay"), then
// the event's own keys. Text: "<ts> <mode> <event> <flow> key=value ...", flow "-" on the stats
// line. Both render each event's fields from one description (event_fields.hpp). FTP line text
// arrives escaped by the engine (escapeLine) and is JSON-escaped again here, so any byte an
// attacker sends yields valid JSON (and an unambiguous text line).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ftpalg/io/interfaces.hpp"
#include "log_file.hpp"

namespace ftpalg::log {

enum class LineFormat : unsigned char {
  Json,  // --log-format json
  Text,  // --log-format text
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
  bool hadWriteError() const { return file_->hadWriteError(); }

 private:
  LineFormat format_;
  std::unique_ptr<LogFile> file_;
  std::string mode_;
};

}  // namespace ftpalg::log
