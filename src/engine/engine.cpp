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
#include "ftpalg/packet/checksum.hpp"
#include "ftpalg/tcp/tcp_window.hpp"

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
        emitter(config.limits, config.ackSpace, config.checksums) {}

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

  // A packet of a kernel-owned session (the conntrack-owned mode, docs/design.md). Conntrack
  // validated it before queueing (INVALID is never queued, nor are RSTs and pure ACKs): the
  // engine sees only payload segments (and the server's SYN-ACK), so it keeps no window state it
  // could not complete and judges no RST or FIN; the session ends only when conntrack destroys
  // the entry (onConntrackDestroyed). A taken-over connection first finds its next line start.
  void onKernelOwnedPacket(Session& session, Direction dir, PacketId id, std::span<const std::uint8_t> bytes,
                           const PacketView& packet, Effects& effects) {
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

  // Whether the packet's checksums let it be believed (checksum::checkPacket; an Offloaded TCP
  // checksum only where the input may carry one, EngineConfig::checksums).
  bool checksumsUsable(const PacketView& packet) const {
    const checksum::ChecksumState state = checksum::checkPacket(packet);
    return state == checksum::ChecksumState::Valid ||
           (state == checksum::ChecksumState::Offloaded && config.checksums == ChecksumInput::MayBeOffloaded);
  }

  // A packet whose checksums fail is one its receiver drops (RFC 9293 §3.1): like conntrack
  // (nf_conntrack_checksum), the engine neither inspects it nor lets it start, move or end
  // anything. Counted, logged for its session, and passed on (emitCorrupt).
  void passCorrupt(PacketId id, const PacketView& packet, const FlowContext& flow, Effects& effects) {
    effects.count(Stat::PacketsBadChecksum);
    std::unique_ptr<Session>* found = sessions.find(flow.key);
    if (found == nullptr) {
      effects.accept(id);
      return;
    }
    recordAnomaly(**found, flow.direction, Reason::BadChecksum, false, effects);
    emitter.emitCorrupt(**found, flow.direction, id, packet, effects);
  }

  // Which part a packet plays in a TCP handshake.
  enum class HandshakeRole : std::uint8_t {
    None,          // no SYN
    ClientSyn,     // SYN from the client
    ServerSynAck,  // SYN-ACK from the server
    Other,         // a SYN from the server, a SYN-ACK from the client: never part of a start here
  };
  static HandshakeRole handshakeRole(Direction dir, const PacketView& packet) {
    if (!packet.hasFlag(tcp_flags::kSyn)) return HandshakeRole::None;
    const bool ack = packet.hasFlag(tcp_flags::kAck);
    if (dir == Direction::ClientToServer && !ack) return HandshakeRole::ClientSyn;
    if (dir == Direction::ServerToClient && ack) return HandshakeRole::ServerSynAck;
    return HandshakeRole::Other;
  }

  // The packet's session, after starting or restarting it when the packet's SYN says so
  // (docs/security.md "Sessions start at a real handshake"). nullptr when the packet is to pass
  // as it is, outside any session: an RST for an unknown flow, the session limit, or a SYN that
  // plays no part here (a retransmission, a client SYN waiting for the SYN-ACK that would prove
  // it, an unexpected one).
  Session* admit(const FlowContext& flow, const PacketView& packet, Effects& effects) {
    const HandshakeRole role = handshakeRole(flow.direction, packet);
    std::unique_ptr<Session>* found = sessions.find(flow.key);
    if (found == nullptr) return start(flow, packet, role, effects);
    Session& session = **found;
    switch (role) {
      case HandshakeRole::None: return &session;
      case HandshakeRole::ClientSyn:
        if (session.finished) {
          // The connection ended (an accepted RST, or FINs both ways): a new one begins, whatever
          // its ISN, as conntrack re-creates an entry for a SYN in TIME_WAIT or CLOSE.
          Session& fresh = replace(session, flow, effects);
          beginAtClientSyn(fresh, clientSynOf(packet));
          return &fresh;
        }
        if (session.clientIsn == packet.seq() && !session.serverIsn) return nullptr;  // retransmitted
        // Anyone can send a SYN; only the server's SYN-ACK to it proves a new connection. On an
        // established session even one with the old ISN may be a new connection (conntrack
        // remembers the SYN it ignores in the same way).
        session.reopening = clientSynOf(packet);
        return nullptr;
      case HandshakeRole::ServerSynAck: {
        const bool answersOurSyn = session.clientIsn && packet.ack() == *session.clientIsn + 1;
        if (answersOurSyn && session.serverIsn == packet.seq()) return nullptr;  // retransmitted
        if (session.reopening && packet.ack() == session.reopening->isn + 1) {
          const ClientSyn syn = *session.reopening;
          Session& fresh = replace(session, flow, effects);
          beginAtClientSyn(fresh, syn);
          completeHandshake(fresh, flow, packet);
          return &fresh;
        }
        if (answersOurSyn && !session.serverIsn) {
          completeHandshake(session, flow, packet);
          return &session;
        }
        if (session.kernel.owned) {
          // A taken-over connection whose server side is not in step yet: resync's to judge.
          if (session.kernel.adopted && !session.dir(Direction::ServerToClient).baseKnown) return &session;
          if (flow.clientSyn) {
            // Conntrack's entry is in a new handshake (its old entry was replaced: the client's
            // SYN is never queued, and neither RST nor FIN ends such a session): a new
            // connection, whichever ISN is new.
            Session& fresh = replace(session, flow, effects);
            completeHandshake(fresh, flow, packet);
            return &fresh;
          }
        }
        if (!answersOurSyn && flow.clientSyn) {
          // Live: conntrack saw a new SYN on this 4-tuple that the engine did not.
          Session& fresh = replace(session, flow, effects);
          completeHandshake(fresh, flow, packet);
          return &fresh;
        }
        break;
      }
      case HandshakeRole::Other: break;
    }
    recordAnomaly(session, flow.direction, Reason::UnexpectedSyn, false, effects);
    return nullptr;
  }

  // A packet of a flow without a session: a client SYN, or a server SYN-ACK that the shell proves
  // answers a SYN (FlowContext::clientSyn), starts one; any other packet is picked up mid-stream
  // and never inspected.
  Session* start(const FlowContext& flow, const PacketView& packet, HandshakeRole role, Effects& effects) {
    if (packet.hasFlag(tcp_flags::kRst)) return nullptr;
    const bool handshake =
        role == HandshakeRole::ClientSyn || (role == HandshakeRole::ServerSynAck && flow.clientSyn);
    if (sessions.size() >= config.limits.maxSessions) {
      if (handshake) {  // once per refused connection: its first handshake packet seen
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
    if (role == HandshakeRole::ClientSyn) {
      beginAtClientSyn(session, clientSynOf(packet));
    } else if (handshake) {
      completeHandshake(session, flow, packet);
    } else {
      pickUpMidstream(session, flow.direction, packet, effects);
    }
    return &session;
  }

  // A new handshake on the session's 4-tuple: the session closes (its pinhole goes, its held
  // packets leave) and a fresh one takes its table entry. The flow stays known to the shell.
  Session& replace(Session& old, const FlowContext& flow, Effects& effects) {
    if (!old.closed) closeSession(old, Reason::Reopened, effects);
    std::unique_ptr<Session>& entry = *sessions.find(old.key);
    entry = std::make_unique<Session>(flow, config.limits, config.policy, effects.now());
    effects.count(Stat::SessionsOpened);
    effects.observe(entry->key, SessionOpened{});
    return *entry;
  }

  static ClientSyn clientSynOf(const PacketView& packet) {
    return ClientSyn{packet.seq(), packet.options().mss, packet.options().windowScale, packet.window()};
  }

  // The client's SYN (RFC 9293 §3.4: it occupies the ISN; data starts at ISN + 1).
  static void beginAtClientSyn(Session& session, const ClientSyn& syn) {
    DirectionState& c2s = session.dir(Direction::ClientToServer);
    c2s.baseKnown = true;
    c2s.unwrap = SeqUnwrapper(syn.isn + 1);
    c2s.offeredWindowShift = syn.windowShift;
    if (syn.mss) session.dir(Direction::ServerToClient).receiverMss = *syn.mss;
    session.clientIsn = syn.isn;
    session.clientSynWindow = syn.window;
  }

  // The server's SYN-ACK to the session's SYN (or, live, to the SYN conntrack saw: the client's
  // ISN is then the one it acknowledges). Fixes both directions' window scaling (RFC 7323 §2.2: in
  // effect only when both SYNs carry the option).
  static void completeHandshake(Session& session, const FlowContext& flow, const PacketView& packet) {
    DirectionState& c2s = session.dir(Direction::ClientToServer);
    DirectionState& s2c = session.dir(Direction::ServerToClient);
    s2c.baseKnown = true;
    s2c.unwrap = SeqUnwrapper(packet.seq() + 1);
    s2c.offeredWindowShift = packet.options().windowScale;
    if (packet.options().mss) c2s.receiverMss = *packet.options().mss;
    session.serverIsn = packet.seq();
    if (!session.clientIsn) {
      c2s.baseKnown = true;
      c2s.unwrap = SeqUnwrapper(packet.ack());
      session.clientIsn = packet.ack() - 1;
      if (flow.clientSyn) c2s.offeredWindowShift = flow.clientSyn->windowShift;
    } else {
      // What the server may send before the client's first ACK: the client SYN's window.
      s2c.window.windowEnd = session.clientSynWindow;
      s2c.window.maxWindow = session.clientSynWindow;
    }
    const bool scaling = c2s.offeredWindowShift && s2c.offeredWindowShift;
    for (DirectionState* d : {&c2s, &s2c}) {
      d->windowShiftKnown = true;
      d->windowShift = scaling ? std::min(*d->offeredWindowShift, kMaxWindowShift) : std::uint8_t{0};
    }
  }

  // Picked up mid-stream: the 220 greeting cannot be verified, so never inspected. Bases come from
  // this packet so that (edit-free) translation is the identity; window scaling stays unknown.
  static void pickUpMidstream(Session& session, Direction dir, const PacketView& packet, Effects& effects) {
    DirectionState& me = session.dir(dir);
    me.baseKnown = true;
    me.unwrap = SeqUnwrapper(packet.seq());
    if (packet.hasFlag(tcp_flags::kAck)) {
      DirectionState& other = session.dir(opposite(dir));
      other.baseKnown = true;
      other.unwrap = SeqUnwrapper(packet.ack());
    }
    recordAnomaly(session, dir, Reason::MidstreamPickup, true, effects);
  }

  // The packet's sequence numbers as tcp_window.hpp judges them: its seq in its own original
  // space, its ACK and window edge mapped into the other direction's original space.
  TcpSegmentInfo describeSegment(const Session& session, Direction dir, const PacketView& packet) const {
    const DirectionState& me = session.dir(dir);
    const DirectionState& other = session.dir(opposite(dir));
    TcpSegmentInfo segment;
    segment.seq = me.unwrap.peek(packet.seq());
    segment.fin = packet.hasFlag(tcp_flags::kFin);
    segment.length = static_cast<std::int64_t>(packet.payload().size()) +
                     (packet.hasFlag(tcp_flags::kSyn) ? 1 : 0) + (segment.fin ? 1 : 0);
    // Some stacks send RST+ACK with an acknowledgement of 0 (conntrack ignores it too).
    const bool brokenResetAck = packet.hasFlag(tcp_flags::kRst) && packet.ack().raw() == 0;
    if (!packet.hasFlag(tcp_flags::kAck) || !other.baseKnown || brokenResetAck) return segment;
    // RFC 7323 §2.2: the window of a SYN is never scaled.
    const std::uint8_t shift = packet.hasFlag(tcp_flags::kSyn) ? 0
                               : me.windowShiftKnown           ? me.windowShift
                                                               : kMaxWindowShift;
    segment.window = static_cast<std::int64_t>(packet.window()) << shift;
    const std::int64_t ack = other.unwrap.peek(packet.ack());
    segment.ack = receivedToOriginal(other, ack, config.ackSpace);
    segment.windowEnd = receivedToOriginal(other, ack + segment.window, config.ackSpace);
    return segment;
  }

  // An accepted RST, or accepted FINs from both sides: the TCP connection ended; the session
  // closes (its state lingers for stragglers, Limits::closedSessionLinger).
  void noteConnectionEnd(Session& session, Direction dir, bool reset, Effects& effects) {
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
