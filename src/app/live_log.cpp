// The live daemon's shared decision log: see live_log.hpp.
#include "live_log.hpp"

#include "live_clock.hpp"
#include "log/diagnostics.hpp"

namespace ftpalg::app {

void LiveLog::record(const Observation& observation) {
  Observation wall = observation;
  wall.ts = toWallClock(observation.ts);
  std::lock_guard lock(mutex_);
  log_->record(wall);
  noticeWriteError();
}

void LiveLog::recordStats(Timestamp ts, const Stats& stats) {
  std::lock_guard lock(mutex_);
  log_->recordStats(ts, stats);
  log_->flush();
  noticeWriteError();
}

void LiveLog::recordStats(const Stats& stats) { recordStats(wallClockNow(), stats); }

Status<> LiveLog::reopen() {
  std::lock_guard lock(mutex_);
  auto reopened = log_->reopen();
  noticeWriteError();
  return reopened;
}

void LiveLog::flush() {
  std::lock_guard lock(mutex_);
  log_->flush();
  noticeWriteError();
}

std::optional<std::string> LiveLog::writeError() const {
  std::lock_guard lock(mutex_);
  return log_->writeError();
}

void LiveLog::noticeWriteError() {
  const auto error = log_->writeError();
  if (error && !writeErrorReported_) {
    log::reportError("decision log: " + *error + "; decisions are not being logged");
  }
  writeErrorReported_ = error.has_value();
}

}  // namespace ftpalg::app
