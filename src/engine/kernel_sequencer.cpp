// KernelSequencer: see include/ftpalg/engine/kernel_sequencer.hpp.
#include "ftpalg/engine/kernel_sequencer.hpp"

#include <algorithm>

#include "ftpalg/engine/packet_emitter.hpp"
#include "ftpalg/engine/session.hpp"
#include "ftpalg/packet/checksum.hpp"
#include "ftpalg/packet/packet_rewriter.hpp"

namespace ftpalg {

namespace {

// The cumulative delta of every edit starting before original offset x (pruned edits included).
// Exact for x at or after the prune floor.
std::int64_t deltaBefore(const SeqAdjuster& adjuster, std::int64_t x) {
  std::int64_t delta = adjuster.totalDelta();
  for (auto it = adjuster.edits().rbegin(); it != adjuster.edits().rend() && it->offset >= x; ++it) {
    delta -= it->delta();
  }
  return delta;
}

bool isAsciiLetter(std::uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool isAsciiDigit(std::uint8_t c) { return c >= '0' && c <= '9'; }

// An FTP control segment almost always starts a line (one write per command or reply), and the
// first segment after a takeover is often the very announcement to translate. A payload that
// starts like a command (3 or 4 letters, then a space or CR: RFC 959 §5.3.1) or a reply (3
// digits, then a space or '-': §4.2) is taken as a line start; anything else is read from the
// byte after its first LF. A fragment that merely looks like one is still subject to every check
// of the control channel and the announcement policy.
bool looksLikeLineStart(std::span<const std::uint8_t> payload, Direction dir) {
  if (dir == Direction::ClientToServer) {
    std::size_t letters = 0;
    while (letters < payload.size() && letters < 5 && isAsciiLetter(payload[letters])) ++letters;
    return (letters == 3 || letters == 4) && letters < payload.size() &&
           (payload[letters] == ' ' || payload[letters] == '\r');
  }
  return payload.size() >= 4 && isAsciiDigit(payload[0]) && isAsciiDigit(payload[1]) &&
         isAsciiDigit(payload[2]) && (payload[3] == ' ' || payload[3] == '-');
}

void dropSegment(Session& session, Direction dir, PacketId id, Reason reason, Effects& effects) {
  effects.count(Stat::PacketsDropped);
  effects.count(Stat::Anomalies);
  effects.observe(session.key, AnomalyObs{dir, reason, false});
  effects.drop(id);
}

}  // namespace

void KernelSequencer::noteAck(Session& session, Direction dir, const PacketView& packet) {
  if (!packet.hasFlag(tcp_flags::kAck)) return;
  const Direction peer = opposite(dir);
  DirectionState& other = session.dir(peer);
  KernelDirection& kernel = session.kernel.dir(peer);
  if (!other.baseKnown || !kernel.synced) return;
  std::int64_t acked = 0;
  if (ackSpace_ == AckSpace::Original) {
    acked = other.unwrap.peek(packet.ack());
  } else {
    // Output space -> the raw space the engine's offsets were taken in (the adopted record's
    // offset), then back through the engine's own edits.
    const SeqNum raw = packet.ack() - static_cast<std::uint32_t>(kernel.adoptedOffset);
    acked = other.adjuster.toOriginal(other.unwrap.peek(raw));
  }
  kernel.ackedTo = std::max(kernel.ackedTo, acked);
  other.adjuster.prune(std::min(acked, other.emittedEnd));
}

void KernelSequencer::emit(Session& session, Direction dir, PacketId id, const PacketView& packet,
                           std::int64_t offset, std::span<const std::uint8_t> payload, Effects& effects) {
  noteAck(session, dir, packet);
  DirectionState& me = session.dir(dir);
  KernelDirection& kernel = session.kernel.dir(dir);
  if (payload.empty()) {
    effects.accept(id);
    return;
  }
  const std::int64_t end = offset + static_cast<std::int64_t>(payload.size());
  const std::vector<StreamEdit>& edits = me.adjuster.edits();

  // Where this segment's new bytes begin: past what the receiver acknowledged (the prune floor)
  // and past the rest of an edit span whose replacement already went out with an earlier segment.
  // `seqFrom` is where the emitted segment sits in the raw space: its first new byte, or, for a
  // segment wholly inside such a span, the span's end (the next byte after the replacement).
  std::int64_t start = offset;
  const bool acknowledgedBytes = me.adjuster.pruneFloor() > 0 && start < me.adjuster.pruneFloor();
  if (acknowledgedBytes) start = std::min(end, me.adjuster.pruneFloor());
  std::int64_t seqFrom = start;
  for (const StreamEdit& edit : edits) {
    if (edit.offset >= start) break;
    if (start < edit.originalEnd()) {
      seqFrom = edit.originalEnd();
      start = std::min(end, seqFrom);
      break;
    }
  }

  // The first length-changing edit not yet reported to the kernel.
  const StreamEdit* pending = nullptr;
  for (const StreamEdit& edit : edits) {
    if (edit.delta() != 0 && edit.offset >= kernel.reportedEnd) {
      pending = &edit;
      break;
    }
  }
  if (pending != nullptr && pending->offset < start) {
    dropSegment(session, dir, id, Reason::EditSegmentPending, effects);
    return;
  }
  const bool reports = pending != nullptr && pending->offset < end;
  if (reports && !kernel.acknowledged() && start > kernel.recordFirstEdit) {
    dropSegment(session, dir, id, Reason::EditUnacknowledged, effects);
    return;
  }

  PacketEdit edit;
  bool changed = false;
  std::span<const std::uint8_t> body = payload.subspan(static_cast<std::size_t>(start - offset));
  if (payload.data() != packet.payload().data()) {
    // First-seen bytes in place of conflicting ones (StreamInspector::inspect).
    edit.payload = body;
    changed = true;
  }
  if (seqFrom != offset) {
    // The kernel places the segment by its (raw) seq: move it with the first byte sent.
    if (acknowledgedBytes) effects.count(Stat::Retransmissions);
    edit.seq = me.unwrap.wrap(seqFrom);
    edit.payload = body;
    changed = true;
  }
  std::size_t consumed = body.size();
  if (!body.empty() && me.adjuster.touches(start, start + static_cast<std::int64_t>(body.size()))) {
    // The same cap as for engine-owned flows: conntrack adjusts numbers, not sizes.
    const std::size_t limit = segmentGrowthLimit(session, me, packet, body.size());
    scratch_.clear();
    consumed = me.adjuster.transform(start, body, limit, scratch_);
    if (consumed < body.size()) {
      // The grown segment would exceed the receiver's MSS: send what fits; the sender
      // retransmits the rest, which the kernel places after this segment's correction point.
      effects.count(Stat::SegmentsTrimmed);
      if (packet.hasFlag(tcp_flags::kFin)) edit.clearFin = true;
      if (session.inspecting) {
        effects.count(Stat::Anomalies);
        effects.observe(session.key, AnomalyObs{dir, Reason::SegmentTrimmed, false});
      }
    }
    edit.payload = std::span<const std::uint8_t>(scratch_);
    changed = true;
  }
  const std::int64_t emittedTo = start + static_cast<std::int64_t>(consumed);
  me.emittedEnd = std::max(me.emittedEnd, emittedTo);

  if (reports) {
    std::int64_t segmentDelta = 0;
    std::int64_t firstEdit = -1;
    std::int64_t lastEditEnd = 0;
    for (const StreamEdit& stream : edits) {
      if (stream.offset < start) continue;
      if (stream.offset >= emittedTo) break;
      segmentDelta += stream.delta();
      if (stream.delta() != 0) {
        if (firstEdit < 0) firstEdit = stream.offset;
        lastEditEnd = stream.originalEnd();
      }
    }
    if (firstEdit >= 0) {
      kernel.reportedEnd = emittedTo;
      if (segmentDelta != 0) {
        const auto before = static_cast<std::int32_t>(kernel.adoptedOffset + deltaBefore(me.adjuster, start));
        const SeqAdjRecord record{me.unwrap.wrap(start).raw(), before,
                                  static_cast<std::int32_t>(before + segmentDelta)};
        kernel.record = record;
        kernel.recordFirstEdit = firstEdit;
        kernel.recordLastEditEnd = lastEditEnd;
        effects.act(AdjustKernelSequence{session.key, session.nat, dir, record});
      }
    }
  }

  emitEdited(session, dir, id, packet, edit, changed, checksums_, effects);
}

void KernelSequencer::noteDialog(Session& session, Effects& effects) {
  if (!session.kernel.owned || session.kernel.verifiedMarked) return;
  const ChannelState state = session.channel.state();
  if (state != ChannelState::Inspecting && state != ChannelState::Opaque) return;
  session.kernel.verifiedMarked = true;
  effects.act(MarkDialogVerified{session.key, session.nat});
}

bool KernelSequencer::resync(Session& session, Direction dir, PacketId id, const PacketView& packet,
                             Effects& effects) {
  KernelDirection& kernel = session.kernel.dir(dir);
  if (kernel.synced) return false;
  const auto payload = packet.payload();
  DirectionState& me = session.dir(dir);
  if (looksLikeLineStart(payload, dir)) {
    me.baseKnown = true;
    me.unwrap = SeqUnwrapper(packet.seq());
    kernel.synced = true;
    return false;
  }
  const auto lf = std::find(payload.begin(), payload.end(), static_cast<std::uint8_t>('\n'));
  if (lf == payload.end()) {
    // Inside a line (or no payload): passed as it is; the kernel adjusts it.
    effects.accept(id);
    return true;
  }
  me.baseKnown = true;
  me.unwrap = SeqUnwrapper(packet.seq() + static_cast<std::uint32_t>(lf - payload.begin() + 1));
  kernel.synced = true;
  return false;
}

void KernelSequencer::adopt(Session& session, const KernelTakeover& takeover) {
  session.kernel.adopted = true;
  session.kernel.verifiedMarked = true;
  const SeqAdjRecord* records[2] = {&takeover.clientToServer, &takeover.serverToClient};
  for (int i = 0; i < 2; ++i) {
    KernelDirection& kernel = session.kernel.dirs[i];
    kernel.record = *records[i];
    kernel.adoptedOffset = records[i]->offsetAfter;
    kernel.synced = false;
  }
  session.channel.adoptVerified();
}

}  // namespace ftpalg
