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
// maxOutOfOrderBytes in total; bytes that would exceed it are not stored and set overLimit (the
// part that still fits is stored; overlapping bytes are still compared).
// A segment starting more than kMaxAheadBytes past nextOffset() is not stored either (overLimit).
// Held bytes are kept as non-overlapping runs; adjacent runs are merged, and at most
// kMaxHeldRuns runs are kept (overLimit), so the bookkeeping per held byte stays bounded even
// against one-byte segments with gaps between them.
// In-order bytes are delivered straight from the caller's buffer (no copy).
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
  explicit SegmentTracker(std::size_t maxOutOfOrderBytes = 16384) : maxOutOfOrderBytes_(maxOutOfOrderBytes) {}

  static constexpr std::int64_t kMaxAheadBytes = 1 << 20;
  // Maximum number of separate held runs (holes + 1). An honest peer's control connection has
  // a handful at most.
  static constexpr std::size_t kMaxHeldRuns = 64;

  // Sets the next expected offset (normally 0). Clears held segments.
  void reset(std::int64_t nextOffset);

  // Accepts `bytes` at stream offset `offset`. Calls deliver(std::int64_t offset,
  // std::string_view bytes) for newly contiguous bytes, in stream order and without gaps: the
  // new part of this segment and any held bytes it made contiguous (where the two overlap, the
  // held, first-seen bytes are delivered). The views are valid only during the call; the sink
  // must not call back into this tracker.
  template <typename Sink>
  TrackResult accept(std::int64_t offset, std::span<const std::uint8_t> bytes, Sink&& deliver);

  // Writes the held (first-seen) bytes over the parts of `bytes` (stream offset `offset`) that
  // they overlap; true when any byte of `bytes` changed. Lets a caller forward a retransmission
  // that conflicts with held bytes carrying the bytes that were seen, and will be delivered, first.
  bool overlayHeld(std::int64_t offset, std::span<std::uint8_t> bytes) const;

  std::int64_t nextOffset() const { return nextOffset_; }
  std::size_t heldBytes() const { return heldBytes_; }
  bool hasHeld() const { return !held_.empty(); }
  // Number of separate held runs (adjacent held bytes are merged into one run).
  std::size_t heldRuns() const { return held_.size(); }
  // Highest offset + 1 of any held byte, or nextOffset() when nothing is held.
  std::int64_t highestOffset() const;

 private:
  // Out-of-order segment at `offset` > nextOffset(): stores the parts of [offset, offset+bytes)
  // not already held (within the limits), compares the parts that are.
  void hold(std::int64_t offset, std::string_view bytes, TrackResult& result);
  // Copies `piece` (stream offset `at`, not held yet) into the run map, merging it with a run
  // that ends at `at` and with `next` when `next` starts right after it. `next` is the first run
  // starting after `at`. Returns the run that now holds `at`.
  std::map<std::int64_t, std::string>::iterator storeRun(std::int64_t at, std::string_view piece,
                                                         std::map<std::int64_t, std::string>::iterator next);
  // In-order segment with held data present: delivers [nextOffset(), end) and every held run
  // that becomes contiguous, in stream order; held bytes win where they overlap the segment.
  template <typename Sink>
  void deliverAroundHeld(std::int64_t offset, std::string_view bytes, Sink&& deliver, TrackResult& result);
  // Delivers held runs that start at or before nextOffset() (they became contiguous).
  template <typename Sink>
  void drainHeld(Sink&& deliver, TrackResult& result);

  std::size_t maxOutOfOrderBytes_;
  std::int64_t nextOffset_ = 0;
  std::size_t heldBytes_ = 0;
  // Non-overlapping, non-adjacent runs keyed by start offset; every run starts after
  // nextOffset_ between calls.
  std::map<std::int64_t, std::string> held_;
};

}  // namespace ftpalg

#include "ftpalg/tcp/segment_tracker_impl.hpp"
