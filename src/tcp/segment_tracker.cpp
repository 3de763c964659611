// SegmentTracker: non-template members. Offsets are 64-bit stream offsets in the sender's
// original sequence space (segment_tracker.hpp).
#include "ftpalg/tcp/segment_tracker.hpp"

#include <algorithm>
#include <iterator>

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

bool SegmentTracker::overlayHeld(std::int64_t offset, std::span<std::uint8_t> bytes) const {
  const std::int64_t end = offset + static_cast<std::int64_t>(bytes.size());
  // First run that ends after offset.
  auto run = held_.upper_bound(offset);
  if (run != held_.begin()) {
    const auto previous = std::prev(run);
    if (previous->first + static_cast<std::int64_t>(previous->second.size()) > offset) run = previous;
  }
  bool changed = false;
  for (; run != held_.end() && run->first < end; ++run) {
    const std::int64_t from = std::max(offset, run->first);
    const std::int64_t to = std::min(end, run->first + static_cast<std::int64_t>(run->second.size()));
    for (std::int64_t at = from; at < to; ++at) {
      const auto seen = static_cast<std::uint8_t>(run->second[static_cast<std::size_t>(at - run->first)]);
      std::uint8_t& byte = bytes[static_cast<std::size_t>(at - offset)];
      changed = changed || byte != seen;
      byte = seen;
    }
  }
  return changed;
}

std::map<std::int64_t, std::string>::iterator SegmentTracker::storeRun(
    std::int64_t at, std::string_view piece, std::map<std::int64_t, std::string>::iterator next) {
  auto target = held_.end();
  if (next != held_.begin()) {
    const auto previous = std::prev(next);
    if (previous->first + static_cast<std::int64_t>(previous->second.size()) == at) {
      previous->second.append(piece);
      target = previous;
    }
  }
  if (target == held_.end()) target = held_.emplace_hint(next, at, std::string(piece));
  if (next != held_.end() && next->first == at + static_cast<std::int64_t>(piece.size())) {
    target->second.append(next->second);
    held_.erase(next);
  }
  return target;
}

// Walks [offset, end) against the held runs in stream order: a part covered by a run is
// compared byte by byte (first-seen bytes win; a difference is a conflict), a gap is stored
// (copied) as far as the limits allow: within maxOutOfOrderBytes, and only when it does not
// make a new run beyond kMaxHeldRuns (a gap that joins an existing run is still stored).
// Refused bytes set overLimit; later overlaps are still compared.
void SegmentTracker::hold(std::int64_t offset, std::string_view segment, TrackResult& result) {
  const std::int64_t end = offset + static_cast<std::int64_t>(segment.size());
  bool anyNewByte = false;
  // First run that ends after offset.
  auto run = held_.upper_bound(offset);
  if (run != held_.begin()) {
    const auto previous = std::prev(run);
    if (previous->first + static_cast<std::int64_t>(previous->second.size()) > offset) run = previous;
  }
  std::int64_t pos = offset;
  while (pos < end) {
    if (run != held_.end() && run->first <= pos) {
      const std::int64_t runEnd = run->first + static_cast<std::int64_t>(run->second.size());
      const std::int64_t overlapEnd = std::min(end, runEnd);
      if (segment_tracker_detail::differ(run->first, run->second, offset, segment, pos, overlapEnd)) {
        result.conflict = true;
      }
      pos = std::max(pos, overlapEnd);
      ++run;
      continue;
    }
    // [pos, gapEnd) is held nowhere; `run` is the first run after it (or end()).
    const std::int64_t gapEnd = run == held_.end() ? end : std::min(end, run->first);
    const auto gapLength = static_cast<std::size_t>(gapEnd - pos);
    anyNewByte = true;
    const std::size_t room = maxOutOfOrderBytes_ - std::min(maxOutOfOrderBytes_, heldBytes_);
    const std::size_t storable = std::min(gapLength, room);
    const bool joinsPrevious =
        run != held_.begin() &&
        std::prev(run)->first + static_cast<std::int64_t>(std::prev(run)->second.size()) == pos;
    const bool joinsNext = storable == gapLength && run != held_.end() && run->first == gapEnd;
    const bool runRefused = !joinsPrevious && !joinsNext && held_.size() >= kMaxHeldRuns;
    if (storable < gapLength || runRefused) result.overLimit = true;
    if (storable > 0 && !runRefused) {
      const auto target =
          storeRun(pos, segment.substr(static_cast<std::size_t>(pos - offset), storable), run);
      heldBytes_ += storable;
      // Merged with the following run: that run's bytes (now in target) are compared next.
      if (joinsNext) run = target;
    }
    pos = gapEnd;
  }
  result.duplicate = !anyNewByte;
}

}  // namespace ftpalg
