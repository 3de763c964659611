// TCP sequence-number arithmetic (RFC 793 §3.3, RFC 1982 serial-number comparison) and the
// unwrapping of 32-bit sequence numbers into 64-bit stream offsets.
#pragma once

#include <cstdint>

namespace ftpalg {

// A 32-bit TCP sequence number in the sender's sequence space. Comparison is RFC 1982 serial
// arithmetic with SERIAL_BITS = 32: a < b iff (b - a) mod 2^32 is in (0, 2^31).
class SeqNum {
 public:
  constexpr SeqNum() = default;
  constexpr explicit SeqNum(std::uint32_t raw) : raw_(raw) {}
  constexpr std::uint32_t raw() const { return raw_; }

  constexpr SeqNum operator+(std::uint32_t n) const { return SeqNum(raw_ + n); }
  constexpr SeqNum operator-(std::uint32_t n) const { return SeqNum(raw_ - n); }
  // Signed distance from other to this, valid when |distance| < 2^31.
  constexpr std::int32_t operator-(SeqNum other) const {
    return static_cast<std::int32_t>(raw_ - other.raw_);
  }
  constexpr bool operator==(const SeqNum&) const = default;
  // Two numbers exactly 2^31 apart are unordered (RFC 1982 §3.2): neither is before the other.
  constexpr bool before(SeqNum other) const {
    const std::uint32_t forward = other.raw_ - raw_;  // (other - this) mod 2^32
    return forward != 0 && forward < 0x80000000u;
  }
  constexpr bool after(SeqNum other) const { return other.before(*this); }
  constexpr bool beforeOrEqual(SeqNum other) const { return *this == other || before(other); }
  constexpr bool afterOrEqual(SeqNum other) const { return *this == other || after(other); }

 private:
  std::uint32_t raw_ = 0;
};

// Maps 32-bit sequence numbers of one direction to 64-bit offsets relative to a base sequence
// number (normally ISN + 1, the first payload byte). Unwrapping picks the 64-bit value nearest to
// the most recently unwrapped offset, so the session survives any number of 2^32 wraps as long as
// consecutive observations are less than 2^31 apart.
class SeqUnwrapper {
 public:
  constexpr SeqUnwrapper() = default;
  constexpr explicit SeqUnwrapper(SeqNum base) : base_(base), last_(0) {}

  constexpr SeqNum base() const { return base_; }
  // Offset of seq relative to base; updates the reference point to the result when it is larger.
  // May be negative (a sequence number before base, e.g. a SYN retransmission).
  std::int64_t unwrap(SeqNum seq);
  // The same without updating the reference point.
  std::int64_t peek(SeqNum seq) const;
  // Sequence number of a 64-bit offset.
  constexpr SeqNum wrap(std::int64_t offset) const {
    return SeqNum(base_.raw() + static_cast<std::uint32_t>(static_cast<std::uint64_t>(offset)));
  }

 private:
  SeqNum base_{};
  std::int64_t last_ = 0;
};

inline std::int64_t SeqUnwrapper::peek(SeqNum seq) const {
  const std::int32_t delta = seq - wrap(last_);
  return last_ + delta;
}

inline std::int64_t SeqUnwrapper::unwrap(SeqNum seq) {
  const std::int64_t offset = peek(seq);
  if (offset > last_) last_ = offset;
  return offset;
}

}  // namespace ftpalg
