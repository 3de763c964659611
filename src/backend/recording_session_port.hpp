// RecordingSessionPort: a KernelSessionPort that writes nothing to the kernel and only remembers
// what live mode would have written (docs/design.md#dry-run: dry-run is a set of ports, not a
// flag). `--dry-run` uses it in the conntrack-owned mode, replay always, and the engine-owned
// mode as the port its engine never calls.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::backend {

class RecordingSessionPort final : public KernelSessionPort {
 public:
  // Live mode would send the ctnetlink seqadj update; this records the record it would carry.
  Status<> adjustSequence(const AdjustKernelSequence& adjust) override;
  // Live mode would set the dialog-verified ct mark bit; this records the flow.
  Status<> markDialogVerified(const MarkDialogVerified& mark) override;

  // The last record written per (flow, direction): what conntrack would hold now.
  const std::map<std::pair<FlowKey, Direction>, SeqAdjRecord>& records() const { return records_; }
  const std::set<FlowKey>& verified() const { return verified_; }
  std::uint64_t adjustments() const { return adjustments_; }

 private:
  std::map<std::pair<FlowKey, Direction>, SeqAdjRecord> records_;
  std::set<FlowKey> verified_;
  std::uint64_t adjustments_ = 0;
};

}  // namespace ftpalg::backend
