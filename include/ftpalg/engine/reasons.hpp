// Closed enumerations of every reason the engine logs, and every counter it keeps. Each is
// declared once here (X-macro) with its stable snake_case name: logs, tests and docs use these
// names, never free text.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ftpalg {

// Why an announcement was refused, an anomaly was raised, or a flow stopped being inspected.
#define FTPALG_REASONS(X)                                                                     \
  /* announcement refusals (event "reject") */                                                \
  X(BadSyntax, "bad_syntax")                                                                  \
  X(FieldCount, "field_count")                                                                \
  X(EmptyField, "empty_field")                                                                \
  X(SignedNumber, "signed_number")                                                            \
  X(TooManyDigits, "too_many_digits")                                                         \
  X(OctetOutOfRange, "octet_out_of_range")                                                    \
  X(PortOutOfRange, "port_out_of_range")                                                      \
  X(BadDelimiter, "bad_delimiter")                                                            \
  X(DelimiterMismatch, "delimiter_mismatch")                                                  \
  X(UnknownFamily, "unknown_family")                                                          \
  X(BadAddress, "bad_address")                                                                \
  X(ZoneId, "zone_id")                                                                        \
  X(NonPrintable, "nonprintable_bytes")                                                       \
  X(NoNumbers, "no_numbers")                                                                  \
  X(UnsolicitedReply, "unsolicited_reply")                                                    \
  X(WrongDirection, "wrong_direction")                                                        \
  X(ContinuationLine, "continuation_line")                                                    \
  X(AfterEpsvAll, "after_epsv_all")                                                           \
  X(FamilyMismatch, "family_mismatch")                                                        \
  X(NotTranslated, "not_translated")                                                          \
  X(AddressMismatch, "address_mismatch")       /* bounce: embedded address != control peer */ \
  X(PortBelowFloor, "port_below_floor")                                                       \
  X(PortZero, "port_zero")                                                                    \
  X(PinholeRateLimit, "pinhole_rate_limit")                                                   \
  X(PinholeLimit, "pinhole_limit")             /* global pending-pinhole cap */               \
  X(NoPublicPort, "no_public_port")            /* no free public port for the mapping */     \
  X(AnnouncementNotHeld, "announcement_not_held") /* began before it could be one: forwarded */ \
  /* stream and protocol anomalies (event "anomaly"); most stop inspection of the flow */    \
  X(RetransmissionConflict, "retransmission_conflict")                                        \
  X(OutOfOrderLimit, "out_of_order_limit")                                                    \
  X(LineTooLong, "line_too_long")                                                             \
  X(MultiLineReplyTooLong, "multiline_reply_too_long")                                        \
  X(HoldLimit, "hold_limit")                                                                  \
  X(HoldTimeout, "hold_timeout")                                                              \
  X(ClientSpokeFirst, "client_spoke_first")                                                   \
  X(NotFtpGreeting, "not_ftp_greeting")                                                       \
  X(SessionLimit, "session_limit")                                                            \
  X(MidstreamPickup, "midstream_pickup")                                                      \
  X(SegmentTrimmed, "segment_trimmed_for_mss")                                                \
  X(StaleRetransmission, "stale_retransmission")                                              \
  X(MalformedPacket, "malformed_packet")                                                      \
  X(TlsFramingLost, "tls_framing_lost")        /* opaque bytes neither TLS records nor FTP */ \
  /* opaque sections (event "opaque") and session ends (event "session_close") */             \
  X(TlsNegotiated, "tls_negotiated")                                                          \
  X(CleartextResumed, "cleartext_resumed")                                                    \
  X(Fin, "fin")                                                                               \
  X(Reset, "rst")                                                                             \
  X(IdleTimeout, "idle_timeout")                                                              \
  X(Shutdown, "shutdown")                                                                     \
  X(Replaced, "replaced")                      /* pinhole replaced by a newer announcement */ \
  X(Expired, "expired")                                                                       \
  X(SessionClosed, "session_closed")

enum class Reason : std::uint8_t {
#define FTPALG_X(name, text) name,
  FTPALG_REASONS(FTPALG_X)
#undef FTPALG_X
};
std::string_view reasonName(Reason reason);

// Counters (event "stats"). Each is incremented in exactly one place in the engine.
#define FTPALG_STATS(X)                                    \
  X(PacketsSeen, "packets_seen")                           \
  X(PacketsModified, "packets_modified")                   \
  X(PacketsHeld, "packets_held")                           \
  X(PacketsDropped, "packets_dropped")                     \
  X(PacketsMalformed, "packets_malformed")                 \
  X(PayloadBytes, "payload_bytes")                         \
  X(LinesParsed, "lines_parsed")                           \
  X(SessionsOpened, "sessions_opened")                     \
  X(SessionsClosed, "sessions_closed")                     \
  X(SessionsRefusedAtLimit, "sessions_refused_at_limit")   \
  X(Rewrites, "rewrites")                                  \
  X(PinholesOpened, "pinholes_opened")                     \
  X(PinholesClosed, "pinholes_closed")                     \
  X(Rejects, "rejects")                                    \
  X(Anomalies, "anomalies")                                \
  X(FlowsUninspected, "flows_uninspected")                 \
  X(Retransmissions, "retransmissions")                    \
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
