// PacketEmitter: the verdicts of a session's packets (docs/architecture.md, steps 9-10).
//
// Holding: a packet whose bytes reach past its direction's decided frontier
// (stream_inspector.hpp) is held (verdict postponed, a copy kept) and released, in arrival order,
// once its bytes are decided; the hold limits (Limits::maxHeldPackets, maxHeldBytes) stop
// inspection and release everything instead.
//
// Emitting builds one packet's verdict in two steps:
//   1. payload: bytes the receiver already acknowledged (before the edit log's prune floor) are
//      stripped, then the payload goes through the direction's edit log (SeqAdjuster::transform),
//      cut where it would grow past the receiver's MSS less the packet's own options, or past the
//      largest packet its sender has sent (docs/decisions/0002-mss-growth.md);
//   2. sequence translation (translateSequenceNumbers, the one place that changes TCP sequence
//      numbers): seq from the packet's own original space into its output space, ACK and SACK
//      edges from the other direction's output space back into its original space (live), or
//      left as they are when the peers never saw a rewrite (replay, AckSpace::Original).
// PacketRewriter then fixes lengths and checksums (carrying each checksum over for exactly the
// bytes that changed, so a corrupt packet stays corrupt: packet_rewriter.hpp). A kernel-owned flow
// (conntrack translates its sequence numbers) is emitted by the KernelSequencer instead
// (kernel_sequencer.hpp).
//
// A packet whose checksums fail (the conductor checks them before anything else) is emitted by
// emitCorrupt: untouched but for its sequence translation (none for a kernel-owned flow),
// changing no state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/engine/effects.hpp"
#include "ftpalg/engine/engine_config.hpp"
#include "ftpalg/engine/kernel_sequencer.hpp"
#include "ftpalg/engine/session.hpp"
#include "ftpalg/packet/packet_rewriter.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg {

// The most payload `packet` (of `session`, sent in the direction `me`) may carry after a rewrite
// (docs/decisions/0002-mss-growth.md), for engine-owned and kernel-owned flows alike: never less
// than `bodySize` (what it carries now), otherwise no more than
//  - the receiver's MSS less the options the packet carries: RFC 6691 §2, the MSS counts neither
//    IP options (IPv6 extension headers) nor TCP options, and a sender sending them sends less;
//  - the payload that fits a packet as large as the largest one its sender has sent, or as the
//    size every path carries: the sender's path MTU may be below the MSS, and a grown packet with
//    DF set would then be dropped on every retransmission.
// Emits `packet`: as it came when `changed` is false, else with `edit` applied (the checksums
// recomputed for an offloaded one where `checksums` allows it); a rewrite that cannot be built
// passes the original and stops inspection (malformed_packet). Shared by both sequence owners.
void emitEdited(Session& session, Direction dir, PacketId id, const PacketView& packet, PacketEdit& edit,
                bool changed, ChecksumInput checksums, Effects& effects);

std::size_t segmentGrowthLimit(const Session& session, const DirectionState& me, const PacketView& packet,
                               std::size_t bodySize);

class PacketEmitter {
 public:
  PacketEmitter(const Limits& limits, AckSpace ackSpace, ChecksumInput checksums)
      : limits_(limits), ackSpace_(ackSpace), checksums_(checksums), kernel_(ackSpace, checksums) {}

  // A packet of `dir` (payload at original offset `offset`) after its bytes were inspected:
  // releases the held packets its bytes decided, then emits this packet, or holds it (a copy of
  // `bytes`, the buffer `packet` was parsed from) while its bytes reach past the frontier.
  // `payload` is what its payload is to be: packet.payload(), or the copy StreamInspector::inspect
  // returned with first-seen bytes in it (same length). `acceptedFin`: the packet is a FIN its
  // receiver will accept (tcp_window.hpp): even without payload it must not overtake the bytes
  // before it, so it waits while they are held. An RST is never held (the conductor closes the
  // session before an accepted one, releasing what it held); its payload passes as it is.
  void submit(Session& session, Direction dir, PacketId id, const PacketView& packet,
              std::span<const std::uint8_t> bytes, std::int64_t offset, std::span<const std::uint8_t> payload,
              bool acceptedFin, Effects& effects);

  // Releases, in arrival order, every held packet whose bytes are now decided (all of them
  // once the session is closed or no longer inspected).
  void releaseDecided(Session& session, Effects& effects);

  // A packet of `dir` whose checksums fail: its receiver will drop it, so it is neither inspected
  // nor held and changes no state (no sequence tracking, no pruning). It leaves with its payload
  // as it came and its seq, ACK and SACK edges mapped as for any packet of the session, the
  // checksum error kept (ChecksumUpdate::KeepError); unmodified when nothing maps differently.
  void emitCorrupt(const Session& session, Direction dir, PacketId id, const PacketView& packet,
                   Effects& effects) const;

 private:
  // Holds the packet; false (after stopping inspection and releasing what is held) when a hold
  // limit would be exceeded.
  bool hold(Session& session, Direction dir, PacketId id, std::int64_t offset, const PacketView& packet,
            std::span<const std::uint8_t> bytes, std::span<const std::uint8_t> payload, Effects& effects);
  void emit(Session& session, Direction dir, PacketId id, const PacketView& packet, std::int64_t offset,
            std::span<const std::uint8_t> payload, Effects& effects);
  // Maps seq, ACK and SACK edges of `packet` (see the file comment) into `edit`, with `sack` as
  // the storage of the new SACK edges; prunes the other direction's edit log up to what its
  // receiver acknowledged. `start` is the original offset of the first payload byte emitted and
  // `emitsPayload` whether any is. True when a number changes.
  bool translateSequenceNumbers(Session& session, Direction dir, const PacketView& packet, std::int64_t start,
                                bool emitsPayload, PacketEdit& edit, SackBlock (&sack)[4]);
  // The mapping itself, changing no state: seq from original offset `seqOffset` of `dir`, ACK
  // and SACK edges back into the other direction's original space (AckSpace::Output only).
  // True when a number changes; `ackOriginal` is set to the ACK's offset in the other
  // direction's original space when the packet acknowledges data of a known base.
  bool mapSequenceNumbers(const Session& session, Direction dir, const PacketView& packet,
                          std::int64_t seqOffset, PacketEdit& edit, SackBlock (&sack)[4],
                          std::optional<std::int64_t>& ackOriginal) const;

  const Limits& limits_;
  AckSpace ackSpace_;
  ChecksumInput checksums_;
  std::vector<std::uint8_t> scratchPayload_;  // reused: the transformed payload of one packet
  KernelSequencer kernel_;                    // kernel-owned flows
};

}  // namespace ftpalg
