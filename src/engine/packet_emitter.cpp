// PacketEmitter: see include/ftpalg/engine/packet_emitter.hpp.
#include "ftpalg/engine/packet_emitter.hpp"

#include <algorithm>
#include <cassert>

#include "ftpalg/engine/stream_inspector.hpp"

namespace ftpalg {

namespace {

constexpr std::uint16_t kDefaultMssV4 = 536;   // RFC 1122 §4.2.2.6
constexpr std::uint16_t kDefaultMssV6 = 1220;  // RFC 8200 §5 minimum MTU 1280 - 60

// A packet is decided when its payload lies wholly before the frontier; a payload-free one when
// its sequence number does not lie past it.
bool decided(std::int64_t offset, std::size_t payloadSize, std::int64_t frontier) {
  return payloadSize == 0 ? offset <= frontier : offset + static_cast<std::int64_t>(payloadSize) <= frontier;
}

}  // namespace

void PacketEmitter::submit(Session& session, Direction dir, PacketId id, const PacketView& packet,
                           std::span<const std::uint8_t> bytes, std::int64_t offset, Effects& effects) {
  releaseDecided(session, effects);
  const std::int64_t frontier = decidedFrontier(session, dir);
  const std::size_t payloadSize = packet.payload().size();
  // A FIN with no payload waits for the bytes before it; any other payload-free packet goes.
  const bool needsHold = payloadSize == 0 ? (packet.hasFlag(tcp_flags::kFin) && offset > frontier)
                                          : !decided(offset, payloadSize, frontier);
  if (needsHold && hold(session, dir, id, offset, payloadSize, bytes, effects)) return;
  emit(session, dir, id, packet, offset, effects);
}

bool PacketEmitter::hold(Session& session, Direction dir, PacketId id, std::int64_t offset,
                         std::size_t payloadSize, std::span<const std::uint8_t> bytes, Effects& effects) {
  if (session.held.size() >= limits_.maxHeldPackets ||
      session.heldBytes + bytes.size() > limits_.maxHeldBytes) {
    recordAnomaly(session, dir, Reason::HoldLimit, true, effects);
    releaseDecided(session, effects);
    return false;
  }
  session.held.push_back(
      HeldPacket{id, dir, offset, payloadSize, effects.now(), {bytes.begin(), bytes.end()}});
  session.heldBytes += bytes.size();
  effects.count(Stat::PacketsHeld);
  return true;
}

void PacketEmitter::releaseDecided(Session& session, Effects& effects) {
  if (session.held.empty()) return;
  const std::int64_t frontiers[2] = {decidedFrontier(session, Direction::ClientToServer),
                                     decidedFrontier(session, Direction::ServerToClient)};
  // Emitting never changes session.held: the still undecided packets are compacted in place.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < session.held.size(); ++i) {
    HeldPacket& held = session.held[i];
    if (decided(held.offset, held.payloadSize, frontiers[static_cast<int>(held.dir)])) {
      const auto packet = PacketView::parse(held.bytes);
      assert(packet);
      session.heldBytes -= held.bytes.size();
      emit(session, held.dir, held.id, *packet, held.offset, effects);
    } else {
      if (kept != i) session.held[kept] = std::move(held);
      ++kept;
    }
  }
  session.held.erase(session.held.begin() + static_cast<std::ptrdiff_t>(kept), session.held.end());
}

inline void PacketEmitter::emit(Session& session, Direction dir, PacketId id, const PacketView& packet,
                                std::int64_t offset, Effects& effects) {
  if (session.kernel.owned) {
    kernel_.emit(session, dir, id, packet, offset, effects);
    return;
  }
  DirectionState& me = session.dir(dir);
  const auto payload = packet.payload();
  const std::int64_t end = offset + static_cast<std::int64_t>(payload.size());

  PacketEdit edit;
  bool changed = false;
  std::span<const std::uint8_t> body = payload;
  std::int64_t start = offset;

  // 1. Payload. Bytes before the prune floor are acknowledged already; strip them (their exact
  // transform is forgotten).
  if (start < me.adjuster.pruneFloor() && me.adjuster.pruneFloor() > 0 && !body.empty()) {
    const std::int64_t cut = std::min(end, me.adjuster.pruneFloor()) - start;
    body = body.subspan(static_cast<std::size_t>(cut));
    start += cut;
    effects.count(Stat::Retransmissions);
    changed = true;
    edit.payload = body;
  }
  const std::size_t limit = std::max<std::size_t>(
      body.size(), me.receiverMss != 0 ? me.receiverMss
                                       : (session.family == IpFamily::V4 ? kDefaultMssV4 : kDefaultMssV6));
  if (!body.empty() && me.adjuster.touches(start, start + static_cast<std::int64_t>(body.size()))) {
    scratchPayload_.clear();
    const std::size_t consumed = me.adjuster.transform(start, body, limit, scratchPayload_);
    if (consumed < body.size()) {
      // The grown segment would exceed the receiver's MSS: send what fits; the sender
      // retransmits the rest, which the mapped ACK does not cover (docs/decisions/0002).
      effects.count(Stat::SegmentsTrimmed);
      if (packet.hasFlag(tcp_flags::kFin)) edit.clearFin = true;
      if (session.inspecting) {
        effects.count(Stat::Anomalies);
        effects.observe(session.key, AnomalyObs{dir, Reason::SegmentTrimmed, false});
      }
    }
    edit.payload = std::span<const std::uint8_t>(scratchPayload_);
    changed = true;
    me.emittedEnd = std::max(me.emittedEnd, start + static_cast<std::int64_t>(consumed));
  } else if (!body.empty()) {
    // Only payload counts as emitted: a pure ACK's seq may lie past bytes still held (an
    // announcement whose first half waits for its end), which it does not release.
    me.emittedEnd = std::max(me.emittedEnd, start + static_cast<std::int64_t>(body.size()));
  }

  // 2. Sequence numbers.
  SackBlock sack[4];
  if (translateSequenceNumbers(session, dir, packet, start, !body.empty(), edit, sack)) changed = true;

  if (!changed) {
    effects.accept(id);
    return;
  }
  std::vector<std::uint8_t> rewritten = rewritePacket(packet, edit);
  if (rewritten.empty()) {
    // Only when the result would overflow the IP length field: never for real control
    // traffic (a rewrite grows a line by at most 12 bytes). Pass the original.
    recordAnomaly(session, dir, Reason::MalformedPacket, true, effects);
    effects.accept(id);
    return;
  }
  effects.count(Stat::PacketsModified);
  effects.acceptModified(id, std::move(rewritten));
}

inline bool PacketEmitter::translateSequenceNumbers(Session& session, Direction dir, const PacketView& packet,
                                                    std::int64_t start, bool emitsPayload, PacketEdit& edit,
                                                    SackBlock (&sack)[4]) {
  DirectionState& me = session.dir(dir);
  DirectionState& other = session.dir(opposite(dir));
  bool changed = false;

  // seq: original -> output in this direction. The seq of a payload-free packet beyond the
  // decided frontier is not yet known exactly; the frontier's output offset is a valid (not yet
  // received) sequence number for it.
  std::int64_t seqOffset = start;
  if (!emitsPayload && !packet.hasFlag(tcp_flags::kFin)) {
    seqOffset = std::min(seqOffset, decidedFrontier(session, dir));
  }
  const std::int64_t outOffset = me.adjuster.toOutput(seqOffset);
  const SeqNum newSeq = packet.hasFlag(tcp_flags::kSyn) ? packet.seq() : me.unwrap.wrap(outOffset);
  if (newSeq != packet.seq()) {
    edit.seq = newSeq;
    changed = true;
  }

  if (!packet.hasFlag(tcp_flags::kAck) || !other.baseKnown) return changed;
  if (ackSpace_ == AckSpace::Original) {
    // Never prune past what was emitted: a capture's ACK may cover bytes the engine cut
    // (MSS) and will transform again from the retransmission.
    other.adjuster.prune(std::min(other.unwrap.peek(packet.ack()), other.emittedEnd));
    return changed;
  }
  // ACK and SACK edges: output -> original in the other direction.
  const std::int64_t ackOut = other.unwrap.peek(packet.ack());
  const std::int64_t ackOriginal = other.adjuster.toOriginal(ackOut);
  const SeqNum newAck = other.unwrap.wrap(ackOriginal);
  if (newAck != packet.ack()) {
    edit.ack = newAck;
    changed = true;
  }
  other.adjuster.prune(std::min(ackOriginal, other.emittedEnd));
  const auto& options = packet.options();
  bool sackChanged = false;
  for (std::uint8_t i = 0; i < options.sackBlockCount && i < 4; ++i) {
    const SackBlock& block = options.sackBlocks[i];
    sack[i].left = other.unwrap.wrap(other.adjuster.toOriginal(other.unwrap.peek(block.left)));
    sack[i].right = other.unwrap.wrap(other.adjuster.toOriginal(other.unwrap.peek(block.right)));
    sackChanged = sackChanged || sack[i].left != block.left || sack[i].right != block.right;
  }
  if (sackChanged) {
    edit.sackBlocks = std::span<const SackBlock>(sack, options.sackBlockCount);
    changed = true;
  }
  return changed;
}

}  // namespace ftpalg
