// A session's life after admission (Engine::Impl, engine_impl.hpp): its announcements (the edit
// and the pinhole), pinholes opened and closed, the connection's end, the timers (pinhole expiry,
// the sliced sweep), conntrack's news (destroy events, takeovers) and the engine's shutdown.
#include "engine_impl.hpp"

namespace ftpalg {

void Engine::Impl::noteConnectionEnd(Session& session, Direction dir, bool reset, Effects& effects) {
  const bool ended = reset || (session.dir(dir).finSeen && session.dir(opposite(dir)).finSeen);
  if (!ended || session.finished) return;
  session.finished = true;
  session.finishedAt = effects.now();
  if (!session.closed) closeSession(session, reset ? Reason::Reset : Reason::Fin, effects);
}

void Engine::Impl::closeSession(Session& session, Reason reason, Effects& effects) {
  if (session.closed) return;
  session.closed = true;
  if (session.pinholeId) closePinhole(*session.pinholeId, Reason::SessionClosed, effects);
  effects.count(Stat::SessionsClosed);
  effects.observe(session.key, SessionClosedObs{reason});
  emitter.releaseDecided(session, effects);  // nothing is undecided in a closed session
}

void Engine::Impl::eraseSession(Session& session, Effects& effects) {
  for (HeldPacket& held : session.held) effects.accept(held.id);
  session.held.clear();
  if (!session.closed) closeSession(session, Reason::Shutdown, effects);
  effects.forget(session.key);
  const FlowKey key = session.key;
  sessions.erase(key);
}

void Engine::Impl::onAnnouncement(Session& session, Direction dir, const FramedLine& line,
                                  const ParsedAddress& parsed, Effects& effects) {
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

void Engine::Impl::openPinhole(Session& session, Direction dir, const IpAddress& from, const Endpoint& to,
                               std::optional<Endpoint> natTo, Effects& effects) {
  if (session.pinholeId) closePinhole(*session.pinholeId, Reason::Replaced, effects);
  const Pinhole& pinhole = pinholes.open(session.key, from, to, natTo, config.policy.pinholeTimeout,
                                         effects.now(), session.nat, dir);
  session.pinholeId = pinhole.id;
  effects.count(Stat::PinholesOpened);
  effects.act(OpenPinhole{pinhole});
  effects.observe(session.key, PinholeOpened{pinhole});
}

void Engine::Impl::closePinhole(std::uint64_t id, Reason reason, Effects& effects) {
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

void Engine::Impl::onTimer(Effects& effects) {
  const Timestamp now = effects.now();
  while (const auto expired = pinholes.firstExpiredBy(now)) closePinhole(*expired, Reason::Expired, effects);
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

bool Engine::Impl::sweepSession(Session& session, Effects& effects) {
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

void Engine::Impl::onConntrackDestroyed(const FlowKey& key, Effects& effects) {
  std::unique_ptr<Session>* found = sessions.find(key);
  if (found == nullptr) return;
  Session& session = **found;
  if (!session.finished) {
    session.finished = true;
    session.finishedAt = effects.now();
  }
  if (!session.closed) closeSession(session, Reason::ConntrackDestroyed, effects);
}

void Engine::Impl::adopt(const KernelTakeover& takeover, Effects& effects) {
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
    const Direction announcedBy = pending.from == session.nat.serverReal.address ? Direction::ClientToServer
                                                                                 : Direction::ServerToClient;
    const std::optional<Endpoint> natTo =
        pending.natTo == pending.to ? std::nullopt : std::optional<Endpoint>(pending.natTo);
    const Pinhole& pinhole = pinholes.open(session.key, pending.from, pending.to, natTo, pending.remaining,
                                           effects.now(), session.nat, announcedBy);
    session.pinholeId = pinhole.id;
  }
}

void Engine::Impl::shutdown(Effects& effects) {
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

}  // namespace ftpalg
