// Timestamp: a point in time supplied by the caller (capture time in replay, a monotonic clock in
// live mode). The core never reads a clock (docs/design.md#one-engine-thin-shells).
#pragma once

#include <chrono>
#include <cstdint>

namespace ftpalg {

using Duration = std::chrono::nanoseconds;

struct Timestamp {
  std::int64_t nanos = 0;  // since an epoch chosen by the caller

  static constexpr Timestamp fromSeconds(double s) { return Timestamp{static_cast<std::int64_t>(s * 1e9)}; }
  constexpr double seconds() const { return static_cast<double>(nanos) / 1e9; }
  constexpr Timestamp operator+(Duration d) const { return Timestamp{nanos + d.count()}; }
  constexpr Duration operator-(Timestamp other) const { return Duration(nanos - other.nanos); }
  constexpr auto operator<=>(const Timestamp&) const = default;
};

}  // namespace ftpalg
