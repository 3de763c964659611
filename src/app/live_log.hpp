// What the live daemon writes: its messages on stderr (say) and the decision log its queue workers
// share (LiveLog).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::app {

// One line "ftpalg: <message>" on stderr; safe from any thread (lines never interleave).
void say(const std::string& message);

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

 private:
  std::mutex mutex_;
  std::unique_ptr<EventLog> log_;
};

}  // namespace ftpalg::app
