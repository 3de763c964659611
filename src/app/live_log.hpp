// The decision log the live daemon's queue workers share (LiveLog). Its messages go through
// log/diagnostics.hpp (report(), with a level on every line).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::app {

// The decision log, shared by the workers (every call takes a lock). Observations arrive stamped
// with the engine's CLOCK_MONOTONIC time and are written with wall-clock time (toWallClock,
// live_clock.hpp).
class LiveLog final : public EventLog {
 public:
  explicit LiveLog(std::unique_ptr<EventLog> log) : log_(std::move(log)) {}
  void record(const Observation& observation) override;
  // `ts` is wall-clock time; the line is flushed.
  void recordStats(Timestamp ts, const Stats& stats) override;
  // A `stats` line stamped now (wall clock), flushed.
  void recordStats(const Stats& stats);
  Status<> reopen() override;
  void flush() override;
  std::optional<std::string> writeError() const override;

 private:
  // Reports a write failure once, when it starts (a full disk); a reopen that succeeds (SIGHUP
  // after rotation) clears it, and a later failure is reported again. Called with mutex_ held.
  void noticeWriteError();

  mutable std::mutex mutex_;
  std::unique_ptr<EventLog> log_;
  bool writeErrorReported_ = false;
};

}  // namespace ftpalg::app
