// Session admission (Engine::Impl, engine_impl.hpp): which packet starts a session (a real
// handshake: a client SYN, or a server SYN-ACK the shell proves answers one), restarts it (a new
// handshake on the 4-tuple) or picks it up mid-stream (never inspected); docs/security.md
// "Sessions start at a real handshake".
#include "engine_impl.hpp"

namespace ftpalg {

Engine::Impl::HandshakeRole Engine::Impl::handshakeRole(Direction dir, const PacketView& packet) {
  if (!packet.hasFlag(tcp_flags::kSyn)) return HandshakeRole::None;
  const bool ack = packet.hasFlag(tcp_flags::kAck);
  if (dir == Direction::ClientToServer && !ack) return HandshakeRole::ClientSyn;
  if (dir == Direction::ServerToClient && ack) return HandshakeRole::ServerSynAck;
  return HandshakeRole::Other;
}

Session* Engine::Impl::admit(const FlowContext& flow, const PacketView& packet, Effects& effects) {
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

Session* Engine::Impl::start(const FlowContext& flow, const PacketView& packet, HandshakeRole role,
                             Effects& effects) {
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

Session& Engine::Impl::replace(Session& old, const FlowContext& flow, Effects& effects) {
  if (!old.closed) closeSession(old, Reason::Reopened, effects);
  std::unique_ptr<Session>& entry = *sessions.find(old.key);
  entry = std::make_unique<Session>(flow, config.limits, config.policy, effects.now());
  effects.count(Stat::SessionsOpened);
  effects.observe(entry->key, SessionOpened{});
  return *entry;
}

ClientSyn Engine::Impl::clientSynOf(const PacketView& packet) {
  return ClientSyn{packet.seq(), packet.options().mss, packet.options().windowScale, packet.window()};
}

void Engine::Impl::beginAtClientSyn(Session& session, const ClientSyn& syn) {
  DirectionState& c2s = session.dir(Direction::ClientToServer);
  c2s.baseKnown = true;
  c2s.unwrap = SeqUnwrapper(syn.isn + 1);
  c2s.offeredWindowShift = syn.windowShift;
  if (syn.mss) session.dir(Direction::ServerToClient).receiverMss = *syn.mss;
  session.clientIsn = syn.isn;
  session.clientSynWindow = syn.window;
}

void Engine::Impl::completeHandshake(Session& session, const FlowContext& flow, const PacketView& packet) {
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

void Engine::Impl::pickUpMidstream(Session& session, Direction dir, const PacketView& packet,
                                   Effects& effects) {
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

TcpSegmentInfo Engine::Impl::describeSegment(const Session& session, Direction dir,
                                             const PacketView& packet) const {
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

}  // namespace ftpalg
