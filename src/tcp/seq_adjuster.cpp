// SeqAdjuster: see the header for the two sequence spaces ("original": what the sender sent;
// "output": what the receiver sees). Every offset is a 64-bit stream offset relative to the
// direction's ISN + 1 (RFC 793 §3.3); SeqUnwrapper converts to and from 32-bit numbers.
//
// The mapping, precisely. An edit e replaces the original span [e.offset, e.originalEnd()) by
// e.replacement (either may be empty: a pure insertion has an empty span). Call e "passed at x"
// when e.originalEnd() <= x and e.offset < x: the whole span and the position where the
// replacement goes lie before x. Then, for an original offset x:
//   toOutput(x) = x + baseDelta_ + sum(delta(e) for every edit e passed at x)
// except when x lies strictly inside an edit's span (e.offset < x < e.originalEnd()):
//   toOutput(x) = e.offset + (baseDelta_ + deltas of the edits before e) + e.replacement.size()
// i.e. the end of e's replacement. So the span start maps to the start of the replacement and
// every later offset of the span to its end, and a pure insertion at x is emitted with the byte
// at x (toOutput(x) is where the inserted text begins). For edits with a non-empty span "passed
// at x" is just originalEnd() <= x; the "e.offset < x" half only matters for insertions, and it
// keeps toOutput consistent with transform(): a range [a, b) carries exactly the replacements of
// the edits starting in it, so toOutput(a) + transformed size == toOutput(b).
//
// toOriginal(y), y an output offset (an ACK or SACK edge): let e be the first edit whose
// replacement does not end at or before y. If e's replacement starts before y (y strictly
// inside it), the answer is e.offset (the edit is acknowledged only as a whole); otherwise it is
// y - (baseDelta_ + deltas of the edits before e). Both maps are monotone non-decreasing and
// toOriginal(toOutput(x)) == x for every x not strictly inside a span.
//
// Edits are sorted by offset and do not overlap, so offsets, original ends and output ends are
// all non-decreasing in the index: every lookup is a binary search (O(log n)).
#include "ftpalg/tcp/seq_adjuster.hpp"

#include <algorithm>
#include <cassert>

namespace ftpalg {

namespace {

// The edit lies wholly before original offset x (see "passed at x" above).
bool passedAt(const StreamEdit& edit, std::int64_t x) { return edit.originalEnd() <= x && edit.offset < x; }

}  // namespace

bool SeqAdjuster::addEdit(std::int64_t offset, std::string_view original, std::string replacement) {
  const bool inOrder = edits_.empty() || offset >= edits_.back().originalEnd();
  const bool afterFloor = offset >= pruneFloor_;
  assert(inOrder && afterFloor);
  if (!inOrder || !afterFloor) return false;  // release: refuse rather than corrupt the log
  firstEditOffset_ = std::min(firstEditOffset_, offset);
  StreamEdit edit{offset, std::string(original), std::move(replacement)};
  cumulativeDelta_.push_back(totalDelta() + edit.delta());
  edits_.push_back(std::move(edit));
  return true;
}

std::int64_t SeqAdjuster::totalDelta() const {
  return cumulativeDelta_.empty() ? baseDelta_ : cumulativeDelta_.back();
}

std::int64_t SeqAdjuster::deltaBefore(std::size_t index) const {
  return index == 0 ? baseDelta_ : cumulativeDelta_[index - 1];
}

std::size_t SeqAdjuster::firstNotPassed(std::int64_t x) const {
  const auto it =
      std::partition_point(edits_.begin(), edits_.end(), [x](const StreamEdit& e) { return passedAt(e, x); });
  return static_cast<std::size_t>(it - edits_.begin());
}

std::int64_t SeqAdjuster::toOutput(std::int64_t x) const {
  if (x <= firstEditOffset_) return x;
  if (x < pruneFloor_) {
    // Before the floor the pruned edits are gone: estimate within the exact bounds.
    return std::clamp(x + baseDelta_, firstEditOffset_, pruneFloor_ + baseDelta_);
  }
  const std::size_t index = firstNotPassed(x);
  const std::int64_t delta = deltaBefore(index);
  if (index < edits_.size() && edits_[index].offset < x) {
    // Strictly inside the span (not passed, yet it starts before x): end of the replacement.
    const StreamEdit& edit = edits_[index];
    return edit.offset + delta + static_cast<std::int64_t>(edit.replacement.size());
  }
  return x + delta;
}

std::int64_t SeqAdjuster::toOriginal(std::int64_t y) const {
  if (y < firstEditOffset_) return y;
  if (y < pruneFloor_ + baseDelta_) {
    // A stale ACK below the pruned range (a reordered or held old packet): estimate within the
    // exact bounds, never before the first edit (identity there) nor past the floor (acked).
    return std::clamp(y - baseDelta_, firstEditOffset_, pruneFloor_);
  }
  // Number of edits whose replacement ends at or before y in the output space.
  std::size_t lo = 0;
  std::size_t hi = edits_.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::int64_t outputEnd =
        edits_[mid].offset + deltaBefore(mid) + static_cast<std::int64_t>(edits_[mid].replacement.size());
    if (outputEnd <= y) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const std::int64_t delta = deltaBefore(lo);
  if (lo < edits_.size() && edits_[lo].offset + delta < y) {
    return edits_[lo].offset;  // strictly inside a replacement: the edit is not acknowledged yet
  }
  return y - delta;
}

bool SeqAdjuster::touches(std::int64_t a, std::int64_t b) const {
  // The first edit not passed at a either contains a strictly inside its span or starts at or
  // after a; it intersects [a, b) when it starts before b.
  const std::size_t index = firstNotPassed(a);
  return index < edits_.size() && edits_[index].offset < b;
}

std::size_t SeqAdjuster::transform(std::int64_t a, std::span<const std::uint8_t> payload,
                                   std::size_t maxOutput, std::vector<std::uint8_t>& out) const {
  const std::int64_t end = a + static_cast<std::int64_t>(payload.size());
  std::int64_t pos = a;  // original offset of the next payload byte to consider
  std::size_t produced = 0;
  std::size_t index = firstNotPassed(a);
  // The range starts strictly inside an edit's span: the replacement went out with the segment
  // holding the span's first byte; skip the rest of the span.
  if (index < edits_.size() && edits_[index].offset < a) {
    pos = std::min(edits_[index].originalEnd(), end);
    ++index;
  }
  // Copies original bytes [pos, to) as far as maxOutput allows; false when it had to stop early.
  const auto copyOriginal = [&](std::int64_t to) -> bool {
    const auto wanted = static_cast<std::size_t>(to - pos);
    const std::size_t n = std::min(wanted, maxOutput - produced);
    const auto* from = payload.data() + (pos - a);
    out.insert(out.end(), from, from + n);
    produced += n;
    pos += static_cast<std::int64_t>(n);
    return n == wanted;
  };
  while (pos < end) {
    if (index >= edits_.size() || edits_[index].offset >= end) {
      copyOriginal(end);
      break;
    }
    const StreamEdit& edit = edits_[index];
    if (!copyOriginal(edit.offset)) break;
    if (edit.replacement.size() > maxOutput - produced) break;  // never split a replacement
    out.insert(out.end(), edit.replacement.begin(), edit.replacement.end());
    produced += edit.replacement.size();
    // A span reaching past the range end is skipped as a whole: its replacement is out.
    pos = std::min(edit.originalEnd(), end);
    ++index;
  }
  return static_cast<std::size_t>(pos - a);
}

void SeqAdjuster::prune(std::int64_t ackedOriginal) {
  const std::size_t count = firstNotPassed(ackedOriginal);
  if (count == 0) return;
  const StreamEdit& last = edits_[count - 1];
  baseDelta_ = cumulativeDelta_[count - 1];
  // The first offset at which every pruned edit is passed: the end of the last pruned span, or
  // one past a pruned insertion (offsets from here on map exactly as before pruning).
  pruneFloor_ = std::max({pruneFloor_, last.originalEnd(), last.offset + 1});
  edits_.erase(edits_.begin(), edits_.begin() + static_cast<std::ptrdiff_t>(count));
  cumulativeDelta_.erase(cumulativeDelta_.begin(),
                         cumulativeDelta_.begin() + static_cast<std::ptrdiff_t>(count));
}

}  // namespace ftpalg
