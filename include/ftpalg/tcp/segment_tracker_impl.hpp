// Template members of SegmentTracker (included by segment_tracker.hpp). All offsets are 64-bit
// stream offsets in the sender's original sequence space (see segment_tracker.hpp).
#pragma once

#include <algorithm>

namespace ftpalg {

namespace segment_tracker_detail {

// True when the held run (starting at runStart) and the segment (starting at segmentStart)
// differ anywhere in the stream range [from, to), which both cover.
inline bool differ(std::int64_t runStart, std::string_view run, std::int64_t segmentStart,
                   std::string_view segment, std::int64_t from, std::int64_t to) {
  if (from >= to) return false;
  const auto length = static_cast<std::size_t>(to - from);
  return run.substr(static_cast<std::size_t>(from - runStart), length) !=
         segment.substr(static_cast<std::size_t>(from - segmentStart), length);
}

}  // namespace segment_tracker_detail

template <typename Sink>
TrackResult SegmentTracker::accept(std::int64_t offset, std::span<const std::uint8_t> bytes, Sink&& deliver) {
  TrackResult result;
  if (bytes.empty()) return result;
  const std::int64_t end = offset + static_cast<std::int64_t>(bytes.size());
  if (end <= nextOffset_) {
    // A retransmission of delivered bytes only (RFC 793 §3.9: "segment is not acceptable"
    // beyond its ACK; for reassembly it carries nothing new).
    result.duplicate = true;
    return result;
  }
  const std::string_view segment(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (offset <= nextOffset_) {
    if (held_.empty()) {
      // Fast path: in order, nothing held. No copy.
      const std::string_view fresh = segment.substr(static_cast<std::size_t>(nextOffset_ - offset));
      const std::int64_t at = nextOffset_;
      nextOffset_ = end;
      result.deliveredBytes = fresh.size();
      deliver(at, fresh);
      return result;
    }
    deliverAroundHeld(offset, segment, deliver, result);
    return result;
  }
  if (offset - nextOffset_ > kMaxAheadBytes) {
    result.overLimit = true;
    return result;
  }
  hold(offset, segment, result);
  return result;
}

template <typename Sink>
void SegmentTracker::deliverAroundHeld(std::int64_t offset, std::string_view segment, Sink&& deliver,
                                       TrackResult& result) {
  const std::int64_t end = offset + static_cast<std::int64_t>(segment.size());
  // Invariant: pos == nextOffset_, and offset <= pos (the segment covers pos while pos < end).
  while (nextOffset_ < end) {
    const std::int64_t pos = nextOffset_;
    const auto run = held_.begin();
    if (run != held_.end() && run->first <= pos) {
      // A held run covers pos: its first-seen bytes win; compare the overlap.
      const std::int64_t runEnd = run->first + static_cast<std::int64_t>(run->second.size());
      if (segment_tracker_detail::differ(run->first, run->second, offset, segment, pos,
                                         std::min(end, runEnd))) {
        result.conflict = true;
      }
      drainHeld(deliver, result);
      continue;
    }
    // The segment's own bytes up to the next held run (or its end).
    const std::int64_t gapEnd = run == held_.end() ? end : std::min(end, run->first);
    const std::string_view fresh =
        segment.substr(static_cast<std::size_t>(pos - offset), static_cast<std::size_t>(gapEnd - pos));
    nextOffset_ = gapEnd;
    result.deliveredBytes += fresh.size();
    deliver(pos, fresh);
  }
  // Runs starting exactly at the segment's end became contiguous too.
  drainHeld(deliver, result);
}

template <typename Sink>
void SegmentTracker::drainHeld(Sink&& deliver, TrackResult& result) {
  while (!held_.empty() && held_.begin()->first <= nextOffset_) {
    const auto run = held_.begin();
    const std::int64_t runEnd = run->first + static_cast<std::int64_t>(run->second.size());
    if (runEnd > nextOffset_) {
      const std::string_view fresh =
          std::string_view(run->second).substr(static_cast<std::size_t>(nextOffset_ - run->first));
      const std::int64_t at = nextOffset_;
      nextOffset_ = runEnd;
      result.deliveredBytes += fresh.size();
      deliver(at, fresh);
    }
    heldBytes_ -= run->second.size();
    held_.erase(run);
  }
}

}  // namespace ftpalg
