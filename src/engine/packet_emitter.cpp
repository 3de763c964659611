// PacketEmitter: see include/ftpalg/engine/packet_emitter.hpp.
#include "ftpalg/engine/packet_emitter.hpp"

#include <algorithm>
#include <cassert>

#include "ftpalg/engine/stream_inspector.hpp"
#include "ftpalg/packet/checksum.hpp"

namespace ftpalg {

namespace {

constexpr std::size_t kDefaultMssV4 = 536;   // RFC 1122 §4.2.2.6
constexpr std::size_t kDefaultMssV6 = 1220;  // RFC 8200 §5 minimum MTU 1280 - 60
// Packets every path carries: IPv4 576 (RFC 1122 §3.3.3, the datagram the default MSS assumes),
// IPv6 1280 (RFC 8200 §5).
constexpr std::size_t kPathFloorV4 = 576;
constexpr std::size_t kPathFloorV6 = 1280;
// IP and TCP headers without options (RFC 791, RFC 8200, RFC 9293).
constexpr std::size_t kPlainHeadersV4 = 20 + 20;
constexpr std::size_t kPlainHeadersV6 = 40 + 20;

// A packet is decided when its payload lies wholly before the frontier; a payload-free one when
// its sequence number does not lie past it.
bool decided(std::int64_t offset, std::size_t payloadSize, std::int64_t frontier) {
  return payloadSize == 0 ? offset <= frontier : offset + static_cast<std::int64_t>(payloadSize) <= frontier;
}

}  // namespace

void emitEdited(Session& session, Direction dir, PacketId id, const PacketView& packet, PacketEdit& edit,
                bool changed, ChecksumInput checksums, Effects& effects) {
  if (!changed) {
    effects.accept(id);
    return;
  }
  // A segment captured before its NIC completed the checksum leaves with a real one.
  if (checksums == ChecksumInput::MayBeOffloaded &&
      checksum::checkPacket(packet) == checksum::ChecksumState::Offloaded) {
    edit.checksums = ChecksumUpdate::Recompute;
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

std::size_t segmentGrowthLimit(const Session& session, const DirectionState& me, const PacketView& packet,
                               std::size_t bodySize) {
  const bool v4 = session.family == IpFamily::V4;
  const std::size_t headers = packet.payloadOffset();
  const std::size_t optionBytes = headers - std::min(headers, v4 ? kPlainHeadersV4 : kPlainHeadersV6);
  const std::size_t mss = me.receiverMss != 0 ? me.receiverMss : (v4 ? kDefaultMssV4 : kDefaultMssV6);
  const std::size_t mssLimit = mss - std::min(mss, optionBytes);
  const std::size_t pathPacket = std::max<std::size_t>(me.largestPacket, v4 ? kPathFloorV4 : kPathFloorV6);
  const std::size_t pathLimit = pathPacket - std::min(pathPacket, headers);
  return std::max(bodySize, std::min(mssLimit, pathLimit));
}

void PacketEmitter::submit(Session& session, Direction dir, PacketId id, const PacketView& packet,
                           std::span<const std::uint8_t> bytes, std::int64_t offset,
                           std::span<const std::uint8_t> payload, bool acceptedFin, Effects& effects) {
  assert(payload.size() == packet.payload().size());
  DirectionState& me = session.dir(dir);
  me.largestPacket =
      static_cast<std::uint16_t>(std::max<std::size_t>(me.largestPacket, packet.ipPacket().size()));
  releaseDecided(session, effects);
  const std::int64_t frontier = decidedFrontier(session, dir);
  // An accepted FIN with no payload waits for the bytes before it; any other payload-free packet
  // goes, and so does every RST (an accepted one closed the session first, which released the
  // held bytes before it; any other must pass at once).
  const bool needsHold = packet.hasFlag(tcp_flags::kRst) ? false
                         : payload.empty()               ? (acceptedFin && offset > frontier)
                                                         : !decided(offset, payload.size(), frontier);
  if (needsHold && hold(session, dir, id, offset, packet, bytes, payload, effects)) return;
  emit(session, dir, id, packet, offset, payload, effects);
}

bool PacketEmitter::hold(Session& session, Direction dir, PacketId id, std::int64_t offset,
                         const PacketView& packet, std::span<const std::uint8_t> bytes,
                         std::span<const std::uint8_t> payload, Effects& effects) {
  if (session.held.size() >= limits_.maxHeldPackets ||
      session.heldBytes + bytes.size() > limits_.maxHeldBytes) {
    recordAnomaly(session, dir, Reason::HoldLimit, true, effects);
    releaseDecided(session, effects);
    return false;
  }
  HeldPacket& held = session.held.emplace_back(
      HeldPacket{id, dir, offset, payload.size(), effects.now(), {bytes.begin(), bytes.end()}, {}});
  if (payload.data() != packet.payload().data()) held.firstSeenPayload.assign(payload.begin(), payload.end());
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
      emit(session, held.dir, held.id, *packet, held.offset,
           held.firstSeenPayload.empty() ? packet->payload()
                                         : std::span<const std::uint8_t>(held.firstSeenPayload),
           effects);
    } else {
      if (kept != i) session.held[kept] = std::move(held);
      ++kept;
    }
  }
  session.held.erase(session.held.begin() + static_cast<std::ptrdiff_t>(kept), session.held.end());
}

inline void PacketEmitter::emit(Session& session, Direction dir, PacketId id, const PacketView& packet,
                                std::int64_t offset, std::span<const std::uint8_t> payload,
                                Effects& effects) {
  if (session.kernel.owned) {
    kernel_.emit(session, dir, id, packet, offset, payload, effects);
    return;
  }
  DirectionState& me = session.dir(dir);
  const std::int64_t end = offset + static_cast<std::int64_t>(payload.size());

  PacketEdit edit;
  // An RST's payload is no part of the stream (RFC 9293 §3.5.3): it passes as it is. Any other
  // carries first-seen bytes in place of conflicting ones (StreamInspector::inspect).
  const bool reset = packet.hasFlag(tcp_flags::kRst);
  bool changed = !reset && payload.data() != packet.payload().data();
  if (changed) edit.payload = payload;
  std::span<const std::uint8_t> body = reset ? std::span<const std::uint8_t>() : payload;
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
  const std::size_t limit = segmentGrowthLimit(session, me, packet, body.size());
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

  emitEdited(session, dir, id, packet, edit, changed, checksums_, effects);
}

inline bool PacketEmitter::translateSequenceNumbers(Session& session, Direction dir, const PacketView& packet,
                                                    std::int64_t start, bool emitsPayload, PacketEdit& edit,
                                                    SackBlock (&sack)[4]) {
  // The seq of a payload-free packet beyond the decided frontier is not yet known exactly; the
  // frontier's output offset is a valid (not yet received) sequence number for it. Never for an
  // RST or FIN: moved to the frontier, one its receiver would discard could become one it accepts
  // (an accepted one waits instead).
  std::int64_t seqOffset = start;
  if (!emitsPayload && !packet.hasFlag(tcp_flags::kFin) && !packet.hasFlag(tcp_flags::kRst)) {
    seqOffset = std::min(seqOffset, decidedFrontier(session, dir));
  }
  std::optional<std::int64_t> ackOriginal;
  const bool changed = mapSequenceNumbers(session, dir, packet, seqOffset, edit, sack, ackOriginal);
  // The receiver has every edit before its ACK: forget them. Never prune past what was emitted:
  // a capture's ACK (AckSpace::Original) may cover bytes the engine cut (MSS) and will transform
  // again from the retransmission.
  DirectionState& other = session.dir(opposite(dir));
  if (ackOriginal) other.adjuster.prune(std::min(*ackOriginal, other.emittedEnd));
  return changed;
}

inline bool PacketEmitter::mapSequenceNumbers(const Session& session, Direction dir, const PacketView& packet,
                                              std::int64_t seqOffset, PacketEdit& edit, SackBlock (&sack)[4],
                                              std::optional<std::int64_t>& ackOriginal) const {
  const DirectionState& me = session.dir(dir);
  const DirectionState& other = session.dir(opposite(dir));
  bool changed = false;

  // seq: original -> output in this direction.
  const SeqNum newSeq =
      packet.hasFlag(tcp_flags::kSyn) ? packet.seq() : me.unwrap.wrap(me.adjuster.toOutput(seqOffset));
  if (newSeq != packet.seq()) {
    edit.seq = newSeq;
    changed = true;
  }

  if (!packet.hasFlag(tcp_flags::kAck) || !other.baseKnown) return changed;
  if (ackSpace_ == AckSpace::Original) {
    ackOriginal = other.unwrap.peek(packet.ack());
    return changed;
  }
  // ACK and SACK edges: output -> original in the other direction.
  ackOriginal = other.adjuster.toOriginal(other.unwrap.peek(packet.ack()));
  const SeqNum newAck = other.unwrap.wrap(*ackOriginal);
  if (newAck != packet.ack()) {
    edit.ack = newAck;
    changed = true;
  }
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

void PacketEmitter::emitCorrupt(const Session& session, Direction dir, PacketId id, const PacketView& packet,
                                Effects& effects) const {
  const DirectionState& me = session.dir(dir);
  // A kernel-owned flow's numbers are conntrack's to translate (and a corrupt packet is INVALID
  // there, never queued in the first place).
  if (session.kernel.owned) {
    effects.accept(id);
    return;
  }
  PacketEdit edit;  // ChecksumUpdate::KeepError: it leaves as corrupt as it came
  SackBlock sack[4];
  std::optional<std::int64_t> ackOriginal;
  // Its seq where its sender put it (peek: a corrupt number must not move the unwrapper).
  if (!me.baseKnown ||
      !mapSequenceNumbers(session, dir, packet, me.unwrap.peek(packet.seq()), edit, sack, ackOriginal)) {
    effects.accept(id);
    return;
  }
  std::vector<std::uint8_t> rewritten = rewritePacket(packet, edit);
  if (rewritten.empty()) {
    effects.accept(id);
    return;
  }
  effects.count(Stat::PacketsModified);
  effects.acceptModified(id, std::move(rewritten));
}

}  // namespace ftpalg
