// Engine: the conductor (docs/architecture.md "The life of a packet"). Per packet:
//
//   checksums: a packet that fails them passes uninspected, changing nothing
//   -> session (admit): find; start at a real handshake (a client SYN, or a server SYN-ACK the
//            shell proves answers one); restart when a new handshake on the 4-tuple completes;
//            pick up mid-stream (never inspected) or refuse (session limit); ignore any other SYN
//   -> TCP bookkeeping: sequence bases (ISN + 1), the MSS and window scale each peer advertises,
//      each direction's window (tcp_window.hpp): an RST or FIN counts only when its receiver
//      would accept it, and only plausible segments move that state
//   -> StreamInspector: reassembly, framing or TLS, the FTP state machine; an announcement comes
//      back through onAnnouncement: decideAnnouncement, then the edit and the pinhole
//   -> PacketEmitter: release what is decided, hold or emit this packet (payload through the
//      edit log, then seq/ack/SACK translation)
//   -> connection end: an accepted RST (before it leaves, so held bytes go first), or accepted
//      FINs from both sides, closes the session (engine-owned flows; a kernel-owned flow's
//      session ends when conntrack destroys its entry).
//
// Kernel-owned flows (the conntrack-owned mode, kernel_sequencer.hpp) take a shorter path after
// the checksums and admission: conntrack validated every queued packet (INVALID, RSTs and pure
// ACKs are never queued), so the engine keeps no window state for them and lets no RST or FIN end
// anything; a taken-over connection first resynchronises at the next line start of each
// direction; the packet emitter hands them to the KernelSequencer (payload only,
// AdjustKernelSequence per new correction point); MarkDialogVerified once the greeting is seen.
//
// Per timer call: pinhole expiry, then the sliced sweep (hold timeouts, idle close, forgetting).
// The conductor owns the session table and the pinhole table: every session close and forget and
// every pinhole open and close goes through it, so each becomes exactly one action, observation
// and counter update.
#include <cassert>

#include "engine_impl.hpp"

namespace ftpalg {

void Engine::Impl::onPacket(PacketId id, std::span<const std::uint8_t> bytes, const PacketView& packet,
                            const FlowContext& flow, Effects& effects) {
  effects.count(Stat::PacketsSeen);
  if (!checksumsUsable(packet)) {
    passCorrupt(id, packet, flow, effects);
    return;
  }
  Session* session = admit(flow, packet, effects);
  if (session == nullptr) {
    effects.accept(id);
    return;
  }
  const Direction dir = flow.direction;
  if (session->kernel.owned) {
    onKernelOwnedPacket(*session, dir, id, bytes, packet, effects);
    return;
  }
  DirectionState& me = session->dir(dir);
  DirectionState& other = session->dir(opposite(dir));
  if (!me.baseKnown) {
    // A server packet before any SYN-ACK (an RST refusing the SYN): follow the sender.
    me.baseKnown = true;
    me.unwrap = SeqUnwrapper(packet.seq());
  }
  const TcpSegmentInfo segment = describeSegment(*session, dir, packet);
  const bool plausible = tcpSegmentPlausible(segment, me.window, other.window);
  const bool reset = packet.hasFlag(tcp_flags::kRst);
  const bool fin = !reset && packet.hasFlag(tcp_flags::kFin);
  // Only an RST or FIN its receiver will accept ends anything (tcp_window.hpp).
  const bool resetAccepted = reset && tcpResetAcceptable(segment, me.window, other.window);
  const bool finAccepted = fin && tcpFinAcceptable(segment, me.window, other.window);
  // The anomaly says "this did not end the session": after the session ended (its linger), a
  // stale RST or FIN (a reply to a late duplicate on a lossy path) is no anomaly.
  if (!session->closed) {
    if (reset && !resetAccepted) recordAnomaly(*session, dir, Reason::RstOutOfWindow, false, effects);
    if (fin && !finAccepted) recordAnomaly(*session, dir, Reason::FinOutOfWindow, false, effects);
  }
  if (plausible && !reset) {
    // Only a plausible segment moves the window state and the unwrapping reference: guessed
    // sequence numbers must not widen what the next guess has to hit.
    tcpRecordSegment(segment, me.window, other.window);
    me.unwrap.unwrap(packet.seq());
  }
  if (plausible || resetAccepted) session->lastSeen = effects.now();
  // Stream offset of the first payload byte (a SYN occupies the offset before it).
  const std::int64_t offset = segment.seq + (packet.hasFlag(tcp_flags::kSyn) ? 1 : 0);
  const auto payload = packet.payload();
  effects.count(Stat::PayloadBytes, payload.size());
  std::span<const std::uint8_t> firstSeen = payload;
  // An RST's payload is no part of the stream (RFC 9293 §3.5.3: diagnostic text at most).
  if (!payload.empty() && !reset && session->inspecting && !session->closed) {
    firstSeen = inspector.inspect(*session, dir, offset, payload, effects);
  }
  if (resetAccepted) {
    // The connection ends before the RST leaves: closing releases the held packets, in arrival
    // order, so the RST follows the bytes it was sent after (and its seq fits them exactly).
    noteConnectionEnd(*session, dir, true, effects);
  }
  if (finAccepted) me.finSeen = true;
  emitter.submit(*session, dir, id, packet, bytes, offset, firstSeen, finAccepted, effects);
  if (finAccepted) noteConnectionEnd(*session, dir, false, effects);
}

void Engine::Impl::onKernelOwnedPacket(Session& session, Direction dir, PacketId id,
                                       std::span<const std::uint8_t> bytes, const PacketView& packet,
                                       Effects& effects) {
  session.lastSeen = effects.now();
  if (packet.hasFlag(tcp_flags::kRst)) {
    // Replay only (live never queues one for such a flow): it passes as it is, its payload no
    // part of the stream (RFC 9293 §3.5.3), and ends nothing.
    effects.accept(id);
    return;
  }
  if (session.kernel.adopted && KernelSequencer::resync(session, dir, id, packet, effects)) return;
  DirectionState& me = session.dir(dir);
  if (!me.baseKnown) {
    // Only a client packet after a SYN-ACK the engine did not see: follow the sender.
    me.baseKnown = true;
    me.unwrap = SeqUnwrapper(packet.seq());
  }
  // Stream offset of the first payload byte (a SYN occupies the offset before it).
  const std::int64_t offset = me.unwrap.unwrap(packet.seq()) + (packet.hasFlag(tcp_flags::kSyn) ? 1 : 0);
  const auto payload = packet.payload();
  effects.count(Stat::PayloadBytes, payload.size());
  std::span<const std::uint8_t> firstSeen = payload;
  if (!payload.empty() && session.inspecting && !session.closed) {
    firstSeen = inspector.inspect(session, dir, offset, payload, effects);
    KernelSequencer::noteDialog(session, effects);
  }
  if (packet.hasFlag(tcp_flags::kFin)) me.finSeen = true;  // ends nothing here
  emitter.submit(session, dir, id, packet, bytes, offset, firstSeen, false, effects);
}

bool Engine::Impl::checksumsUsable(const PacketView& packet) const {
  const checksum::ChecksumState state = checksum::checkPacket(packet);
  return state == checksum::ChecksumState::Valid ||
         (state == checksum::ChecksumState::Offloaded && config.checksums == ChecksumInput::MayBeOffloaded);
}

void Engine::Impl::passCorrupt(PacketId id, const PacketView& packet, const FlowContext& flow,
                               Effects& effects) {
  effects.count(Stat::PacketsBadChecksum);
  std::unique_ptr<Session>* found = sessions.find(flow.key);
  if (found == nullptr) {
    effects.accept(id);
    return;
  }
  recordAnomaly(**found, flow.direction, Reason::BadChecksum, false, effects);
  emitter.emitCorrupt(**found, flow.direction, id, packet, effects);
}

// -------------------------------------------------------------------------------------------------

Engine::Engine(EngineConfig config) : config_(std::move(config)), impl_(std::make_unique<Impl>(*this)) {}

Engine::~Engine() = default;

void Engine::onPacket(const PacketMeta& meta, std::span<const std::uint8_t> bytes, const PacketView& packet,
                      const FlowContext& flow, Timestamp now, Outcome& out) {
  assert(packet.ipPacket().data() == bytes.data());
  Effects effects(out, stats_, now);
  impl_->onPacket(meta.id, bytes, packet, flow, effects);
}

void Engine::onUninspected(const PacketMeta& meta, Uninspected why, Outcome& out) {
  stats_.add(Stat::PacketsSeen);
  if (why == Uninspected::Malformed) stats_.add(Stat::PacketsMalformed);
  out.verdicts.push_back(PacketVerdict{meta.id, VerdictKind::Accept, {}});
}

void Engine::onTimer(Timestamp now, Outcome& out) {
  Effects effects(out, stats_, now);
  impl_->onTimer(effects);
}

void Engine::onConntrackDestroyed(const FlowKey& flow, Timestamp now, Outcome& out) {
  Effects effects(out, stats_, now);
  impl_->onConntrackDestroyed(flow, effects);
}

void Engine::adopt(const KernelTakeover& takeover, Timestamp now, Outcome& out) {
  Effects effects(out, stats_, now);
  impl_->adopt(takeover, effects);
}

void Engine::shutdown(Timestamp now, Outcome& out) {
  Effects effects(out, stats_, now);
  impl_->shutdown(effects);
}

std::optional<Timestamp> Engine::nextDeadline() const {
  // Before the first onTimer() nothing is scheduled: that call schedules the sweep.
  if (!impl_->nextScan) return std::nullopt;
  Timestamp deadline = *impl_->nextScan;
  if (const auto expiry = impl_->pinholes.nextExpiry(); expiry && *expiry < deadline) deadline = *expiry;
  return deadline;
}

namespace {

DirectionSnapshot directionSnapshot(const DirectionState& dir) {
  DirectionSnapshot out;
  out.baseKnown = dir.baseKnown;
  out.delivered = dir.tracker.nextOffset();
  out.emitted = dir.emittedEnd;
  out.outputDelta = dir.adjuster.totalDelta();
  out.edits = dir.adjuster.editCount();
  out.outOfOrderBytes = dir.tracker.heldBytes();
  out.partialLineBytes = dir.framer.partialLine().size();
  out.finSeen = dir.finSeen;
  out.inTls = dir.inTls;
  return out;
}

}  // namespace

EngineSnapshot Engine::snapshot(Timestamp now) const {
  EngineSnapshot out;
  out.taken = now;
  out.stats = stats_;
  out.sessions.reserve(impl_->sessions.size());
  for (std::size_t slot = 0; slot < impl_->sessions.slotCount(); ++slot) {
    const std::unique_ptr<Session>* stored = impl_->sessions.slotValue(slot);
    if (stored == nullptr) continue;
    const Session& session = **stored;
    SessionSnapshot entry;
    entry.flow = session.key;
    entry.channel = session.channel.state();
    entry.inspecting = session.inspecting;
    entry.closed = session.closed;
    entry.finished = session.finished;
    entry.awaitingPassiveReply = session.channel.replyAnnouncementPossible();
    entry.pendingCommands = session.channel.pendingCommandCount();
    entry.heldPackets = session.held.size();
    entry.heldBytes = session.heldBytes;
    entry.pinholeId = session.pinholeId;
    entry.idle = now - session.lastSeen;
    entry.clientToServer = directionSnapshot(session.dir(Direction::ClientToServer));
    entry.serverToClient = directionSnapshot(session.dir(Direction::ServerToClient));
    out.sessions.push_back(std::move(entry));
  }
  out.pinholes = impl_->pinholes.list();
  return out;
}

void Engine::reconfigure(const Policy& policy, const Limits& limits) {
  // The Impl's parts hold references to config_'s members: assigning in place updates them.
  config_.policy = policy;
  config_.limits = limits;
}

std::size_t Engine::sessionCount() const { return impl_->sessions.size(); }
std::size_t Engine::pinholeCount() const { return impl_->pinholes.size(); }
std::vector<Pinhole> Engine::pinholes() const {
  std::vector<Pinhole> all;
  all.reserve(impl_->pinholes.size());
  for (const auto& [id, pinhole] : impl_->pinholes.byId()) all.push_back(pinhole);
  return all;
}

}  // namespace ftpalg
