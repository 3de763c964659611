// KernelSequencer: how the engine emits the packets of a kernel-owned flow
// (FlowContext::sequenceOwner == Kernel, docs/design.md#conntrack-owned-mode). Conntrack, not the
// engine, translates seq, ACK and SACK (nf_ct_seq_adjust); the engine rewrites payload only and
// reports each length change as an AdjustKernelSequence action (kernel_session.hpp has the
// record's exact meaning).
//
// Sequence spaces of a queued packet of such a flow: seq is in its sender's raw (original) space,
// ACK and SACK in the peer's output space (the peer received the adjusted stream); the kernel
// adjusts both after the verdict. Pure ACKs are not queued: the engine learns acknowledgements
// only from the ACK field of payload-carrying packets of the other direction.
//
// Rules (one correction point per direction in the kernel):
//   - The correction position of an edit is the raw seq of the emitted segment that carries the
//     edit's first byte (the transform puts the whole replacement there); offsetBefore is the
//     direction's cumulative delta before that segment, offsetAfter after it (including every
//     edit the segment carries). A segment that starts strictly inside an already emitted edit
//     span is emitted from the span's end (its seq advanced in the raw space, so the kernel places
//     it after the correction point); bytes below the edit log's prune floor (acknowledged) are
//     stripped the same way.
//   - A new correction point is written only while the previous one's edits are acknowledged
//     (the ACK seen in the other direction covers the last reported edit), or when the new
//     segment starts at or before the previous edit (a collapsed retransmission carrying both:
//     the new record covers both). Otherwise the segment is dropped (the sender retransmits it;
//     packets_dropped, anomaly edit_unacknowledged). A segment lying after an edit whose own
//     segment has not been emitted yet is dropped too (edit_segment_pending).
//   - A retransmission of an edited segment gets the identical rewrite (from the edit log) and no
//     new action: the kernel's record stands.
//   - A connection taken over from a previous instance (Engine::adopt) starts from the kernel's
//     records: the previous cumulative offset is added to every new record, and ACKs are taken
//     back by it before they are compared with the engine's own offsets.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/engine/effects.hpp"
#include "ftpalg/engine/engine_config.hpp"
#include "ftpalg/engine/kernel_session.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg {

struct Session;

// The engine's knowledge of one direction's kernel record.
struct KernelDirection {
  SeqAdjRecord record;  // what conntrack holds (adopted, or the last one written)
  // Cumulative offset of the record the connection was adopted with (0 for a session seen from
  // its handshake): the output space is the raw space shifted by it before the engine's first
  // edit, so every new record adds it.
  std::int32_t adoptedOffset = 0;
  // Original offsets (this direction's stream, relative to the base the engine uses):
  std::int64_t reportedEnd = 0;        // every length-changing edit starting before it is reported
  std::int64_t recordFirstEdit = -1;   // first length-changing edit under the current record (-1: none)
  std::int64_t recordLastEditEnd = 0;  // end of the last length-changing edit under it
  std::int64_t ackedTo = 0;            // highest offset the receiver acknowledged (seen so far)
  bool synced = true;                  // adopted: false until the first line start was found
  bool acknowledged() const { return recordFirstEdit < 0 || ackedTo >= recordLastEditEnd; }
};

struct KernelSession {
  bool owned = false;           // FlowContext::sequenceOwner == Kernel
  bool seqAdjust = false;       // FlowContext::kernelSeqAdjust
  bool adopted = false;         // taken over (Engine::adopt) with a verified dialog
  bool verifiedMarked = false;  // MarkDialogVerified emitted (or known from the takeover)
  KernelDirection dirs[2];
  KernelDirection& dir(Direction d) { return dirs[static_cast<int>(d)]; }
  const KernelDirection& dir(Direction d) const { return dirs[static_cast<int>(d)]; }
};

class KernelSequencer {
 public:
  explicit KernelSequencer(AckSpace ackSpace) : ackSpace_(ackSpace) {}

  // Emits (accepts, rewrites or drops) one decided packet of a kernel-owned session; the packet's
  // payload is at original offset `offset`. Emits the AdjustKernelSequence action of a new
  // correction point before the verdict.
  void emit(Session& session, Direction dir, PacketId id, const PacketView& packet, std::int64_t offset,
            Effects& effects);

  // MarkDialogVerified once the control channel has seen the 220 greeting (once per session).
  static void noteDialog(Session& session, Effects& effects);

  // A taken-over connection's direction before its first line start: true when the packet was
  // handled (passed unread, no line start in it yet); false when the direction is (now) in step
  // and the packet goes through the normal path. Sets the direction's sequence base so that
  // offset 0 is the packet's first byte when it looks like the start of a command (client) or
  // reply (server), else the byte after its first LF.
  static bool resync(Session& session, Direction dir, PacketId id, const PacketView& packet,
                     Effects& effects);

  // Offsets of the takeover's records (Engine::adopt).
  static void adopt(Session& session, const KernelTakeover& takeover);

 private:
  // The ACK of a packet of `dir` acknowledges the other direction's stream: records it and
  // prunes that direction's edit log.
  void noteAck(Session& session, Direction dir, const PacketView& packet);

  AckSpace ackSpace_;
  std::vector<std::uint8_t> scratch_;
};

}  // namespace ftpalg
