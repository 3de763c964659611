// The live daemon's clocks: see live_clock.hpp.
#include "live_clock.hpp"

#include <time.h>

#include <cstdint>

namespace ftpalg::app {

namespace {

Timestamp readClock(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return Timestamp{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
}

}  // namespace

Timestamp monotonicNow() { return readClock(CLOCK_MONOTONIC); }

Timestamp wallClockNow() { return readClock(CLOCK_REALTIME); }

Timestamp toWallClock(Timestamp monotonic) {
  const Timestamp wall = wallClockNow();
  const Timestamp mono = monotonicNow();
  return Timestamp{monotonic.nanos + (wall.nanos - mono.nanos)};
}

}  // namespace ftpalg::app
