// SegmentTracker: in-order reassembly of one direction of a TCP stream (RFC 793 §3.3, §3.9).
//
// Sequence space: every offset here is a 64-bit stream offset in the SENDER's original sequence
// space, relative to ISN + 1 (see core/seq_num.hpp SeqUnwrapper); offset 0 is the first payload
// byte. Bytes before nextOffset() have been delivered exactly once, in order.
//
// Retransmissions and overlaps: bytes already delivered are not delivered again. Bytes of a new
// segment that overlap a held out-of-order segment are compared; first-seen bytes win and a
// difference sets TrackResult::conflict. (The engine compares re-sent bytes of an undecided
// partial line itself, against the LineFramer's buffer.)
// Out-of-order: segments beyond nextOffset() are copied and held until contiguous, up to
// maxOutOfOrderBytes in total; bytes that would exceed it are not stored and set overLimit.
// A segment starting more than kMaxAheadBytes past nextOffset() is not stored either (overLimit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

namespace ftpalg {

struct TrackResult {
  std::size_t deliveredBytes = 0;  // total newly contiguous bytes passed to the sink
  bool duplicate = false;          // every byte of the segment was already delivered or held
  bool conflict = false;           // overlapping bytes differed from first-seen bytes
  bool overLimit = false;          // out-of-order bytes were not stored (limit)
};

class SegmentTracker {
 public:
  explicit SegmentTracker(std::size_t maxOutOfOrderBytes = 16384)
      : maxOutOfOrderBytes_(maxOutOfOrderBytes) {}

  static constexpr std::int64_t kMaxAheadBytes = 1 << 20;

  // Sets the next expected offset (normally 0). Clears held segments.
  void reset(std::int64_t nextOffset);

  // Accepts `bytes` at stream offset `offset`. Calls deliver(std::int64_t offset,
  // std::string_view bytes) for newly contiguous bytes, in stream order: first the new part of
  // this segment, then any held segments it made contiguous. The views are valid only during the
  // call.
  template <typename Sink>
  TrackResult accept(std::int64_t offset, std::span<const std::uint8_t> bytes, Sink&& deliver);

  std::int64_t nextOffset() const { return nextOffset_; }
  std::size_t heldBytes() const { return heldBytes_; }
  bool hasHeld() const { return !held_.empty(); }
  // Highest offset + 1 of any held byte, or nextOffset() when nothing is held.
  std::int64_t highestOffset() const;

 private:
  // Stores the parts of [offset, offset+bytes) not already held; compares overlaps.
  // enforceLimit: out-of-order data counts against maxOutOfOrderBytes; in-order data (drained
  // at once) does not.
  void hold(std::int64_t offset, std::string_view bytes, TrackResult& result, bool enforceLimit);
  template <typename Sink>
  void drainHeld(Sink&& deliver, TrackResult& result);

  std::size_t maxOutOfOrderBytes_;
  std::int64_t nextOffset_ = 0;
  std::size_t heldBytes_ = 0;
  std::map<std::int64_t, std::string> held_;  // non-overlapping, keyed by start offset
};

}  // namespace ftpalg

#include "ftpalg/tcp/segment_tracker_impl.hpp"
