// KernelSeqAdjModel: see include/ftpalg/engine/kernel_seqadj_model.hpp.
#include "ftpalg/engine/kernel_seqadj_model.hpp"

#include "ftpalg/packet/packet_rewriter.hpp"

namespace ftpalg {

namespace {

// The offset the kernel subtracts from a peer's ACK or SACK edge (nf_ct_seq_adjust,
// nf_ct_sack_block_adjust): the comparison takes offsetBefore off first.
std::int32_t peerOffset(const SeqAdjRecord& record, SeqNum edge) {
  const SeqNum shifted = edge - static_cast<std::uint32_t>(record.offsetBefore);
  return shifted.after(SeqNum(record.correctionPosition)) ? record.offsetAfter : record.offsetBefore;
}

}  // namespace

void KernelSeqAdjModel::update(Direction dir, const SeqAdjRecord& record) {
  records_[static_cast<int>(dir)] = record;
  active_ = true;
}

SeqNum KernelSeqAdjModel::adjustedSeq(SeqNum seq, const SeqAdjRecord& record) {
  const std::int32_t offset =
      seq.after(SeqNum(record.correctionPosition)) ? record.offsetAfter : record.offsetBefore;
  return seq + static_cast<std::uint32_t>(offset);
}

std::optional<std::vector<std::uint8_t>> KernelSeqAdjModel::adjustSequence(const PacketView& packet,
                                                                           Direction dir) const {
  if (!active_) return std::nullopt;
  const SeqNum seq = adjustedSeq(packet.seq(), records_[static_cast<int>(dir)]);
  if (seq == packet.seq()) return std::nullopt;
  PacketEdit edit;
  edit.seq = seq;
  std::vector<std::uint8_t> bytes = rewritePacket(packet, edit);
  if (bytes.empty()) return std::nullopt;
  return bytes;
}

std::optional<std::vector<std::uint8_t>> KernelSeqAdjModel::adjust(const PacketView& packet,
                                                                   Direction dir) const {
  if (!active_) return std::nullopt;
  const SeqAdjRecord& mine = records_[static_cast<int>(dir)];
  const SeqAdjRecord& peer = records_[static_cast<int>(opposite(dir))];
  PacketEdit edit;
  bool changed = false;
  if (const SeqNum seq = adjustedSeq(packet.seq(), mine); seq != packet.seq()) {
    edit.seq = seq;
    changed = true;
  }
  if (packet.hasFlag(tcp_flags::kAck)) {
    const std::int32_t ackOffset = peerOffset(peer, packet.ack());
    if (ackOffset != 0) {
      edit.ack = packet.ack() - static_cast<std::uint32_t>(ackOffset);
      changed = true;
    }
  }
  SackBlock sack[4];
  const auto& options = packet.options();
  bool sackChanged = false;
  for (std::uint8_t i = 0; i < options.sackBlockCount && i < 4; ++i) {
    const SackBlock& block = options.sackBlocks[i];
    sack[i].left = block.left - static_cast<std::uint32_t>(peerOffset(peer, block.left));
    sack[i].right = block.right - static_cast<std::uint32_t>(peerOffset(peer, block.right));
    sackChanged = sackChanged || sack[i].left != block.left || sack[i].right != block.right;
  }
  if (sackChanged) {
    edit.sackBlocks = std::span<const SackBlock>(sack, options.sackBlockCount);
    changed = true;
  }
  if (!changed) return std::nullopt;
  std::vector<std::uint8_t> bytes = rewritePacket(packet, edit);
  if (bytes.empty()) return std::nullopt;
  return bytes;
}

}  // namespace ftpalg
