// StreamInspector: the engine's reading of a control connection's byte streams
// (docs/architecture.md, steps 5-7 and 9):
//   reassembly (SegmentTracker: each byte once, in order; first-seen bytes win) ->
//   framing (LineFramer) or, after AUTH + 234, TLS records (TlsRecordTracker) ->
//   meaning (ControlChannel, the FTP state machine).
// Announcements the channel accepts go to an AnnouncementSink (the engine's policy step);
// refusals and anomalies are recorded here. decidedFrontier() says how far each direction's
// bytes are decided, which is what the packet emitter releases up to.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/engine/effects.hpp"
#include "ftpalg/engine/policy.hpp"
#include "ftpalg/engine/session.hpp"
#include "ftpalg/ftp/address_codec.hpp"
#include "ftpalg/ftp/line_framer.hpp"

namespace ftpalg {

// Where the inspector hands an announcement the control channel accepted.
class AnnouncementSink {
 public:
  virtual ~AnnouncementSink() = default;
  virtual void onAnnouncement(Session& session, Direction dir, const FramedLine& line,
                              const ParsedAddress& parsed, Effects& effects) = 0;
};

// decidedFrontier() of a direction with nothing left to decide: every byte may be released.
inline constexpr std::int64_t kUndecidedNever = std::numeric_limits<std::int64_t>::max();

// Original offset up to which every edit of `dir` is known: bytes before it can be released
// (docs/decisions/0001-hold-undecided-packets.md). It is the delivered end of the stream (so
// bytes beyond a gap wait for it: the gap may hide the start of an announcement), except
//  - while an incomplete line could still become an announcement (PORT/EPRT from the client,
//    227/229 as a reply's first line when a PASV/EPSV is pending): then only the verb's bytes of
//    that line are decided;
//  - kUndecidedNever for the server's bytes while no PASV/EPSV awaits a reply
//    (ControlChannel::passiveReplyAwaited): whatever a gap hides, no server byte sent before the
//    client's next PASV/EPSV can answer it, so even out-of-order bytes are decided; and for both
//    directions once the session is no longer inspected or is closed.
std::int64_t decidedFrontier(const Session& session, Direction dir);

class StreamInspector {
 public:
  StreamInspector(const Limits& limits, AnnouncementSink& announcements)
      : limits_(limits), announcements_(announcements) {}

  // The payload of one packet of `dir`, at original stream offset `offset` (possibly a
  // retransmission or out of order). Precondition: the session is inspected and not closed.
  // Returns the payload the packet is to carry: `payload` itself, or (valid until the next call)
  // a copy with the first-seen bytes the tracker holds out of order written over bytes that
  // differ from them (a conflicting retransmission, SegmentTracker::overlayHeld).
  std::span<const std::uint8_t> inspect(Session& session, Direction dir, std::int64_t offset,
                                        std::span<const std::uint8_t> payload, Effects& effects);

 private:
  void checkUndecidedRetransmission(Session& session, Direction dir, std::int64_t offset,
                                    std::span<const std::uint8_t> payload, Effects& effects);
  void consumeBytes(Session& session, Direction dir, std::int64_t offset, std::string_view bytes,
                    Effects& effects);
  void enterTls(Session& session, Direction dir, std::int64_t from, Effects& effects);
  void onLine(Session& session, Direction dir, const FramedLine& line, Effects& effects);

  const Limits& limits_;
  AnnouncementSink& announcements_;
  std::vector<std::uint8_t> firstSeen_;  // reused: a payload with first-seen bytes written over it
};

}  // namespace ftpalg
