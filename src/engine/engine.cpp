// Engine: the conductor (docs/architecture.md "The life of a packet"). Per packet:
//
//   session: find, start (client SYN or server SYN-ACK), restart (a new SYN on a closed
//            session's 4-tuple), pick up mid-stream (never inspected) or refuse (session limit)
//   -> TCP bookkeeping: sequence bases (ISN + 1), the MSS each peer advertises
//   -> StreamInspector: reassembly, framing or TLS, the FTP state machine; an announcement comes
//      back through onAnnouncement: decideAnnouncement, then the edit and the pinhole
//   -> PacketEmitter: release what is decided, hold or emit this packet (payload through the
//      edit log, then seq/ack/SACK translation)
//   -> connection end: RST, or FIN from both sides, closes the session (engine-owned flows;
//      a kernel-owned flow's session ends when conntrack destroys its entry).
//
// Kernel-owned flows (the conntrack-owned mode, kernel_sequencer.hpp): the packet emitter hands
// them to the KernelSequencer (payload only, AdjustKernelSequence per new correction point);
// MarkDialogVerified once the greeting is seen; a taken-over connection resynchronises at the
// next line start of each direction.
//
// Per timer call: pinhole expiry, then the sliced sweep (hold timeouts, idle close, forgetting).
// The conductor owns the session table and the pinhole table: every session close and forget and
// every pinhole open and close goes through it, so each becomes exactly one action, observation
// and counter update.
#include "ftpalg/engine/engine.hpp"

#include <algorithm>
#include <cassert>
#include <vector>

#include "ftpalg/engine/announcement.hpp"
#include "ftpalg/engine/effects.hpp"
#include "ftpalg/engine/escape.hpp"
#include "ftpalg/engine/flow_table.hpp"
#include "ftpalg/engine/packet_emitter.hpp"
#include "ftpalg/engine/pinhole_table.hpp"
#include "ftpalg/engine/session.hpp"
#include "ftpalg/engine/stream_inspector.hpp"

namespace ftpalg {

namespace {

constexpr Duration kScanInterval = std::chrono::seconds(1);
constexpr std::size_t kSweepSlotsPerSlice = 8192;

}  // namespace

struct Engine::Impl final : AnnouncementSink {
  explicit Impl(Engine& owner)
      : config(owner.config_),
        stats(owner.stats_),
        inspector(config.limits, *this),
        emitter(config.limits, config.ackSpace) {}

  const EngineConfig& config;
  Stats& stats;
  FlowTable<std::unique_ptr<Session>> sessions;
  PinholeTable pinholes;
  StreamInspector inspector;
  PacketEmitter emitter;
  std::optional<Timestamp> nextScan;
  std::size_t sweepCursor = 0;       // first slot of the next sweep slice
  std::vector<FlowKey> sweepDoomed;  // reused: sessions a slice forgets

  // ---------------------------------------------------------------------------------------------
  // Sessions.

  void onPacket(PacketId id, std::span<const std::uint8_t> bytes, const PacketView& packet,
                const FlowContext& flow, Effects& effects) {
    effects.count(Stat::PacketsSeen);
    Session* session = findOrStartSession(flow, packet, effects);
    if (session == nullptr) {
      effects.accept(id);
      return;
    }
    session->lastSeen = effects.now();
    const Direction dir = flow.direction;
    if (session->kernel.adopted && KernelSequencer::resync(*session, dir, id, packet, effects)) return;
    const std::int64_t offset = trackSequenceBases(*session, dir, packet);
    const auto payload = packet.payload();
    effects.count(Stat::PayloadBytes, payload.size());
    if (!payload.empty() && session->inspecting && !session->closed) {
      inspector.inspect(*session, dir, offset, payload, effects);
      KernelSequencer::noteDialog(*session, effects);
    }
    if (packet.hasFlag(tcp_flags::kFin)) session->dir(dir).finSeen = true;
    emitter.submit(*session, dir, id, packet, bytes, offset, effects);
    if (!session->kernel.owned) noteConnectionEnd(*session, dir, packet, effects);
  }

  // The packet's session; nullptr when the packet is to pass without one (an RST for an unknown
  // flow, or the session limit is reached).
  Session* findOrStartSession(const FlowContext& flow, const PacketView& packet, Effects& effects) {
    const bool syn = packet.hasFlag(tcp_flags::kSyn);
    const bool ack = packet.hasFlag(tcp_flags::kAck);
    if (std::unique_ptr<Session>* found = sessions.find(flow.key)) {
      // A new handshake on the 4-tuple of a closed session starts a new session; so does a
      // SYN-ACK on a kernel-owned one (its SYN is not queued, and FIN does not close it: a
      // reused 4-tuple whose old conntrack entry was replaced: a SYN-ACK with another ISN).
      const bool restart =
          ((*found)->closed && syn && !ack && flow.direction == Direction::ClientToServer) ||
          ((*found)->kernel.owned && syn && ack && flow.direction == Direction::ServerToClient &&
           (*found)->dir(Direction::ServerToClient).baseKnown &&
           (*found)->dir(Direction::ServerToClient).unwrap.peek(packet.seq() + 1) != 0);
      if (!restart) {
        return found->get();
      }
      eraseSession(**found, effects);
    }
    if (packet.hasFlag(tcp_flags::kRst)) return nullptr;
    if (sessions.size() >= config.limits.maxSessions) {
      if (syn && !ack) {  // once per refused connection: its SYN, not the SYN-ACK
        effects.count(Stat::SessionsRefusedAtLimit);
        effects.count(Stat::Anomalies);
        effects.observe(flow.key, AnomalyObs{flow.direction, Reason::SessionLimit, true});
      }
      return nullptr;
    }
    auto created = std::make_unique<Session>(flow, config.limits, config.policy, effects.now());
    Session& session = *created;
    sessions.emplace(flow.key, std::move(created));
    effects.count(Stat::SessionsOpened);
    effects.observe(session.key, SessionOpened{});
    const bool handshakeStart = (syn && !ack && flow.direction == Direction::ClientToServer) ||
                                (syn && ack && flow.direction == Direction::ServerToClient);
    if (!handshakeStart) {
      // Picked up mid-stream: the 220 greeting cannot be verified, so never inspected. Bases
      // come from this packet so that (edit-free) translation is the identity.
      DirectionState& me = session.dir(flow.direction);
      me.baseKnown = true;
      me.unwrap = SeqUnwrapper(packet.seq());
      if (ack) {
        DirectionState& other = session.dir(opposite(flow.direction));
        other.baseKnown = true;
        other.unwrap = SeqUnwrapper(packet.ack());
      }
      recordAnomaly(session, flow.direction, Reason::MidstreamPickup, true, effects);
    }
    return &session;
  }

  // Learns the sequence bases from SYNs (RFC 793 §3.3: the SYN occupies ISN; data starts at
  // ISN + 1) and the MSS the sender will accept; returns the original stream offset of the
  // packet's first payload byte.
  std::int64_t trackSequenceBases(Session& session, Direction dir, const PacketView& packet) {
    DirectionState& me = session.dir(dir);
    DirectionState& other = session.dir(opposite(dir));
    if (packet.hasFlag(tcp_flags::kSyn)) {
      me.baseKnown = true;
      me.unwrap = SeqUnwrapper(packet.seq() + 1);
      if (packet.options().mss) other.receiverMss = *packet.options().mss;
      if (packet.hasFlag(tcp_flags::kAck) && !other.baseKnown) {
        other.baseKnown = true;
        other.unwrap = SeqUnwrapper(packet.ack());
      }
    }
    if (!me.baseKnown) {
      // Only possible for a client packet after a SYN-ACK we did not see; follow the sender.
      me.baseKnown = true;
      me.unwrap = SeqUnwrapper(packet.seq());
    }
    return packet.hasFlag(tcp_flags::kSyn) ? 0 : me.unwrap.unwrap(packet.seq());
  }

  // RST, or FIN seen from both sides: the TCP connection ended; the session closes (its state
  // lingers for stragglers, Limits::closedSessionLinger).
  void noteConnectionEnd(Session& session, Direction dir, const PacketView& packet, Effects& effects) {
    const bool reset = packet.hasFlag(tcp_flags::kRst);
    const bool ended = reset || (session.dir(dir).finSeen && session.dir(opposite(dir)).finSeen);
    if (!ended || session.finished) return;
    session.finished = true;
    session.finishedAt = effects.now();
    if (!session.closed) closeSession(session, reset ? Reason::Reset : Reason::Fin, effects);
  }

  void closeSession(Session& session, Reason reason, Effects& effects) {
    if (session.closed) return;
    session.closed = true;
    if (session.pinholeId) closePinhole(*session.pinholeId, Reason::SessionClosed, effects);
    effects.count(Stat::SessionsClosed);
    effects.observe(session.key, SessionClosedObs{reason});
    emitter.releaseDecided(session, effects);  // nothing is undecided in a closed session
  }

  // Forgets the session (its table entry, and so the Session itself, is destroyed); the shell
  // may drop the flow from its resolver's cache.
  void eraseSession(Session& session, Effects& effects) {
    for (HeldPacket& held : session.held) effects.accept(held.id);
    session.held.clear();
    if (!session.closed) closeSession(session, Reason::Shutdown, effects);
    effects.forget(session.key);
    const FlowKey key = session.key;
    sessions.erase(key);
  }

  // ---------------------------------------------------------------------------------------------
  // Announcements and pinholes.

  void onAnnouncement(Session& session, Direction dir, const FramedLine& line, const ParsedAddress& parsed,
                      Effects& effects) override {
    DirectionState& me = session.dir(dir);
    AnnouncementDecision decision =
        decideAnnouncement(Announcement{dir, line, parsed, session.nat, me.emittedEnd, session.pinholeId},
                           config.policy, config.limits, pinholes, session.rate, effects.now());
    if (decision.refusal) {
      recordReject(session, dir, parsed.verb, *decision.refusal, line.text, effects);
      return;
    }
    if (decision.replacement && session.kernel.owned && !session.kernel.seqAdjust &&
        decision.replacement->replacement.size() != decision.replacement->original.size()) {
      // Conntrack keeps no sequence adjustment for this connection (anchored but not NAT'ed):
      // a length change would desynchronise it (kernel_session.hpp).
      recordReject(session, dir, parsed.verb, Reason::NoKernelSeqAdjust, line.text, effects);
      return;
    }
    if (decision.displaced) closePinhole(*decision.displaced, Reason::Replaced, effects);
    if (decision.replacement) {
      SpanReplacement& span = *decision.replacement;
      if (!me.adjuster.addEdit(span.offset, span.original, std::move(span.replacement))) {
        // Broken invariant (edits out of stream order): counted and logged; fail closed.
        assert(false && "edit out of stream order");
        recordAnomaly(session, dir, Reason::MalformedPacket, true, effects);
        return;
      }
      effects.count(Stat::Rewrites);
      effects.observe(session.key, Rewrite{dir, parsed.verb, escapeLine(line.text, kLogLineCap),
                                           escapeLine(span.lineAfter, kLogLineCap)});
    }
    openPinhole(session, dir, decision.connector, decision.announced, decision.natTo, effects);
  }

  // One pinhole per session: a new one replaces the session's previous one. `dir` is the
  // direction of the announcing line.
  void openPinhole(Session& session, Direction dir, const IpAddress& from, const Endpoint& to,
                   std::optional<Endpoint> natTo, Effects& effects) {
    if (session.pinholeId) closePinhole(*session.pinholeId, Reason::Replaced, effects);
    const Pinhole& pinhole = pinholes.open(session.key, from, to, natTo, config.policy.pinholeTimeout,
                                           effects.now(), session.nat, dir);
    session.pinholeId = pinhole.id;
    effects.count(Stat::PinholesOpened);
    effects.act(OpenPinhole{pinhole});
    effects.observe(session.key, PinholeOpened{pinhole});
  }

  void closePinhole(std::uint64_t id, Reason reason, Effects& effects) {
    const std::optional<Pinhole> pinhole = pinholes.close(id);
    if (!pinhole) return;
    if (std::unique_ptr<Session>* session = sessions.find(pinhole->control);
        session && (*session)->pinholeId == id) {
      (*session)->pinholeId.reset();
    }
    effects.count(Stat::PinholesClosed);
    effects.act(ClosePinhole{*pinhole, reason});
    effects.observe(pinhole->control, PinholeClosed{*pinhole, reason});
  }

  // ---------------------------------------------------------------------------------------------
  // Time.

  // The periodic sweep (hold timeouts, idle close, forgetting) visits every session once per
  // kScanInterval: a table of at most kSweepSlotsPerSlice slots in one pass, a larger one in
  // slices of that many slots spread over the interval, so no single timer call stalls the packet
  // path (100k sessions: 32 slices of well under a millisecond instead of one pass of ~20 ms).
  // A growth or an erase between slices moves entries: a session may then be visited one slice
  // early or late (never twice in a slice, never lost for more than one interval).
  void onTimer(Effects& effects) {
    const Timestamp now = effects.now();
    while (const auto expired = pinholes.firstExpiredBy(now))
      closePinhole(*expired, Reason::Expired, effects);
    if (nextScan && now < *nextScan) return;
    const std::size_t slots = sessions.slotCount();
    const std::size_t slices = (slots + kSweepSlotsPerSlice - 1) / kSweepSlotsPerSlice;
    nextScan = now + kScanInterval / static_cast<std::int64_t>(slices);
    if (sweepCursor >= slots) sweepCursor = 0;
    const std::size_t sliceEnd = std::min(slots, sweepCursor + kSweepSlotsPerSlice);
    sweepDoomed.clear();
    for (std::size_t slot = sweepCursor; slot < sliceEnd; ++slot) {
      if (std::unique_ptr<Session>* session = sessions.slotValue(slot);
          session && sweepSession(**session, effects)) {
        sweepDoomed.push_back((*session)->key);
      }
    }
    for (const FlowKey& key : sweepDoomed) {
      if (std::unique_ptr<Session>* session = sessions.find(key)) eraseSession(**session, effects);
    }
    sweepCursor = sliceEnd == slots ? 0 : sliceEnd;
  }

  // One session's periodic checks; true when the session is to be forgotten now.
  bool sweepSession(Session& session, Effects& effects) {
    const Timestamp now = effects.now();
    const Limits& limits = config.limits;
    if (!session.held.empty() && now - session.held.front().heldAt >= limits.holdTimeout) {
      recordAnomaly(session, session.held.front().dir, Reason::HoldTimeout, true, effects);
      emitter.releaseDecided(session, effects);
    }
    const Duration idleFor = now - session.lastSeen;
    if (!session.closed && idleFor >= limits.sessionIdleTimeout) {
      closeSession(session, Reason::IdleTimeout, effects);
    }
    // A session whose rewrites changed the stream length keeps translating seq/ack after an
    // idle close (the connection may resume: a long transfer leaves the control channel
    // silent), until the conntrack-like translatedSessionIdleTimeout. State after FIN/RST
    // lingers briefly for retransmitted FINs.
    return (session.finished && now - session.finishedAt >= limits.closedSessionLinger) ||
           (!session.finished && session.closed &&
            (!session.translates() || idleFor >= limits.translatedSessionIdleTimeout));
  }

  // Conntrack-owned mode (engine.hpp: onConntrackDestroyed): the TCP connection is gone.
  void onConntrackDestroyed(const FlowKey& key, Effects& effects) {
    std::unique_ptr<Session>* found = sessions.find(key);
    if (found == nullptr) return;
    Session& session = **found;
    if (!session.finished) {
      session.finished = true;
      session.finishedAt = effects.now();
    }
    if (!session.closed) closeSession(session, Reason::ConntrackDestroyed, effects);
  }

  // Engine::adopt. A kernel-owned connection whose dialog the previous instance verified is
  // taken over: each direction is read again from its next line start, with the kernel's records
  // as the starting offsets (KernelSequencer::adopt), and the pending expectation becomes the
  // session's pinhole (already in the kernel: no action), so the next announcement replaces it.
  // Any other connection is a mid-stream session, never inspected (its greeting cannot be
  // verified here), like a flow first seen mid-stream.
  //
  // A session that conntrack already ended (closed, lingering until the sweep) does not block the
  // takeover: its connection was destroyed and created again from replicated state (conntrackd's
  // commit on a router that takes over again, docs/ha.md), so the closed session is erased (its
  // flow forgotten) and the new connection adopted.
  void adopt(const KernelTakeover& takeover, Effects& effects) {
    const FlowContext& flow = takeover.flow;
    if (std::unique_ptr<Session>* existing = sessions.find(flow.key)) {
      if (!(*existing)->closed) return;
      eraseSession(**existing, effects);
    }
    if (sessions.size() >= config.limits.maxSessions) {
      effects.count(Stat::SessionsRefusedAtLimit);
      effects.count(Stat::Anomalies);
      effects.observe(flow.key, AnomalyObs{flow.direction, Reason::SessionLimit, true});
      return;
    }
    auto created = std::make_unique<Session>(flow, config.limits, config.policy, effects.now());
    Session& session = *created;
    sessions.emplace(flow.key, std::move(created));
    effects.count(Stat::SessionsOpened);
    effects.observe(session.key, SessionOpened{});
    if (!session.kernel.owned || !takeover.dialogVerified) {
      recordAnomaly(session, Direction::ClientToServer, Reason::MidstreamPickup, true, effects);
      return;
    }
    KernelSequencer::adopt(session, takeover);
    if (takeover.pending && takeover.pending->remaining.count() > 0) {
      const PendingExpectation& pending = *takeover.pending;
      const Direction announcedBy = pending.from == session.nat.serverReal.address
                                        ? Direction::ClientToServer
                                        : Direction::ServerToClient;
      const std::optional<Endpoint> natTo =
          pending.natTo == pending.to ? std::nullopt : std::optional<Endpoint>(pending.natTo);
      const Pinhole& pinhole = pinholes.open(session.key, pending.from, pending.to, natTo, pending.remaining,
                                             effects.now(), session.nat, announcedBy);
      session.pinholeId = pinhole.id;
    }
  }

  void shutdown(Effects& effects) {
    std::vector<FlowKey> keys;
    keys.reserve(sessions.size());
    for (std::size_t slot = 0; slot < sessions.slotCount(); ++slot) {
      if (const FlowKey* key = sessions.slotKey(slot)) keys.push_back(*key);
    }
    for (const FlowKey& key : keys) {
      std::unique_ptr<Session>* found = sessions.find(key);
      if (found == nullptr) continue;
      Session& session = **found;
      if (!session.held.empty()) {
        stopInspection(session, effects);
        emitter.releaseDecided(session, effects);
      }
      if (!session.closed) closeSession(session, Reason::Shutdown, effects);
      eraseSession(session, effects);
    }
    while (const auto id = pinholes.lowestId()) closePinhole(*id, Reason::Shutdown, effects);
  }
};

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

std::size_t Engine::sessionCount() const { return impl_->sessions.size(); }
std::size_t Engine::pinholeCount() const { return impl_->pinholes.size(); }

}  // namespace ftpalg
