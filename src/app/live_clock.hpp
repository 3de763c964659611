// The live daemon's clocks. The engine's timestamps are CLOCK_MONOTONIC (they never jump, so
// timers and expiry survive a wall-clock step); the decision log and `stats` lines show wall-clock
// (CLOCK_REALTIME) time. toWallClock is the one place that converts between them.
#pragma once

#include "ftpalg/core/time.hpp"

namespace ftpalg::app {

// CLOCK_MONOTONIC, in nanoseconds: the `now` handed to the engine.
Timestamp monotonicNow();

// CLOCK_REALTIME, in nanoseconds since the Unix epoch.
Timestamp wallClockNow();

// A CLOCK_MONOTONIC timestamp moved onto the wall clock by the current offset between the two
// clocks (read now: a wall-clock step since `monotonic` shows in the result).
Timestamp toWallClock(Timestamp monotonic);

}  // namespace ftpalg::app
