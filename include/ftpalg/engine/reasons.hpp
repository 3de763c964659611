// Closed enumerations of every reason the engine logs, and every counter it keeps, each with its
// stable snake_case name (X-macros): logs, tests and docs/log-schema.md use these names, never free
// text. A reason found by a lower layer is named once, by that layer: the address codec's syntax
// errors (FTPALG_ADDRESS_SYNTAX_ERRORS, ftp/address_codec.hpp) and the control channel's refusals
// (FTPALG_CHANNEL_OWN_REFUSALS, ftp/control_channel.hpp) are spliced into Reason from their own
// lists, and the mapping functions below are generated from the same lists.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ftpalg/ftp/address_codec.hpp"
#include "ftpalg/ftp/control_channel.hpp"

namespace ftpalg {

// Announcement refusals decided by the engine after the channel accepted the line (event "reject").
#define FTPALG_POLICY_REASONS(X)                                                                \
  X(AddressMismatch, "address_mismatch") /* bounce: embedded address != control peer */         \
  X(PortBelowFloor, "port_below_floor")                                                         \
  X(PortZero, "port_zero")                                                                      \
  X(PinholeRateLimit, "pinhole_rate_limit")                                                     \
  X(PinholeLimit, "pinhole_limit")                /* global pending-pinhole cap */              \
  X(NoPublicPort, "no_public_port")               /* no free public port for the mapping */     \
  X(AnnouncementNotHeld, "announcement_not_held") /* began before it could be one: forwarded */ \
  X(NoKernelSeqAdjust, "no_kernel_seqadj")        /* kernel-owned flow without seqadj: no length change */

// Stream and protocol anomalies (event "anomaly"); most stop inspection of the flow.
#define FTPALG_ANOMALY_REASONS(X)                                                                 \
  X(RetransmissionConflict, "retransmission_conflict")                                            \
  X(OutOfOrderLimit, "out_of_order_limit")                                                        \
  X(LineTooLong, "line_too_long")                                                                 \
  X(MultiLineReplyTooLong, "multiline_reply_too_long")                                            \
  X(HoldLimit, "hold_limit")                                                                      \
  X(HoldTimeout, "hold_timeout")                                                                  \
  X(ClientSpokeFirst, "client_spoke_first")                                                       \
  X(NotFtpGreeting, "not_ftp_greeting")                                                           \
  X(SessionLimit, "session_limit")                                                                \
  X(MidstreamPickup, "midstream_pickup")                                                          \
  X(SegmentTrimmed, "segment_trimmed_for_mss")                                                    \
  X(MalformedPacket, "malformed_packet")                                                          \
  X(TlsFramingLost, "tls_framing_lost")         /* opaque bytes neither TLS records nor FTP */    \
  X(EditUnacknowledged, "edit_unacknowledged")  /* kernel-owned: 2nd edit dropped, 1st unacked */ \
  X(EditSegmentPending, "edit_segment_pending") /* kernel-owned: dropped, edit's segment not out */

// Opaque sections (event "opaque"), ends of sessions (event "session_close") and of pinholes
// (event "pinhole_close"; Shutdown serves both).
#define FTPALG_END_REASONS(X)                                                                 \
  X(TlsNegotiated, "tls_negotiated")                                                          \
  X(CleartextResumed, "cleartext_resumed")                                                    \
  X(Fin, "fin")                                                                               \
  X(Reset, "rst")                                                                             \
  X(IdleTimeout, "idle_timeout")                                                              \
  X(Shutdown, "shutdown")                                                                     \
  X(ConntrackDestroyed, "conntrack_destroyed") /* conntrack-owned mode: entry destroyed */    \
  X(Replaced, "replaced")                      /* pinhole replaced by a newer announcement */ \
  X(Expired, "expired")                                                                       \
  X(SessionClosed, "session_closed")

// Every reason, in this order (docs/log-schema.md lists them in the same order): why an
// announcement was refused, an anomaly was raised, a flow became opaque or something closed.
#define FTPALG_REASONS(X)                                                             \
  FTPALG_ADDRESS_SYNTAX_ERRORS(X) /* reject: the codec could not parse the address */ \
  FTPALG_CHANNEL_OWN_REFUSALS(X)  /* reject: the channel refused the line */          \
  FTPALG_POLICY_REASONS(X)                                                            \
  FTPALG_ANOMALY_REASONS(X)                                                           \
  FTPALG_END_REASONS(X)

enum class Reason : std::uint8_t {
#define FTPALG_X(name, text) name,
  FTPALG_REASONS(FTPALG_X)
#undef FTPALG_X
};
inline constexpr std::size_t kReasonCount = 0
#define FTPALG_X(name, text) +1
    FTPALG_REASONS(FTPALG_X)
#undef FTPALG_X
    ;
std::string_view reasonName(Reason reason);

// The reason a reject event names for a line the address codec could not parse: the Reason of
// the same name.
Reason reasonFromSyntax(AddressSyntaxError error);
// The reason for a line the control channel refused (meaning.kind == Refused): the Reason of the
// refusal's name, or for ChannelRefusal::Syntax that of meaning.syntaxError (bad_syntax when
// unset).
Reason reasonFromRefusal(const LineMeaning& meaning);

// Counters (event "stats"), in the order of the stats line. packets_dropped counts the only
// packets the engine drops: in the conntrack-owned mode, a segment that would need a second
// kernel sequence correction point while the first is unacknowledged (edit_unacknowledged,
// edit_segment_pending: the sender retransmits it, packet_emitter.hpp). A refused announcement
// passes unmodified; the engine-owned mode never drops (0 there).
#define FTPALG_STATS(X)                                  \
  X(PacketsSeen, "packets_seen")                         \
  X(PacketsModified, "packets_modified")                 \
  X(PacketsHeld, "packets_held")                         \
  X(PacketsDropped, "packets_dropped")                   \
  X(PacketsMalformed, "packets_malformed")               \
  X(PayloadBytes, "payload_bytes")                       \
  X(LinesParsed, "lines_parsed")                         \
  X(SessionsOpened, "sessions_opened")                   \
  X(SessionsClosed, "sessions_closed")                   \
  X(SessionsRefusedAtLimit, "sessions_refused_at_limit") \
  X(Rewrites, "rewrites")                                \
  X(PinholesOpened, "pinholes_opened")                   \
  X(PinholesClosed, "pinholes_closed")                   \
  X(Rejects, "rejects")                                  \
  X(Anomalies, "anomalies")                              \
  X(FlowsUninspected, "flows_uninspected")               \
  X(Retransmissions, "retransmissions")                  \
  X(SegmentsTrimmed, "segments_trimmed")

enum class Stat : std::uint8_t {
#define FTPALG_X(name, text) name,
  FTPALG_STATS(FTPALG_X)
#undef FTPALG_X
      Count_
};
std::string_view statName(Stat stat);

struct Stats {
  std::array<std::uint64_t, static_cast<std::size_t>(Stat::Count_)> values{};
  void add(Stat stat, std::uint64_t n = 1) { values[static_cast<std::size_t>(stat)] += n; }
  std::uint64_t get(Stat stat) const { return values[static_cast<std::size_t>(stat)]; }
};

}  // namespace ftpalg
