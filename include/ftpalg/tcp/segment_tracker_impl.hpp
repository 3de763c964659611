// Template members of SegmentTracker (included by segment_tracker.hpp).
#pragma once

#include <algorithm>

namespace ftpalg {

template <typename Sink>
TrackResult SegmentTracker::accept(std::int64_t offset, std::span<const std::uint8_t> bytes,
                                   Sink&& deliver) {
  TrackResult result;
  if (bytes.empty()) return result;
  const std::int64_t end = offset + static_cast<std::int64_t>(bytes.size());
  if (end <= nextOffset_) {
    result.duplicate = true;
    return result;
  }
  const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (offset <= nextOffset_) {
    const std::string_view fresh = all.substr(static_cast<std::size_t>(nextOffset_ - offset));
    if (held_.empty()) {
      // Fast path: in order, nothing held. No copy.
      const std::int64_t at = nextOffset_;
      nextOffset_ = end;
      result.deliveredBytes = fresh.size();
      deliver(at, fresh);
      return result;
    }
    // In order, but held data may overlap: store the new bytes around what is held (first-seen
    // bytes win), then deliver everything contiguous.
    hold(nextOffset_, fresh, result, /*enforceLimit=*/false);
    drainHeld(deliver, result);
    return result;
  }
  if (offset - nextOffset_ > kMaxAheadBytes) {
    result.overLimit = true;
    return result;
  }
  const std::size_t before = heldBytes_;
  hold(offset, all, result, /*enforceLimit=*/true);
  if (heldBytes_ == before && !result.overLimit) result.duplicate = true;
  return result;
}

template <typename Sink>
void SegmentTracker::drainHeld(Sink&& deliver, TrackResult& result) {
  while (!held_.empty() && held_.begin()->first <= nextOffset_) {
    auto first = held_.begin();
    const std::int64_t start = first->first;
    const std::string& data = first->second;
    const std::int64_t segmentEnd = start + static_cast<std::int64_t>(data.size());
    if (segmentEnd > nextOffset_) {
      const std::string_view fresh =
          std::string_view(data).substr(static_cast<std::size_t>(nextOffset_ - start));
      const std::int64_t at = nextOffset_;
      nextOffset_ = segmentEnd;
      result.deliveredBytes += fresh.size();
      deliver(at, fresh);
    }
    heldBytes_ -= data.size();
    held_.erase(first);
  }
}

}  // namespace ftpalg
