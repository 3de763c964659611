// The live daemon's stderr messages and shared decision log: see live_log.hpp.
#include "live_log.hpp"

#include <iostream>

#include "live_clock.hpp"

namespace ftpalg::app {

namespace {
std::mutex stderrMutex;
}  // namespace

void say(const std::string& message) {
  std::lock_guard lock(stderrMutex);
  std::cerr << "ftpalg: " << message << '\n';
}

void LiveLog::record(const Observation& observation) {
  Observation wall = observation;
  wall.ts = toWallClock(observation.ts);
  std::lock_guard lock(mutex_);
  log_->record(wall);
}

void LiveLog::recordStats(Timestamp ts, const Stats& stats) {
  std::lock_guard lock(mutex_);
  log_->recordStats(ts, stats);
  log_->flush();
}

void LiveLog::recordStats(const Stats& stats) { recordStats(wallClockNow(), stats); }

Status<> LiveLog::reopen() {
  std::lock_guard lock(mutex_);
  return log_->reopen();
}

void LiveLog::flush() {
  std::lock_guard lock(mutex_);
  log_->flush();
}

}  // namespace ftpalg::app
