#include "ftpalg/tcp/segment_tracker.hpp"

#include <algorithm>

namespace ftpalg {

void SegmentTracker::reset(std::int64_t nextOffset) {
  nextOffset_ = nextOffset;
  held_.clear();
  heldBytes_ = 0;
}

std::int64_t SegmentTracker::highestOffset() const {
  if (held_.empty()) return nextOffset_;
  const auto& last = *held_.rbegin();
  return std::max(nextOffset_, last.first + static_cast<std::int64_t>(last.second.size()));
}

// Walks [offset, offset + bytes.size()) against the held segments: gaps are stored (copied),
// overlaps are compared byte by byte (first-seen bytes win; a difference is a conflict).
void SegmentTracker::hold(std::int64_t offset, std::string_view bytes, TrackResult& result,
                          bool enforceLimit) {
  const std::int64_t end = offset + static_cast<std::int64_t>(bytes.size());
  std::int64_t pos = offset;
  const auto compare = [&](std::int64_t heldStart, const std::string& heldBytes, std::int64_t from,
                           std::int64_t to) {
    for (std::int64_t i = from; i < to; ++i) {
      if (heldBytes[static_cast<std::size_t>(i - heldStart)] !=
          bytes[static_cast<std::size_t>(i - offset)]) {
        result.conflict = true;
        return;
      }
    }
  };
  // A held segment starting before pos may cover it.
  auto next = held_.upper_bound(pos);
  if (next != held_.begin()) {
    const auto previous = std::prev(next);
    const std::int64_t previousEnd = previous->first + static_cast<std::int64_t>(previous->second.size());
    if (previousEnd > pos) {
      const std::int64_t overlapEnd = std::min(end, previousEnd);
      compare(previous->first, previous->second, pos, overlapEnd);
      pos = overlapEnd;
    }
  }
  while (pos < end) {
    next = held_.lower_bound(pos);
    const std::int64_t gapEnd = next == held_.end() ? end : std::min(end, next->first);
    if (gapEnd > pos) {
      const auto length = static_cast<std::size_t>(gapEnd - pos);
      if (enforceLimit && heldBytes_ + length > maxOutOfOrderBytes_) {
        result.overLimit = true;
        return;
      }
      held_.emplace(pos, std::string(bytes.substr(static_cast<std::size_t>(pos - offset), length)));
      heldBytes_ += length;
      pos = gapEnd;
    }
    if (next != held_.end() && next->first < end && next->first <= pos) {
      const std::int64_t nextEnd = next->first + static_cast<std::int64_t>(next->second.size());
      const std::int64_t overlapEnd = std::min(end, nextEnd);
      compare(next->first, next->second, pos, overlapEnd);
      pos = overlapEnd;
    }
  }
}

}  // namespace ftpalg
