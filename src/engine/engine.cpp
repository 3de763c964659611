// Engine: the life of a packet (docs/architecture.md).
//
//   resolve flow -> session (create / midstream / limit) -> SYN bookkeeping (bases, MSS)
//   -> SegmentTracker (in-order bytes) -> LineFramer / TlsRecordTracker -> ControlChannel
//   -> policy (anti-bounce, port floor, rate, caps) -> StreamEdit + pinhole actions
//   -> decided frontier -> release (or hold) packets: payload transform, seq, ack, SACK.
//
// Sequence spaces: each direction has an ORIGINAL space (what its sender sent) and an OUTPUT
// space (what its receiver sees after edits). A packet's seq is mapped original -> output with
// its own direction's SeqAdjuster; its ack and SACK edges acknowledge the OTHER direction's
// output and are mapped output -> original with the other direction's SeqAdjuster.
#include "ftpalg/engine/engine.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "ftpalg/core/ascii.hpp"
#include "ftpalg/engine/escape.hpp"
#include "ftpalg/engine/flow_table.hpp"
#include "ftpalg/ftp/address_codec.hpp"
#include "ftpalg/ftp/control_channel.hpp"
#include "ftpalg/ftp/line_framer.hpp"
#include "ftpalg/ftp/tls_record_tracker.hpp"
#include "ftpalg/packet/packet_rewriter.hpp"
#include "ftpalg/tcp/segment_tracker.hpp"
#include "ftpalg/tcp/seq_adjuster.hpp"

namespace ftpalg {

namespace {

constexpr std::int64_t kUndecidedNever = std::numeric_limits<std::int64_t>::max();
constexpr std::uint16_t kDefaultMssV4 = 536;   // RFC 1122 §4.2.2.6
constexpr std::uint16_t kDefaultMssV6 = 1220;  // RFC 8200 §5 minimum MTU 1280 - 60
constexpr std::size_t kLogLineCap = 256;
constexpr Duration kScanInterval = std::chrono::seconds(1);
constexpr std::size_t kSweepSlotsPerSlice = 8192;

// True when `partial` (an incomplete line) could still become `keyword` followed by a
// space-or-end, ignoring case. keyword is upper case.
bool couldBecomeCommand(std::string_view partial, std::string_view keyword) {
  const std::size_t n = std::min(partial.size(), keyword.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (asciiUpper(partial[i]) != keyword[i]) return false;
  }
  if (partial.size() > keyword.size() && partial[keyword.size()] != ' ') return false;
  return true;
}

// True when `partial` could still become a reply line with `code` ("227") as the first line of
// a reply: the code followed by ' ' or '-'.
bool couldBecomeReply(std::string_view partial, std::string_view code) {
  const std::size_t n = std::min(partial.size(), code.size());
  if (partial.substr(0, n) != code.substr(0, n)) return false;
  if (partial.size() > code.size() && partial[code.size()] != ' ' && partial[code.size()] != '-') {
    return false;
  }
  return true;
}

// Pinholes are unique per (connecting peer, destination endpoint).
struct PinholeSlot {
  IpAddress from;
  Endpoint to;
  friend bool operator==(const PinholeSlot&, const PinholeSlot&) = default;
};
struct PinholeSlotHash {
  std::size_t operator()(const PinholeSlot& slot) const noexcept {
    return EndpointHash{}(slot.to) * 31 + EndpointHash{}(Endpoint{slot.from, 0});
  }
};

}  // namespace

struct Engine::Impl {
  // One direction of a control connection.
  struct DirectionState {
    explicit DirectionState(const Limits& limits, const Policy& policy)
        : tracker(limits.maxOutOfOrderBytes),
          framer(limits.maxLineLength, policy.acceptBareLf) {}

    // Hot fields first (every packet of this direction reads them), TLS state last.
    bool baseKnown = false;
    bool inTls = false;        // bytes are TLS records (after AUTH + 234)
    bool finSeen = false;
    std::uint16_t receiverMss = 0;  // MSS the receiver of this direction advertised (0: unknown)
    std::int64_t emittedEnd = 0;    // original offset up to which payload has been emitted
    SeqUnwrapper unwrap;       // sender's sequence numbers -> stream offsets (both spaces)
    SegmentTracker tracker;    // original space
    LineFramer framer;         // original space
    SeqAdjuster adjuster;      // original <-> output
    TlsRecordTracker tls;
  };

  struct HeldPacket {
    PacketId id = 0;
    Direction dir = Direction::ClientToServer;
    std::int64_t offset = 0;  // original stream offset of the first payload byte
    Timestamp heldAt;
    std::vector<std::uint8_t> bytes;
  };

  struct Session {
    Session(const FlowContext& context, const EngineConfig& config, Timestamp now)
        : key(context.key),
          lastSeen(now),
          tokens(static_cast<double>(config.limits.pinholeBurst)),
          tokensAt(now),
          family(context.key.client.address.family()),
          channel(context.key.client.address.family()),
          dirs{DirectionState(config.limits, config.policy), DirectionState(config.limits, config.policy)},
          nat(context.nat) {}

    // Layout: what every packet reads first (flags, times, held packets), then the two
    // directions, then what only announcements read (the NAT mapping). 100k sessions do not fit
    // in cache: each packet pays a miss per cache line it touches (docs/performance.md).
    FlowKey key;
    bool inspecting = true;
    bool closed = false;     // no more inspection or pinholes (FIN/RST, idle, shutdown)
    bool finished = false;   // the TCP connection ended (RST, or FIN both ways)
    Timestamp finishedAt;
    Timestamp lastSeen;
    std::vector<HeldPacket> held;
    std::size_t heldBytes = 0;
    std::optional<std::uint64_t> pinholeId;
    double tokens;
    Timestamp tokensAt;
    std::size_t multiLineBytes = 0;
    IpFamily family;
    ControlChannel channel;
    DirectionState dirs[2];
    NatMapping nat;

    DirectionState& dir(Direction d) { return dirs[static_cast<int>(d)]; }
  };

  Impl(Engine& owner, FlowResolver& flowResolver) : engine(owner), resolver(flowResolver) {}

  Engine& engine;
  FlowResolver& resolver;
  FlowTable<std::unique_ptr<Session>> sessions;
  std::map<std::uint64_t, Pinhole> pinholes;                      // by id
  std::unordered_map<PinholeSlot, std::uint64_t, PinholeSlotHash> pinholeSlots;
  std::multimap<Timestamp, std::uint64_t> pinholeExpiries;
  std::uint64_t nextPinholeId = 1;
  std::optional<Timestamp> nextScan;
  std::size_t sweepCursor = 0;          // first slot of the next sweep slice
  std::vector<FlowKey> sweepDoomed;     // reused: sessions a slice forgets

  // Per-call context.
  Outcome* out = nullptr;
  Timestamp now;
  std::vector<std::uint8_t> scratchPayload;

  const Policy& policy() const { return engine.config_.policy; }
  const Limits& limits() const { return engine.config_.limits; }
  Stats& stats() { return engine.stats_; }

  void observe(const Session& session, ObservationBody body) {
    out->observations.push_back(Observation{now, session.key, std::move(body)});
  }

  void anomaly(Session& session, Direction dir, Reason reason, bool stopInspecting) {
    stats().add(Stat::Anomalies);
    const bool stops = stopInspecting && session.inspecting;
    observe(session, AnomalyObs{dir, reason, stops});
    if (stops) stopInspection(session);
  }

  // Fail open per flow: no more parsing, no more pinholes; existing edits keep being applied.
  void stopInspection(Session& session) {
    if (!session.inspecting) return;
    session.inspecting = false;
    stats().add(Stat::FlowsUninspected);
  }

  // ---------------------------------------------------------------------------------------------
  void onPacket(const PacketMeta& meta, std::span<const std::uint8_t> bytes) {
    stats().add(Stat::PacketsSeen);
    PacketParseError parseError{};
    const auto view = PacketView::parse(bytes, &parseError);
    if (!view) {
      stats().add(Stat::PacketsMalformed);
      out->verdicts.push_back(PacketVerdict{meta.id, VerdictKind::Accept, {}});
      return;
    }
    const auto context = resolver.resolve(*view);
    if (!context) {
      out->verdicts.push_back(PacketVerdict{meta.id, VerdictKind::Accept, {}});
      return;
    }
    Session* session = findOrCreateSession(*context, *view);
    if (session == nullptr) {
      out->verdicts.push_back(PacketVerdict{meta.id, VerdictKind::Accept, {}});
      return;
    }
    session->lastSeen = now;
    handlePacket(*session, context->direction, meta.id, *view, bytes);
  }

  Session* findOrCreateSession(const FlowContext& context, const PacketView& view) {
    const bool syn = view.hasFlag(tcp_flags::kSyn);
    const bool ack = view.hasFlag(tcp_flags::kAck);
    if (std::unique_ptr<Session>* found = sessions.find(context.key)) {
      // A new handshake on the 4-tuple of a closed session starts a new session.
      if (!((*found)->closed && syn && !ack && context.direction == Direction::ClientToServer)) {
        return found->get();
      }
      eraseSession(**found);
    }
    if (view.hasFlag(tcp_flags::kRst)) return nullptr;
    if (sessions.size() >= limits().maxSessions) {
      if (syn && !ack) {  // once per refused connection: its SYN, not the SYN-ACK
        stats().add(Stat::SessionsRefusedAtLimit);
        stats().add(Stat::Anomalies);
        out->observations.push_back(
            Observation{now, context.key, AnomalyObs{context.direction, Reason::SessionLimit, true}});
      }
      return nullptr;
    }
    auto session = std::make_unique<Session>(context, engine.config_, now);
    Session* raw = session.get();
    sessions.emplace(context.key, std::move(session));
    stats().add(Stat::SessionsOpened);
    observe(*raw, SessionOpened{});
    const bool handshakeStart = (syn && !ack && context.direction == Direction::ClientToServer) ||
                                (syn && ack && context.direction == Direction::ServerToClient);
    if (!handshakeStart) {
      // Picked up mid-stream: the 220 greeting cannot be verified, so never inspected. Bases
      // come from this packet so that (edit-free) translation is the identity.
      DirectionState& me = raw->dir(context.direction);
      me.baseKnown = true;
      me.unwrap = SeqUnwrapper(view.seq());
      if (ack) {
        DirectionState& other = raw->dir(opposite(context.direction));
        other.baseKnown = true;
        other.unwrap = SeqUnwrapper(view.ack());
      }
      anomaly(*raw, context.direction, Reason::MidstreamPickup, true);
    }
    return raw;
  }

  // Forgets the session (its table entry, and so the Session itself, is destroyed).
  void eraseSession(Session& session) {
    for (HeldPacket& held : session.held) {
      out->verdicts.push_back(PacketVerdict{held.id, VerdictKind::Accept, {}});
    }
    session.held.clear();
    if (!session.closed) closeSession(session, Reason::Shutdown);
    resolver.forget(session.key);
    const FlowKey key = session.key;
    sessions.erase(key);
  }

  // ---------------------------------------------------------------------------------------------
  void handlePacket(Session& session, Direction dir, PacketId id, const PacketView& view,
                    std::span<const std::uint8_t> bytes) {
    DirectionState& me = session.dir(dir);
    DirectionState& other = session.dir(opposite(dir));

    if (view.hasFlag(tcp_flags::kSyn)) {
      // RFC 793 §3.3: the SYN occupies ISN; data starts at ISN + 1.
      me.baseKnown = true;
      me.unwrap = SeqUnwrapper(view.seq() + 1);
      if (view.options().mss) other.receiverMss = *view.options().mss;
      if (view.hasFlag(tcp_flags::kAck) && !other.baseKnown) {
        other.baseKnown = true;
        other.unwrap = SeqUnwrapper(view.ack());
      }
    }
    if (!me.baseKnown) {
      // Only possible for a client packet after a SYN-ACK we did not see; follow the sender.
      me.baseKnown = true;
      me.unwrap = SeqUnwrapper(view.seq());
    }

    const std::int64_t offset = view.hasFlag(tcp_flags::kSyn) ? 0 : me.unwrap.unwrap(view.seq());
    const auto payload = view.payload();
    stats().add(Stat::PayloadBytes, payload.size());

    if (!payload.empty() && session.inspecting && !session.closed) {
      inspectPayload(session, dir, offset, payload);
    }
    if (view.hasFlag(tcp_flags::kFin)) me.finSeen = true;

    // Release what the new bytes decided, then this packet (held when undecided).
    releaseDecided(session);
    const std::int64_t frontier = decidedFrontier(session, dir);
    const std::int64_t end = offset + static_cast<std::int64_t>(payload.size());
    const bool needsHold = payload.empty() ? (view.hasFlag(tcp_flags::kFin) && offset > frontier)
                                           : end > frontier;
    if (needsHold && holdPacket(session, dir, id, offset, bytes)) {
      // Held: its verdict comes later.
    } else {
      emit(session, dir, id, view, offset);
    }

    const bool ended = view.hasFlag(tcp_flags::kRst) || (me.finSeen && other.finSeen);
    if (ended && !session.finished) {
      session.finished = true;
      session.finishedAt = now;
      if (!session.closed) closeSession(session, view.hasFlag(tcp_flags::kRst) ? Reason::Reset : Reason::Fin);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Stream inspection.

  void inspectPayload(Session& session, Direction dir, std::int64_t offset,
                      std::span<const std::uint8_t> payload) {
    DirectionState& me = session.dir(dir);
    if (dir == Direction::ClientToServer &&
        session.channel.state() == ChannelState::AwaitingGreeting) {
      // The client spoke before the server's 220: slipstreaming, never FTP (ADVERSARIAL 10).
      session.channel.clientSpokeFirst();
      anomaly(session, dir, Reason::ClientSpokeFirst, true);
      return;
    }
    checkUndecidedRetransmission(session, dir, offset, payload);
    if (!session.inspecting) return;
    const TrackResult result = me.tracker.accept(
        offset, payload, [&](std::int64_t chunkOffset, std::string_view chunk) {
          if (session.inspecting) consumeBytes(session, dir, chunkOffset, chunk);
        });
    if (result.duplicate) stats().add(Stat::Retransmissions);
    if (result.conflict) anomaly(session, dir, Reason::RetransmissionConflict, false);
    if (result.overLimit) anomaly(session, dir, Reason::OutOfOrderLimit, true);
  }

  // A re-sent copy of bytes that are delivered but not yet decided (the partial line) must
  // match them: first-seen bytes win (ADVERSARIAL 17). Bytes inside a recorded edit must match
  // the edit's original bytes.
  void checkUndecidedRetransmission(Session& session, Direction dir, std::int64_t offset,
                                    std::span<const std::uint8_t> payload) {
    DirectionState& me = session.dir(dir);
    const std::int64_t end = offset + static_cast<std::int64_t>(payload.size());
    bool conflict = false;
    if (!me.inTls) {
      const std::int64_t partialStart = me.framer.partialLineOffset();
      const std::string_view partial = me.framer.partialLine();
      const std::int64_t partialEnd = partialStart + static_cast<std::int64_t>(partial.size());
      const std::int64_t from = std::max(offset, partialStart);
      const std::int64_t to = std::min(end, partialEnd);
      for (std::int64_t i = from; i < to && !conflict; ++i) {
        conflict = static_cast<char>(payload[static_cast<std::size_t>(i - offset)]) !=
                   partial[static_cast<std::size_t>(i - partialStart)];
      }
    }
    // Only a re-sent copy of edited bytes can differ from an edit's original (O(log n) check
    // first: almost every packet carries none).
    const bool touchesEdits = !conflict && me.adjuster.touches(offset, end);
    for (const StreamEdit& edit : me.adjuster.edits()) {
      if (!touchesEdits || conflict || edit.offset >= end) break;
      const std::int64_t from = std::max(offset, edit.offset);
      const std::int64_t to = std::min(end, edit.originalEnd());
      for (std::int64_t i = from; i < to; ++i) {
        if (static_cast<char>(payload[static_cast<std::size_t>(i - offset)]) !=
            edit.original[static_cast<std::size_t>(i - edit.offset)]) {
          conflict = true;
          break;
        }
      }
    }
    if (conflict) anomaly(session, dir, Reason::RetransmissionConflict, false);
  }

  // In-order bytes of one direction, each byte exactly once.
  void consumeBytes(Session& session, Direction dir, std::int64_t offset, std::string_view bytes) {
    DirectionState& me = session.dir(dir);
    while (!bytes.empty() && session.inspecting) {
      if (me.inTls) {
        const TlsFeedResult tls = me.tls.feed(offset, bytes);
        if (tls.kind == TlsFeedResult::Kind::StillTls) return;
        if (tls.kind == TlsFeedResult::Kind::Garbage) {
          anomaly(session, dir, Reason::TlsFramingLost, true);
          return;
        }
        // Cleartext again (after CCC, RFC 4217 §12.3).
        me.inTls = false;
        me.framer.reset(tls.cleartextOffset);
        if (session.channel.state() == ChannelState::Opaque) {
          session.channel.resumeCleartext();
          observe(session, OpaqueObs{Reason::CleartextResumed});
        }
        const auto skip = static_cast<std::size_t>(tls.cleartextOffset - offset);
        bytes.remove_prefix(std::min(skip, bytes.size()));
        offset = tls.cleartextOffset;
        continue;
      }
      // Frame lines; a line that turns the channel opaque stops framing at its end.
      std::optional<std::int64_t> tlsFrom;
      const FrameStatus status = me.framer.feed(offset, bytes, [&](const FramedLine& line) {
        if (tlsFrom || !session.inspecting) return;
        onLine(session, dir, line);
        if (session.channel.state() == ChannelState::Opaque && !me.inTls) {
          tlsFrom = line.offset + static_cast<std::int64_t>(line.text.size()) + line.terminatorLength;
        }
      });
      if (tlsFrom) {
        enterTls(session, dir, *tlsFrom);
        const auto skip = static_cast<std::size_t>(*tlsFrom - offset);
        if (skip >= bytes.size()) return;
        bytes.remove_prefix(skip);
        offset = *tlsFrom;
        continue;
      }
      if (status == FrameStatus::Overflowed) {
        anomaly(session, dir, Reason::LineTooLong, true);
      }
      return;
    }
  }

  // AUTH was answered by 234 in the line ending at `from` (server direction). From here both
  // directions carry TLS records until cleartext returns.
  void enterTls(Session& session, Direction dir, std::int64_t from) {
    observe(session, OpaqueObs{Reason::TlsNegotiated});
    DirectionState& me = session.dir(dir);
    me.inTls = true;
    me.tls = TlsRecordTracker();
    me.tls.start(from, dir);
    DirectionState& other = session.dir(opposite(dir));
    if (!other.inTls) {
      // The other direction may already hold the start of its first record as a partial line.
      const std::int64_t otherFrom = other.framer.partialLineOffset();
      const std::string partial(other.framer.partialLine());
      other.inTls = true;
      other.tls = TlsRecordTracker();
      other.tls.start(otherFrom, opposite(dir));
      if (!partial.empty()) {
        const TlsFeedResult result = other.tls.feed(otherFrom, partial);
        if (result.kind == TlsFeedResult::Kind::Garbage) {
          anomaly(session, opposite(dir), Reason::TlsFramingLost, true);
        }
      }
    }
  }

  void onLine(Session& session, Direction dir, const FramedLine& line) {
    stats().add(Stat::LinesParsed);
    const LineMeaning meaning = dir == Direction::ClientToServer
                                    ? session.channel.onClientLine(line.text)
                                    : session.channel.onServerLine(line.text);
    if (dir == Direction::ServerToClient) {
      if (session.channel.inMultiLineReply()) {
        session.multiLineBytes += line.text.size() + line.terminatorLength;
        if (session.multiLineBytes > limits().maxMultiLineReplyBytes) {
          anomaly(session, dir, Reason::MultiLineReplyTooLong, true);
          return;
        }
      } else {
        session.multiLineBytes = 0;
      }
    }
    switch (meaning.kind) {
      case LineMeaning::Kind::Nothing:
      case LineMeaning::Kind::GreetingSeen:
      case LineMeaning::Kind::BecameOpaque:  // handled by consumeBytes after this line
        return;
      case LineMeaning::Kind::BecameNotFtp:
        anomaly(session, dir,
                dir == Direction::ClientToServer ? Reason::ClientSpokeFirst : Reason::NotFtpGreeting,
                true);
        return;
      case LineMeaning::Kind::Refused:
        reject(session, dir, meaning.verb, reasonFromRefusal(meaning), line.text);
        return;
      case LineMeaning::Kind::Announcement:
        onAnnouncement(session, dir, line, meaning.address);
        return;
    }
  }

  void reject(Session& session, Direction dir, AddressVerb verb, Reason reason, std::string_view line) {
    stats().add(Stat::Rejects);
    observe(session, Reject{dir, verb, reason, escapeLine(line, kLogLineCap)});
  }

  // ---------------------------------------------------------------------------------------------
  // Policy (DESIGN.md §4): validate an announcement, choose what to announce, edit, pinhole.

  void onAnnouncement(Session& session, Direction dir, const FramedLine& line,
                      const ParsedAddress& parsed) {
    const bool fromClient = dir == Direction::ClientToServer;
    const Endpoint& announcerReal = fromClient ? session.nat.clientReal : session.nat.serverReal;
    const Endpoint& announcerSeen =
        fromClient ? session.nat.clientSeenByServer : session.nat.serverSeenByClient;
    const IpAddress& connector = fromClient ? session.nat.serverReal.address : session.nat.clientReal.address;

    // Only the verb (4 bytes of PORT/EPRT, 3 of 227/229) of a line that may become an
    // announcement is ever released before the line is complete (decidedFrontier). When more
    // of this line already left, it began before it could be one (e.g. a 227 begun before its
    // PASV was complete, so nothing was held): its text can no longer be rewritten and a
    // pinhole would open after the announcement was forwarded. Refuse it.
    const std::int64_t verbEnd = line.offset + (fromClient ? 4 : 3);
    if (session.dir(dir).emittedEnd > verbEnd) {
      reject(session, dir, parsed.verb, Reason::AnnouncementNotHeld, line.text);
      return;
    }
    // Anti-bounce (ADVERSARIAL 1): the embedded address must be the announcing peer's own
    // address. A client must name its real address (never the router's). A server may also
    // name the address it is reached at (pasv_address set to the public address behind a port
    // forward): the pinhole then still forwards only to that server (docs/decisions/0005).
    const bool embeddedIsAnnouncer =
        parsed.address && (*parsed.address == announcerReal.address ||
                           (!fromClient && *parsed.address == announcerSeen.address));
    if (parsed.address && policy().antiBounce == AntiBounceMode::Strict && !embeddedIsAnnouncer) {
      reject(session, dir, parsed.verb, Reason::AddressMismatch, line.text);
      return;
    }
    if (parsed.port == 0) {
      reject(session, dir, parsed.verb, Reason::PortZero, line.text);
      return;
    }
    if (parsed.port < policy().dataPortFloor) {
      reject(session, dir, parsed.verb, Reason::PortBelowFloor, line.text);
      return;
    }
    if (!takeToken(session)) {
      reject(session, dir, parsed.verb, Reason::PinholeRateLimit, line.text);
      return;
    }
    if (!session.pinholeId && pinholes.size() >= limits().maxPinholes) {
      reject(session, dir, parsed.verb, Reason::PinholeLimit, line.text);
      return;
    }
    // What the connecting peer is told, and where its connection really goes.
    const Endpoint realTarget{announcerReal.address, parsed.port};
    // Only a NAT'ed announcer can be given another public port; otherwise the port is the
    // announcer's own listener and a stale pinhole of another session on the same slot goes.
    const bool portTranslatable = announcerSeen.address != announcerReal.address;
    std::optional<std::uint16_t> publicPort = parsed.port;
    if (portTranslatable) {
      publicPort = choosePublicPort(session, connector, announcerSeen.address, parsed.port);
    } else if (const auto slot = pinholeSlots.find(PinholeSlot{connector, realTarget});
               slot != pinholeSlots.end() && slot->second != session.pinholeId) {
      closePinhole(slot->second, Reason::Replaced);
    }
    if (!publicPort) {
      reject(session, dir, parsed.verb, Reason::NoPublicPort, line.text);
      return;
    }
    const Endpoint announced{announcerSeen.address, *publicPort};

    // Span-only rewrite when the announced text must change.
    const bool addressChanges = parsed.address && *parsed.address != announced.address;
    const bool portChanges = announced.port != parsed.port;
    if (addressChanges || portChanges) {
      std::string replacement;
      switch (parsed.verb) {
        case AddressVerb::Port: replacement = formatPortArgument(announced); break;
        case AddressVerb::Eprt: replacement = formatEprtArgument(announced, parsed.delimiter); break;
        case AddressVerb::Reply227: replacement = format227Tuple(announced); break;
        case AddressVerb::Reply229: replacement = format229Port(announced.port); break;
        default: return;  // LPRT/LPSV/228 never reach here (NotTranslated)
      }
      const std::string_view original =
          line.text.substr(parsed.spanBegin, parsed.spanEnd - parsed.spanBegin);
      std::string after(line.text.substr(0, parsed.spanBegin));
      after += replacement;
      after += line.text.substr(parsed.spanEnd);
      if (!session.dir(dir).adjuster.addEdit(line.offset + static_cast<std::int64_t>(parsed.spanBegin),
                                             original, std::move(replacement))) {
        // Broken invariant (edits out of stream order): counted and logged; fail closed.
        assert(false && "edit out of stream order");
        anomaly(session, dir, Reason::MalformedPacket, true);
        return;
      }
      stats().add(Stat::Rewrites);
      observe(session, Rewrite{dir, parsed.verb, escapeLine(line.text, kLogLineCap),
                               escapeLine(after, kLogLineCap)});
    }
    openPinhole(session, connector, announced,
                realTarget == announced ? std::nullopt : std::optional<Endpoint>(realTarget));
  }

  bool takeToken(Session& session) {
    const double elapsed = std::chrono::duration<double>(now - session.tokensAt).count();
    session.tokensAt = now;
    session.tokens = std::min(static_cast<double>(limits().pinholeBurst),
                              session.tokens + std::max(0.0, elapsed) * limits().pinholesPerSecond);
    if (session.tokens < 1.0) return false;
    session.tokens -= 1.0;
    return true;
  }

  // Keeps the announced port unless another session's pinhole already claims the same
  // (connecting peer, address, port); then probes upwards, staying at or above the floor.
  std::optional<std::uint16_t> choosePublicPort(const Session& session, const IpAddress& connector,
                                                const IpAddress& address, std::uint16_t port) {
    constexpr int kProbes = 64;
    std::uint32_t candidate = port;
    for (int i = 0; i < kProbes; ++i) {
      if (candidate > 65535) candidate = std::max<std::uint32_t>(policy().dataPortFloor, 1024);
      const auto slot = pinholeSlots.find(PinholeSlot{connector, Endpoint{address, static_cast<std::uint16_t>(candidate)}});
      if (slot == pinholeSlots.end() ||
          (session.pinholeId && slot->second == *session.pinholeId)) {
        return static_cast<std::uint16_t>(candidate);
      }
      ++candidate;
    }
    return std::nullopt;
  }

  void openPinhole(Session& session, const IpAddress& from, const Endpoint& to,
                   std::optional<Endpoint> natTo) {
    if (session.pinholeId) closePinhole(*session.pinholeId, Reason::Replaced);
    Pinhole pinhole;
    pinhole.id = nextPinholeId++;
    pinhole.control = session.key;
    pinhole.from = from;
    pinhole.to = to;
    pinhole.natTo = natTo;
    pinhole.timeout = policy().pinholeTimeout;
    pinhole.expires = now + policy().pinholeTimeout;
    pinholes.emplace(pinhole.id, pinhole);
    pinholeSlots[PinholeSlot{from, to}] = pinhole.id;
    pinholeExpiries.emplace(pinhole.expires, pinhole.id);
    session.pinholeId = pinhole.id;
    stats().add(Stat::PinholesOpened);
    out->actions.push_back(OpenPinhole{pinhole});
    observe(session, PinholeOpened{pinhole});
  }

  void closePinhole(std::uint64_t id, Reason reason) {
    const auto it = pinholes.find(id);
    if (it == pinholes.end()) return;
    const Pinhole pinhole = it->second;
    pinholes.erase(it);
    const auto slot = pinholeSlots.find(PinholeSlot{pinhole.from, pinhole.to});
    if (slot != pinholeSlots.end() && slot->second == id) pinholeSlots.erase(slot);
    auto [first, last] = pinholeExpiries.equal_range(pinhole.expires);
    for (auto e = first; e != last; ++e) {
      if (e->second == id) {
        pinholeExpiries.erase(e);
        break;
      }
    }
    if (std::unique_ptr<Session>* session = sessions.find(pinhole.control); session && (*session)->pinholeId == id) {
      (*session)->pinholeId.reset();
    }
    stats().add(Stat::PinholesClosed);
    out->actions.push_back(ClosePinhole{pinhole, reason});
    out->observations.push_back(Observation{now, pinhole.control, PinholeClosed{pinhole, reason}});
  }

  void closeSession(Session& session, Reason reason) {
    if (session.closed) return;
    session.closed = true;
    if (session.pinholeId) closePinhole(*session.pinholeId, Reason::SessionClosed);
    stats().add(Stat::SessionsClosed);
    observe(session, SessionClosedObs{reason});
    releaseDecided(session);  // nothing is undecided in a closed session
  }

  // ---------------------------------------------------------------------------------------------
  // Holding and releasing.

  // Original offset up to which every edit of `dir` is known: bytes before it can be released.
  std::int64_t decidedFrontier(Session& session, Direction dir) {
    if (!session.inspecting || session.closed) return kUndecidedNever;
    DirectionState& me = session.dir(dir);
    const std::int64_t delivered = me.tracker.nextOffset();
    if (me.inTls) return delivered;
    const std::string_view partial = me.framer.partialLine();
    if (partial.empty()) return delivered;
    const std::int64_t lineStart = me.framer.partialLineOffset();
    if (dir == Direction::ClientToServer) {
      if (session.channel.state() != ChannelState::Inspecting) return delivered;
      if (couldBecomeCommand(partial, "PORT") || couldBecomeCommand(partial, "EPRT")) {
        return lineStart + static_cast<std::int64_t>(std::min<std::size_t>(partial.size(), 4));
      }
      return delivered;
    }
    if (!session.channel.replyAnnouncementPossible()) return delivered;
    if (couldBecomeReply(partial, "227") || couldBecomeReply(partial, "229")) {
      return lineStart + static_cast<std::int64_t>(std::min<std::size_t>(partial.size(), 3));
    }
    return delivered;
  }

  bool holdPacket(Session& session, Direction dir, PacketId id, std::int64_t offset,
                  std::span<const std::uint8_t> bytes) {
    if (session.held.size() >= limits().maxHeldPackets ||
        session.heldBytes + bytes.size() > limits().maxHeldBytes) {
      anomaly(session, dir, Reason::HoldLimit, true);
      releaseDecided(session);
      return false;
    }
    session.held.push_back(HeldPacket{id, dir, offset, now, {bytes.begin(), bytes.end()}});
    session.heldBytes += bytes.size();
    stats().add(Stat::PacketsHeld);
    return true;
  }

  // Releases, in arrival order, every held packet whose bytes are now decided.
  void releaseDecided(Session& session) {
    if (session.held.empty()) return;
    const std::int64_t frontiers[2] = {decidedFrontier(session, Direction::ClientToServer),
                                       decidedFrontier(session, Direction::ServerToClient)};
    std::vector<HeldPacket> still;
    for (HeldPacket& held : session.held) {
      const auto view = PacketView::parse(held.bytes);
      assert(view);
      const std::int64_t frontier = frontiers[static_cast<int>(held.dir)];
      const std::int64_t end = held.offset + static_cast<std::int64_t>(view->payload().size());
      const bool decided = view->payload().empty() ? held.offset <= frontier : end <= frontier;
      if (decided) {
        session.heldBytes -= held.bytes.size();
        emit(session, held.dir, held.id, *view, held.offset);
      } else {
        still.push_back(std::move(held));
      }
    }
    session.held = std::move(still);
  }

  // Builds the verdict of one packet: payload transform (span-only), seq in its own
  // direction's output space, ack and SACK edges mapped back into the other direction's
  // original space.
  void emit(Session& session, Direction dir, PacketId id, const PacketView& view, std::int64_t offset) {
    DirectionState& me = session.dir(dir);
    DirectionState& other = session.dir(opposite(dir));
    const auto payload = view.payload();
    const std::int64_t end = offset + static_cast<std::int64_t>(payload.size());

    PacketEdit edit;
    bool changed = false;
    std::span<const std::uint8_t> body = payload;
    std::int64_t start = offset;

    // Bytes before the prune floor are acknowledged already; strip them (their exact transform
    // is forgotten).
    if (start < me.adjuster.pruneFloor() && me.adjuster.pruneFloor() > 0 && !body.empty()) {
      const std::int64_t cut = std::min(end, me.adjuster.pruneFloor()) - start;
      body = body.subspan(static_cast<std::size_t>(cut));
      start += cut;
      stats().add(Stat::Retransmissions);
      changed = true;
      edit.payload = body;
    }

    // The seq of a payload-free packet beyond the decided frontier is not yet known exactly;
    // the frontier's output offset is a valid (not yet received) sequence number for it.
    std::int64_t seqOffset = start;
    if (body.empty() && !view.hasFlag(tcp_flags::kFin)) {
      seqOffset = std::min(seqOffset, decidedFrontier(session, dir));
    }
    const std::int64_t outOffset = me.adjuster.toOutput(seqOffset);
    const SeqNum newSeq = view.hasFlag(tcp_flags::kSyn) ? view.seq() : me.unwrap.wrap(outOffset);
    if (newSeq != view.seq()) {
      edit.seq = newSeq;
      changed = true;
    }

    const std::size_t limit = std::max<std::size_t>(
        body.size(), me.receiverMss != 0 ? me.receiverMss
                                         : (session.family == IpFamily::V4 ? kDefaultMssV4 : kDefaultMssV6));
    if (!body.empty() && me.adjuster.touches(start, start + static_cast<std::int64_t>(body.size()))) {
      scratchPayload.clear();
      const std::size_t consumed = me.adjuster.transform(start, body, limit, scratchPayload);
      if (consumed < body.size()) {
        // The grown segment would exceed the receiver's MSS: send what fits; the sender
        // retransmits the rest, which the mapped ACK does not cover (docs/decisions).
        stats().add(Stat::SegmentsTrimmed);
        if (view.hasFlag(tcp_flags::kFin)) edit.clearFin = true;
        if (session.inspecting) {
          stats().add(Stat::Anomalies);
          observe(session, AnomalyObs{dir, Reason::SegmentTrimmed, false});
        }
      }
      edit.payload = std::span<const std::uint8_t>(scratchPayload);
      changed = true;
      me.emittedEnd = std::max(me.emittedEnd, start + static_cast<std::int64_t>(consumed));
    } else {
      me.emittedEnd = std::max(me.emittedEnd, start + static_cast<std::int64_t>(body.size()));
    }

    SackBlock sackBlocks[4];
    if (view.hasFlag(tcp_flags::kAck) && other.baseKnown &&
        engine.config_.ackSpace == AckSpace::Original) {
      // Never prune past what was emitted: a capture's ACK may cover bytes the engine cut
      // (MSS) and will transform again from the retransmission.
      other.adjuster.prune(std::min(other.unwrap.peek(view.ack()), other.emittedEnd));
    } else if (view.hasFlag(tcp_flags::kAck) && other.baseKnown) {
      const std::int64_t ackOut = other.unwrap.peek(view.ack());
      const std::int64_t ackOriginal = other.adjuster.toOriginal(ackOut);
      const SeqNum newAck = other.unwrap.wrap(ackOriginal);
      if (newAck != view.ack()) {
        edit.ack = newAck;
        changed = true;
      }
      other.adjuster.prune(std::min(ackOriginal, other.emittedEnd));
      const auto& options = view.options();
      bool sackChanged = false;
      for (std::uint8_t i = 0; i < options.sackBlockCount && i < 4; ++i) {
        const SackBlock& block = options.sackBlocks[i];
        sackBlocks[i].left = other.unwrap.wrap(other.adjuster.toOriginal(other.unwrap.peek(block.left)));
        sackBlocks[i].right = other.unwrap.wrap(other.adjuster.toOriginal(other.unwrap.peek(block.right)));
        sackChanged = sackChanged || sackBlocks[i].left != block.left || sackBlocks[i].right != block.right;
      }
      if (sackChanged) {
        edit.sackBlocks = std::span<const SackBlock>(sackBlocks, options.sackBlockCount);
        changed = true;
      }
    }

    if (!changed) {
      out->verdicts.push_back(PacketVerdict{id, VerdictKind::Accept, {}});
      return;
    }
    std::vector<std::uint8_t> rewritten = rewritePacket(view, edit);
    if (rewritten.empty()) {
      // Only when the result would overflow the IP length field: never for real control
      // traffic (a rewrite grows a line by at most 12 bytes). Pass the original.
      anomaly(session, dir, Reason::MalformedPacket, true);
      out->verdicts.push_back(PacketVerdict{id, VerdictKind::Accept, {}});
      return;
    }
    stats().add(Stat::PacketsModified);
    out->verdicts.push_back(PacketVerdict{id, VerdictKind::AcceptModified, std::move(rewritten)});
  }

  // ---------------------------------------------------------------------------------------------
  // Time.

  // The periodic sweep (hold timeouts, idle close, forgetting) visits every session once per
  // kScanInterval: a table of at most kSweepSlotsPerSlice slots in one pass, a larger one in
  // slices of that many slots spread over the interval, so no single timer call stalls the packet
  // path (100k sessions: 32 slices of well under a millisecond instead of one pass of ~20 ms).
  // A growth or an erase between slices moves entries: a session may then be visited one slice
  // early or late (never twice in a slice, never lost for more than one interval).
  void onTimer() {
    while (!pinholeExpiries.empty() && pinholeExpiries.begin()->first <= now) {
      closePinhole(pinholeExpiries.begin()->second, Reason::Expired);
    }
    if (nextScan && now < *nextScan) return;
    const std::size_t slots = sessions.slotCount();
    const std::size_t slices = (slots + kSweepSlotsPerSlice - 1) / kSweepSlotsPerSlice;
    nextScan = now + kScanInterval / static_cast<std::int64_t>(slices);
    if (sweepCursor >= slots) sweepCursor = 0;
    const std::size_t sliceEnd = std::min(slots, sweepCursor + kSweepSlotsPerSlice);
    sweepDoomed.clear();
    for (std::size_t slot = sweepCursor; slot < sliceEnd; ++slot) {
      if (std::unique_ptr<Session>* session = sessions.slotValue(slot); session && sweepSession(**session)) {
        sweepDoomed.push_back((*session)->key);
      }
    }
    for (const FlowKey& key : sweepDoomed) {
      if (std::unique_ptr<Session>* session = sessions.find(key)) eraseSession(**session);
    }
    sweepCursor = sliceEnd == slots ? 0 : sliceEnd;
  }

  // One session's periodic checks; true when the session is to be forgotten now.
  bool sweepSession(Session& session) {
    if (!session.held.empty() && now - session.held.front().heldAt >= limits().holdTimeout) {
      anomaly(session, session.held.front().dir, Reason::HoldTimeout, true);
      releaseDecided(session);
    }
    const Duration idleFor = now - session.lastSeen;
    if (!session.closed && idleFor >= limits().sessionIdleTimeout) {
      closeSession(session, Reason::IdleTimeout);
    }
    // A session whose rewrites changed the stream length keeps translating seq/ack after an
    // idle close (the connection may resume: a long transfer leaves the control channel
    // silent), until the conntrack-like translatedSessionIdleTimeout. State after FIN/RST
    // lingers briefly for retransmitted FINs.
    const bool translated = session.dirs[0].adjuster.totalDelta() != 0 ||
                            session.dirs[1].adjuster.totalDelta() != 0;
    return (session.finished && now - session.finishedAt >= limits().closedSessionLinger) ||
           (!session.finished && session.closed &&
            (!translated || idleFor >= limits().translatedSessionIdleTimeout));
  }

  void shutdown() {
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
        stopInspection(session);
        releaseDecided(session);
      }
      if (!session.closed) closeSession(session, Reason::Shutdown);
      eraseSession(session);
    }
    while (!pinholes.empty()) closePinhole(pinholes.begin()->first, Reason::Shutdown);
  }
};

// -------------------------------------------------------------------------------------------------

Engine::Engine(EngineConfig config, FlowResolver& resolver)
    : config_(std::move(config)), impl_(std::make_unique<Impl>(*this, resolver)) {}

Engine::~Engine() = default;

void Engine::onPacket(const PacketMeta& meta, std::span<const std::uint8_t> bytes, Timestamp now,
                      Outcome& out) {
  impl_->out = &out;
  impl_->now = now;
  impl_->onPacket(meta, bytes);
}

void Engine::onTimer(Timestamp now, Outcome& out) {
  impl_->out = &out;
  impl_->now = now;
  impl_->onTimer();
}

void Engine::shutdown(Timestamp now, Outcome& out) {
  impl_->out = &out;
  impl_->now = now;
  impl_->shutdown();
}

std::optional<Timestamp> Engine::nextDeadline() const {
  std::optional<Timestamp> deadline = impl_->nextScan;
  if (!impl_->pinholeExpiries.empty()) {
    const Timestamp first = impl_->pinholeExpiries.begin()->first;
    if (!deadline || first < *deadline) deadline = first;
  }
  return deadline;
}

std::size_t Engine::sessionCount() const { return impl_->sessions.size(); }
std::size_t Engine::pinholeCount() const { return impl_->pinholes.size(); }

}  // namespace ftpalg
