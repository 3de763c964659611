// TextEventLog: the decision log for humans (--log-format text), one line per observation with
// the same facts as the JSON lines, in this shape:
//
//   <ts> <mode> <event> <flow> key=value key=value ...
//   1700000000.000123 replay rewrite 192.168.77.10:40000-203.0.113.10:21 dir=c2s verb=PORT
//       before="PORT 192,168,77,10,156,64" after="PORT 203,0,113,1,156,64"   (one line)
//
// Line text is quoted with the same escaping as the JSON log; names are reasons.hpp's.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ftpalg/io/interfaces.hpp"
#include "log_file.hpp"

namespace ftpalg::log {

std::string textObservationLine(const Observation& observation, std::string_view mode);
std::string textStatsLine(Timestamp ts, const Stats& stats, std::string_view mode);

class TextEventLog final : public EventLog {
 public:
  TextEventLog(std::unique_ptr<LogFile> file, std::string mode)
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
