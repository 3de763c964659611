// StreamInspector: see include/ftpalg/engine/stream_inspector.hpp.
#include "ftpalg/engine/stream_inspector.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "ftpalg/core/ascii.hpp"
#include "ftpalg/engine/reasons.hpp"
#include "ftpalg/ftp/control_channel.hpp"
#include "ftpalg/ftp/tls_record_tracker.hpp"

namespace ftpalg {

namespace {

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

}  // namespace

std::int64_t decidedFrontier(const Session& session, Direction dir) {
  if (!session.inspecting || session.closed) return kUndecidedNever;
  // No PASV/EPSV awaits a reply: no server byte sent so far can be a 227/229 announcement
  // (docs/decisions/0001, amendment), so out-of-order server bytes need not wait for the gap.
  if (dir == Direction::ServerToClient && !session.channel.passiveReplyAwaited()) return kUndecidedNever;
  const DirectionState& me = session.dir(dir);
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

std::span<const std::uint8_t> StreamInspector::inspect(Session& session, Direction dir, std::int64_t offset,
                                                       std::span<const std::uint8_t> payload,
                                                       Effects& effects) {
  DirectionState& me = session.dir(dir);
  if (dir == Direction::ClientToServer && session.channel.state() == ChannelState::AwaitingGreeting) {
    // The client spoke before the server's 220: slipstreaming, never FTP (docs/security.md).
    session.channel.clientSpokeFirst();
    recordAnomaly(session, dir, Reason::ClientSpokeFirst, true, effects);
    return payload;
  }
  checkUndecidedRetransmission(session, dir, offset, payload, effects);
  if (!session.inspecting) return payload;
  // Bytes held out of order are the first-seen copy the engine inspects; a copy that differs is
  // forwarded carrying them, so the receiver (which may keep either copy of bytes it holds out of
  // order) gets what was inspected (first-seen bytes win on the wire too).
  std::span<const std::uint8_t> firstSeen = payload;
  if (me.tracker.hasHeld()) {
    firstSeen_.assign(payload.begin(), payload.end());
    if (me.tracker.overlayHeld(offset, firstSeen_)) firstSeen = firstSeen_;
  }
  const TrackResult result =
      me.tracker.accept(offset, payload, [&](std::int64_t chunkOffset, std::string_view chunk) {
        if (session.inspecting) consumeBytes(session, dir, chunkOffset, chunk, effects);
      });
  if (result.duplicate) effects.count(Stat::Retransmissions);
  if (result.conflict) recordAnomaly(session, dir, Reason::RetransmissionConflict, false, effects);
  if (result.overLimit) recordAnomaly(session, dir, Reason::OutOfOrderLimit, true, effects);
  return firstSeen;
}

// A re-sent copy of bytes that are delivered but not yet decided (the partial line) must
// match them: first-seen bytes win (docs/security.md). Bytes inside a recorded edit must match
// the edit's original bytes.
inline void StreamInspector::checkUndecidedRetransmission(Session& session, Direction dir,
                                                          std::int64_t offset,
                                                          std::span<const std::uint8_t> payload,
                                                          Effects& effects) {
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
  if (conflict) recordAnomaly(session, dir, Reason::RetransmissionConflict, false, effects);
}

// In-order bytes of one direction, each byte exactly once.
inline void StreamInspector::consumeBytes(Session& session, Direction dir, std::int64_t offset,
                                          std::string_view bytes, Effects& effects) {
  DirectionState& me = session.dir(dir);
  while (!bytes.empty() && session.inspecting) {
    if (me.inTls) {
      const TlsFeedResult tls = me.tls.feed(offset, bytes);
      if (tls.kind == TlsFeedResult::Kind::StillTls) return;
      if (tls.kind == TlsFeedResult::Kind::Garbage) {
        recordAnomaly(session, dir, Reason::TlsFramingLost, true, effects);
        return;
      }
      // Cleartext again (after CCC, RFC 4217 §12.3).
      me.inTls = false;
      me.framer.reset(tls.cleartextOffset);
      if (session.channel.state() == ChannelState::Opaque) {
        session.channel.resumeCleartext();
        effects.observe(session.key, OpaqueObs{Reason::CleartextResumed});
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
      onLine(session, dir, line, effects);
      if (session.channel.state() == ChannelState::Opaque && !me.inTls) {
        tlsFrom = line.offset + static_cast<std::int64_t>(line.text.size()) + line.terminatorLength;
      }
    });
    if (tlsFrom) {
      enterTls(session, dir, *tlsFrom, effects);
      const auto skip = static_cast<std::size_t>(*tlsFrom - offset);
      if (skip >= bytes.size()) return;
      bytes.remove_prefix(skip);
      offset = *tlsFrom;
      continue;
    }
    if (status == FrameStatus::Overflowed) {
      recordAnomaly(session, dir, Reason::LineTooLong, true, effects);
    }
    return;
  }
}

// AUTH was answered by 234 in the line ending at `from` (server direction). From here both
// directions carry TLS records until cleartext returns.
void StreamInspector::enterTls(Session& session, Direction dir, std::int64_t from, Effects& effects) {
  effects.observe(session.key, OpaqueObs{Reason::TlsNegotiated});
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
        recordAnomaly(session, opposite(dir), Reason::TlsFramingLost, true, effects);
      }
    }
  }
}

inline void StreamInspector::onLine(Session& session, Direction dir, const FramedLine& line,
                                    Effects& effects) {
  effects.count(Stat::LinesParsed);
  const LineMeaning meaning = dir == Direction::ClientToServer ? session.channel.onClientLine(line.text)
                                                               : session.channel.onServerLine(line.text);
  if (dir == Direction::ServerToClient) {
    if (session.channel.inMultiLineReply()) {
      session.multiLineBytes += line.text.size() + line.terminatorLength;
      if (session.multiLineBytes > limits_.maxMultiLineReplyBytes) {
        recordAnomaly(session, dir, Reason::MultiLineReplyTooLong, true, effects);
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
      recordAnomaly(session, dir,
                    dir == Direction::ClientToServer ? Reason::ClientSpokeFirst : Reason::NotFtpGreeting,
                    true, effects);
      return;
    case LineMeaning::Kind::Refused:
      recordReject(session, dir, meaning.verb, reasonFromRefusal(meaning), line.text, effects);
      return;
    case LineMeaning::Kind::Announcement:
      announcements_.onAnnouncement(session, dir, line, meaning.address, effects);
      return;
  }
}

}  // namespace ftpalg
