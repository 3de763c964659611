// SeqAdjuster: see the header for the sequence spaces.
//
// Mapping of an original offset x (E = edits with originalEnd <= x, in stream order):
//   out(x) = x + baseDelta + sum(delta(e) for e in E)
// except when x lies strictly inside an edit's original span (offset < x < originalEnd): then
// out(x) = the output offset of that edit's replacement end. Edits are sorted and do not
// overlap, so originalEnd and the output ends are non-decreasing: every lookup is a binary search.
#include "ftpalg/tcp/seq_adjuster.hpp"

#include <algorithm>
#include <cassert>

namespace ftpalg {

void SeqAdjuster::addEdit(std::int64_t offset, std::string_view original, std::string replacement) {
  assert(edits_.empty() || offset >= edits_.back().originalEnd());
  assert(offset >= pruneFloor_);
  StreamEdit edit{offset, std::string(original), std::move(replacement)};
  const std::int64_t before = cumulativeDelta_.empty() ? baseDelta_ : cumulativeDelta_.back();
  cumulativeDelta_.push_back(before + edit.delta());
  edits_.push_back(std::move(edit));
}

std::int64_t SeqAdjuster::totalDelta() const {
  return cumulativeDelta_.empty() ? baseDelta_ : cumulativeDelta_.back();
}

namespace {

// Sum of deltas of edits [0, index).
inline std::int64_t deltaBefore(const std::vector<std::int64_t>& cumulative, std::int64_t base,
                                std::size_t index) {
  return index == 0 ? base : cumulative[index - 1];
}

}  // namespace

std::int64_t SeqAdjuster::toOutput(std::int64_t x) const {
  // Number of edits wholly at or before x.
  const auto firstAfter = std::partition_point(
      edits_.begin(), edits_.end(), [x](const StreamEdit& e) { return e.originalEnd() <= x; });
  const auto index = static_cast<std::size_t>(firstAfter - edits_.begin());
  const std::int64_t delta = deltaBefore(cumulativeDelta_, baseDelta_, index);
  if (firstAfter != edits_.end() && firstAfter->offset < x) {
    return firstAfter->offset + delta + static_cast<std::int64_t>(firstAfter->replacement.size());
  }
  return x + delta;
}

std::int64_t SeqAdjuster::toOriginal(std::int64_t y) const {
  // Number of edits whose replacement ends at or before y in the output space.
  std::size_t lo = 0;
  std::size_t hi = edits_.size();
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    const std::int64_t outEnd = edits_[mid].offset + deltaBefore(cumulativeDelta_, baseDelta_, mid) +
                                static_cast<std::int64_t>(edits_[mid].replacement.size());
    if (outEnd <= y) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const std::int64_t delta = deltaBefore(cumulativeDelta_, baseDelta_, lo);
  if (lo < edits_.size()) {
    const std::int64_t outStart = edits_[lo].offset + delta;
    if (outStart < y) return edits_[lo].offset;  // inside a replacement: not acknowledged yet
  }
  return y - delta;
}

// Index of the first edit that matters for a range starting at a: the first edit that either
// starts at or after a, or whose original span contains a.
static std::size_t firstRelevant(const std::vector<StreamEdit>& edits, std::int64_t a) {
  const auto it = std::partition_point(edits.begin(), edits.end(), [a](const StreamEdit& e) {
    return e.originalEnd() <= a && e.offset < a;
  });
  return static_cast<std::size_t>(it - edits.begin());
}

bool SeqAdjuster::touches(std::int64_t a, std::int64_t b) const {
  const std::size_t i = firstRelevant(edits_, a);
  return i < edits_.size() && edits_[i].offset < b;
}

std::size_t SeqAdjuster::transform(std::int64_t a, std::span<const std::uint8_t> payload,
                                   std::size_t maxOutput, std::vector<std::uint8_t>& out) const {
  const std::int64_t end = a + static_cast<std::int64_t>(payload.size());
  std::int64_t pos = a;
  std::size_t produced = 0;
  std::size_t i = firstRelevant(edits_, a);
  // The range starts inside an edit's original span: its replacement went out with the packet
  // holding the edit's first byte; skip the rest of the span.
  if (i < edits_.size() && edits_[i].offset < a) {
    pos = std::min(edits_[i].originalEnd(), end);
    ++i;
  }
  const auto copyOriginal = [&](std::int64_t to) -> bool {
    const auto wanted = static_cast<std::size_t>(to - pos);
    const std::size_t room = maxOutput - produced;
    const std::size_t n = std::min(wanted, room);
    const auto* from = payload.data() + (pos - a);
    out.insert(out.end(), from, from + n);
    produced += n;
    pos += static_cast<std::int64_t>(n);
    return n == wanted;
  };
  while (pos < end) {
    const std::int64_t editStart = i < edits_.size() ? edits_[i].offset : end;
    if (editStart >= end) {
      copyOriginal(end);
      break;
    }
    if (!copyOriginal(editStart)) break;
    const std::string& replacement = edits_[i].replacement;
    if (produced + replacement.size() > maxOutput) break;  // never split a replacement
    out.insert(out.end(), replacement.begin(), replacement.end());
    produced += replacement.size();
    pos = std::min(edits_[i].originalEnd(), end);
    ++i;
  }
  return static_cast<std::size_t>(pos - a);
}

void SeqAdjuster::prune(std::int64_t ackedOriginal) {
  std::size_t k = 0;
  while (k < edits_.size() && edits_[k].originalEnd() <= ackedOriginal && edits_[k].offset < ackedOriginal) ++k;
  if (k == 0) return;
  baseDelta_ = cumulativeDelta_[k - 1];
  pruneFloor_ = edits_[k - 1].originalEnd();
  edits_.erase(edits_.begin(), edits_.begin() + static_cast<std::ptrdiff_t>(k));
  cumulativeDelta_.erase(cumulativeDelta_.begin(), cumulativeDelta_.begin() + static_cast<std::ptrdiff_t>(k));
}

}  // namespace ftpalg
