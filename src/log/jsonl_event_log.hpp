// JsonlEventLog: the decision log as JSON lines, one object per observation (docs/log-schema.md).
//
// Every line has "ts" (seconds, six decimals), "event", "flow" ("client_ip:port-server_ip:port"
// as the FlowResolver named it; null on the stats line) and "mode" ("live", "dry-run" or
// "replay"), followed by the event's own keys in a fixed order. Reason and counter names come
// from include/ftpalg/engine/reasons.hpp; FTP line text arrives escaped by the engine
// (escapeLine) and is JSON-escaped again here, so any byte an attacker sends yields valid JSON.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ftpalg/io/interfaces.hpp"
#include "log_file.hpp"

namespace ftpalg::log {

// One JSON object without the trailing newline. Pure: usable by tests without a file.
std::string jsonObservationLine(const Observation& observation, std::string_view mode);
std::string jsonStatsLine(Timestamp ts, const Stats& stats, std::string_view mode);

class JsonlEventLog final : public EventLog {
 public:
  JsonlEventLog(std::unique_ptr<LogFile> file, std::string mode)
      : file_(std::move(file)), mode_(std::move(mode)) {}

  void record(const Observation& observation) override;
  void recordStats(Timestamp ts, const Stats& stats) override;
  void flush() override { file_->flush(); }
  Status<> reopen() override { return file_->reopen(); }
  bool hadWriteError() const { return file_->hadWriteError(); }

 private:
  std::unique_ptr<LogFile> file_;
  std::string mode_;
};

}  // namespace ftpalg::log
