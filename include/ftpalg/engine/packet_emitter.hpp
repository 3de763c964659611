// PacketEmitter: the verdicts of a session's packets (docs/architecture.md, steps 8-9).
//
// Holding: a packet whose bytes reach past its direction's decided frontier
// (stream_inspector.hpp) is held (verdict postponed, a copy kept) and released, in arrival order,
// once its bytes are decided; the hold limits (Limits::maxHeldPackets, maxHeldBytes) stop
// inspection and release everything instead.
//
// Emitting builds one packet's verdict in two steps:
//   1. payload: bytes the receiver already acknowledged (before the edit log's prune floor) are
//      stripped, then the payload goes through the direction's edit log (SeqAdjuster::transform),
//      cut where it would exceed the receiver's MSS;
//   2. sequence translation (translateSequenceNumbers, the one place that changes TCP sequence
//      numbers): seq from the packet's own original space into its output space, ACK and SACK
//      edges from the other direction's output space back into its original space (live), or
//      left as they are when the peers never saw a rewrite (replay, AckSpace::Original).
// PacketRewriter then fixes lengths and checksums. A kernel-owned flow (conntrack translates its
// sequence numbers) is emitted by the KernelSequencer instead (kernel_sequencer.hpp).
#pragma once

#include <cstdint>
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

class PacketEmitter {
 public:
  PacketEmitter(const Limits& limits, AckSpace ackSpace)
      : limits_(limits), ackSpace_(ackSpace), kernel_(ackSpace) {}

  // A packet of `dir` (payload at original offset `offset`) after its bytes were inspected:
  // releases the held packets its bytes decided, then emits this packet, or holds it (a copy of
  // `bytes`, the buffer `packet` was parsed from) while its bytes reach past the frontier.
  void submit(Session& session, Direction dir, PacketId id, const PacketView& packet,
              std::span<const std::uint8_t> bytes, std::int64_t offset, Effects& effects);

  // Releases, in arrival order, every held packet whose bytes are now decided (all of them
  // once the session is closed or no longer inspected).
  void releaseDecided(Session& session, Effects& effects);

 private:
  // Holds the packet; false (after stopping inspection and releasing what is held) when a hold
  // limit would be exceeded.
  bool hold(Session& session, Direction dir, PacketId id, std::int64_t offset, std::size_t payloadSize,
            std::span<const std::uint8_t> bytes, Effects& effects);
  void emit(Session& session, Direction dir, PacketId id, const PacketView& packet, std::int64_t offset,
            Effects& effects);
  // Maps seq, ACK and SACK edges of `packet` (see the file comment) into `edit`, with `sack` as
  // the storage of the new SACK edges; prunes the other direction's edit log up to what its
  // receiver acknowledged. `start` is the original offset of the first payload byte emitted and
  // `emitsPayload` whether any is. True when a number changes.
  bool translateSequenceNumbers(Session& session, Direction dir, const PacketView& packet, std::int64_t start,
                                bool emitsPayload, PacketEdit& edit, SackBlock (&sack)[4]);

  const Limits& limits_;
  AckSpace ackSpace_;
  std::vector<std::uint8_t> scratchPayload_;  // reused: the transformed payload of one packet
  KernelSequencer kernel_;                    // kernel-owned flows
};

}  // namespace ftpalg
