// SeqAdjuster: the edit log of one direction of a control connection, and the sequence-number
// translation it implies (the kernel's nf_nat_seq_adjust keeps one correction point; we keep all
// edits, [design.md](design.md#hook-placement)).
//
// Sequence spaces: "original" offsets are 64-bit stream offsets in the sender's space (what the
// sender sent, relative to ISN + 1); "output" offsets are the same stream after every edit was
// applied (what the receiver sees). Both spaces share the base (ISN + 1), so a 32-bit number
// converts with the direction's SeqUnwrapper in either space.
//  - seq of a packet sent in THIS direction: toOutput(original offset)
//  - ack / SACK edges of a packet in the OTHER direction (acknowledging this direction's data):
//    toOriginal(output offset)
//
// Edits are added in stream order and never overlap. A retransmission of an edited range is
// transformed again from the log and therefore gets the identical rewrite (span-only: every byte
// outside an edit's original span is copied unchanged).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ftpalg {

struct StreamEdit {
  std::int64_t offset = 0;  // original offset of the first replaced byte
  std::string original;     // the replaced bytes (for conflict checks and logs)
  std::string replacement;  // what the receiver gets instead
  std::int64_t originalEnd() const { return offset + static_cast<std::int64_t>(original.size()); }
  std::int64_t delta() const {
    return static_cast<std::int64_t>(replacement.size()) - static_cast<std::int64_t>(original.size());
  }
};

class SeqAdjuster {
 public:
  // Records that original bytes [offset, offset + original.size()) reach the receiver as
  // `replacement`. Either may be empty (an empty `original` is a pure insertion before the byte
  // at offset). Precondition: offset >= end of the last edit, and offset >= pruneFloor(); an
  // edit breaking it is refused (false; an assert in debug builds) and the log is unchanged.
  bool addEdit(std::int64_t offset, std::string_view original, std::string replacement);

  // Output offset of original offset x: x plus the deltas of every edit wholly before x (span
  // ended at or before x, and started before x). An edit's span start maps to the start of its
  // replacement; x strictly inside an edit's original span maps to the end of its replacement.
  // A pure insertion at x goes out with the byte at x: toOutput(x) is where the insertion starts.
  // Monotone. The exact definition is in seq_adjuster.cpp.
  std::int64_t toOutput(std::int64_t x) const;
  // Original offset for an output offset y (ACK/SACK): y strictly inside a replacement maps to
  // the start of that edit's original span (the edit is not acknowledged until wholly
  // acknowledged); y at or after a replacement's end maps past the original span. Monotone.
  std::int64_t toOriginal(std::int64_t y) const;

  // Output payload for the original range [a, a + payload.size()): `payload` with every edit span
  // inside it replaced. A range starting inside an edit span skips the rest of that span; a range
  // ending inside an edit span still carries the whole replacement (it starts in this range).
  // Appends at most maxOutput bytes to `out` (unless the payload's own length already exceeds
  // it: then the caller passes maxOutput >= payload.size()). Trimming cuts only between bytes of
  // the original or right before an edit: a replacement is emitted whole or not at all. Returns
  // the number of ORIGINAL bytes consumed (payload.size() unless trimmed); the sender
  // retransmits the rest, since the mapped ACK will not cover it.
  std::size_t transform(std::int64_t a, std::span<const std::uint8_t> payload, std::size_t maxOutput,
                        std::vector<std::uint8_t>& out) const;

  // True when an edit intersects [a, b) (the range needs transform()).
  bool touches(std::int64_t a, std::int64_t b) const;

  // The receiver acknowledged every output byte before toOutput(ackedOriginal): edits wholly
  // before ackedOriginal (span ends at or before it and starts before it) are folded into a
  // base delta and forgotten. pruneFloor() becomes the first offset at which every pruned edit
  // is wholly behind (the last pruned span's end; one past a pruned insertion), never beyond
  // ackedOriginal; toOutput/toOriginal/transform are unchanged for offsets >= pruneFloor().
  // Data from before pruneFloor() can no longer be transformed exactly; the engine strips such
  // bytes from retransmissions (they are acknowledged already). Offsets before the first edit
  // ever added still map exactly (identity); between it and the floor, toOutput/toOriginal give a
  // bound-respecting estimate: within [first edit offset, floor] of the space mapped to, so a
  // stale ACK (a reordered or held old packet) never acknowledges bytes before the stream start
  // or beyond what was acknowledged already.
  void prune(std::int64_t ackedOriginal);
  std::int64_t pruneFloor() const { return pruneFloor_; }

  std::size_t editCount() const { return edits_.size(); }
  const std::vector<StreamEdit>& edits() const { return edits_; }
  std::int64_t totalDelta() const;

 private:
  // Sum of deltas of edits_[0, index) plus baseDelta_.
  std::int64_t deltaBefore(std::size_t index) const;
  // Number of leading edits wholly before original offset x (binary search).
  std::size_t firstNotPassed(std::int64_t x) const;

  std::int64_t baseDelta_ = 0;   // sum of deltas of pruned edits
  std::int64_t pruneFloor_ = 0;  // original offset: every pruned edit lies wholly before it
  // Original (= output) offset of the first edit ever added; offsets before it map to themselves.
  std::int64_t firstEditOffset_ = INT64_MAX;
  std::vector<StreamEdit> edits_;
  std::vector<std::int64_t>
      cumulativeDelta_;  // cumulativeDelta_[i] = baseDelta_ + sum(delta of edits_[0..i])
};

}  // namespace ftpalg
