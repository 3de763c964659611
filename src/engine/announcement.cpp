// The announcement decision: see include/ftpalg/engine/announcement.hpp.
#include "ftpalg/engine/announcement.hpp"

namespace ftpalg {

namespace {

AnnouncementDecision refuse(Reason reason) {
  AnnouncementDecision decision;
  decision.refusal = reason;
  return decision;
}

// Canonical text for the announced span of `verb`; nullopt for the verbs the control channel
// never lets through as announcements (LPRT, LPSV, 228: not_translated).
std::optional<std::string> formatSpan(AddressVerb verb, const Endpoint& announced, char delimiter) {
  switch (verb) {
    case AddressVerb::Port: return formatPortArgument(announced);
    case AddressVerb::Eprt: return formatEprtArgument(announced, delimiter);
    case AddressVerb::Reply227: return format227Tuple(announced);
    case AddressVerb::Reply229: return format229Port(announced.port);
    case AddressVerb::Lprt:
    case AddressVerb::Lpsv:
    case AddressVerb::Reply228: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

AnnouncementDecision decideAnnouncement(const Announcement& announcement, const Policy& policy,
                                        const Limits& limits, const PinholeTable& pinholes, TokenBucket& rate,
                                        Timestamp now) {
  const ParsedAddress& parsed = announcement.parsed;
  const FramedLine& line = announcement.line;
  const NatMapping& nat = announcement.nat;
  const bool fromClient = announcement.dir == Direction::ClientToServer;
  const Endpoint& announcerReal = fromClient ? nat.clientReal : nat.serverReal;
  const Endpoint& announcerSeen = fromClient ? nat.clientSeenByServer : nat.serverSeenByClient;
  const IpAddress& connector = fromClient ? nat.serverReal.address : nat.clientReal.address;

  // Only the verb (4 bytes of PORT/EPRT, 3 of 227/229) of a line that may become an
  // announcement is ever released before the line is complete (decidedFrontier). When more
  // of this line already left, it began before it could be one (e.g. a 227 begun before its
  // PASV was complete, so nothing was held): its text can no longer be rewritten and a
  // pinhole would open after the announcement was forwarded. Refuse it.
  const std::int64_t verbEnd = line.offset + (fromClient ? 4 : 3);
  if (announcement.emittedEnd > verbEnd) return refuse(Reason::AnnouncementNotHeld);
  // Anti-bounce (docs/security.md): the embedded address must be the announcing peer's own
  // address. A client must name its real address (never the router's). A server may also
  // name the address it is reached at (pasv_address set to the public address behind a port
  // forward): the pinhole then still forwards only to that server (docs/decisions/0005).
  const bool embeddedIsAnnouncer =
      parsed.address &&
      (*parsed.address == announcerReal.address || (!fromClient && *parsed.address == announcerSeen.address));
  if (parsed.address && policy.antiBounce == AntiBounceMode::Strict && !embeddedIsAnnouncer) {
    return refuse(Reason::AddressMismatch);
  }
  if (parsed.port == 0) return refuse(Reason::PortZero);
  if (parsed.port < policy.dataPortFloor) return refuse(Reason::PortBelowFloor);
  if (!rate.take(now, limits.pinholesPerSecond, limits.pinholeBurst)) {
    return refuse(Reason::PinholeRateLimit);
  }
  if (!announcement.ownPinhole && pinholes.size() >= limits.maxPinholes) {
    return refuse(Reason::PinholeLimit);
  }

  AnnouncementDecision decision;
  decision.connector = connector;
  // What the connecting peer is told, and where its connection really goes.
  const Endpoint realTarget{announcerReal.address, parsed.port};
  // Only a NAT'ed announcer can be given another public port; otherwise the port is the
  // announcer's own listener and a stale pinhole of another session on the same slot goes.
  const bool portTranslatable = announcerSeen.address != announcerReal.address;
  std::optional<std::uint16_t> publicPort = parsed.port;
  if (portTranslatable) {
    publicPort = pinholes.choosePublicPort(connector, announcerSeen.address, parsed.port,
                                           announcement.ownPinhole, policy.dataPortFloor);
    if (!publicPort) return refuse(Reason::NoPublicPort);
  } else if (const auto holder = pinholes.holder(connector, realTarget);
             holder && holder != announcement.ownPinhole) {
    decision.displaced = holder;
  }
  decision.announced = Endpoint{announcerSeen.address, *publicPort};
  if (realTarget != decision.announced) decision.natTo = realTarget;

  // Span-only rewrite when the announced text must change.
  const bool addressChanges = parsed.address && *parsed.address != decision.announced.address;
  const bool portChanges = decision.announced.port != parsed.port;
  if (addressChanges || portChanges) {
    auto replacement = formatSpan(parsed.verb, decision.announced, parsed.delimiter);
    if (!replacement) return refuse(Reason::NotTranslated);
    SpanReplacement span;
    span.offset = line.offset + static_cast<std::int64_t>(parsed.spanBegin);
    span.original = line.text.substr(parsed.spanBegin, parsed.spanEnd - parsed.spanBegin);
    span.lineAfter.assign(line.text.substr(0, parsed.spanBegin));
    span.lineAfter += *replacement;
    span.lineAfter += line.text.substr(parsed.spanEnd);
    span.replacement = std::move(*replacement);
    decision.replacement = std::move(span);
  }
  return decision;
}

}  // namespace ftpalg
