// KernelSeqAdjModel: what conntrack does to a kernel-owned connection's packets after the verdict
// (nf_ct_seq_adjust and nf_ct_sack_adjust, net/netfilter/nf_conntrack_seqadj.c), for replay
// (`--seq-owner kernel`) and tests: one SeqAdjRecord per direction (kernel_session.hpp),
// replaced whole by each AdjustKernelSequence, applied to every packet of both directions, pure
// ACKs included. The engine never uses it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/engine/kernel_session.hpp"
#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg {

class KernelSeqAdjModel {
 public:
  // CTA_SEQ_ADJ_ORIG (ClientToServer) or CTA_SEQ_ADJ_REPLY (ServerToClient) replaced.
  void update(Direction dir, const SeqAdjRecord& record);
  void apply(const AdjustKernelSequence& action) { update(action.direction, action.record); }

  // A packet of `dir` as the kernel lets it leave: seq shifted by this direction's record
  // (offsetAfter when after(seq, correctionPosition), else offsetBefore), ACK and SACK edges taken
  // back by the other direction's record (offsetAfter when after(ack - offsetBefore,
  // correctionPosition), else offsetBefore). nullopt when nothing changes (no record written yet,
  // or all offsets zero); otherwise the whole rewritten IP packet (checksums recomputed).
  std::optional<std::vector<std::uint8_t>> adjust(const PacketView& packet, Direction dir) const;
  // The seq part only (replay: a capture's ACKs are in the original space, which the peers saw).
  std::optional<std::vector<std::uint8_t>> adjustSequence(const PacketView& packet, Direction dir) const;
  // The kernel's seq for a segment of a direction with `record` (nf_ct_seq_adjust).
  static SeqNum adjustedSeq(SeqNum seq, const SeqAdjRecord& record);

  const SeqAdjRecord& record(Direction dir) const { return records_[static_cast<int>(dir)]; }
  bool active() const { return active_; }  // IPS_SEQ_ADJUST: some record was written

 private:
  SeqAdjRecord records_[2];
  bool active_ = false;
};

}  // namespace ftpalg
