// The announcement decision (docs/architecture.md, step 8): whether a PORT, EPRT, 227 or 229 that
// the control channel accepted may open a pinhole, which endpoint the other peer is told, and the
// text that replaces the announced span. Checks, in this order (the first failing one is the
// refusal reason):
//   1. announcement_not_held: more than the verb of the line was already released unheld;
//   2. address_mismatch (strict anti-bounce): the embedded address is not the announcer's real
//      address (a server may also name the address it is reached at, docs/decisions/0005);
//   3. port_zero, then port_below_floor (Policy::dataPortFloor: ports below it are refused);
//   4. pinhole_rate_limit (the session's token bucket; spends a token when it passes);
//   5. pinhole_limit (Limits::maxPinholes, unless the session replaces its own pinhole);
//   6. no_public_port: the announcer is NAT'ed and every probed public port is taken.
// Pure: reads the pinhole table, changes nothing but the session's rate bucket. The engine
// (engine.cpp) applies the decision: closes a displaced pinhole, records the edit, opens the
// pinhole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/flow_context.hpp"
#include "ftpalg/engine/pinhole_table.hpp"
#include "ftpalg/engine/policy.hpp"
#include "ftpalg/engine/reasons.hpp"
#include "ftpalg/engine/session.hpp"
#include "ftpalg/ftp/address_codec.hpp"
#include "ftpalg/ftp/line_framer.hpp"

namespace ftpalg {

struct Announcement {
  Direction dir = Direction::ClientToServer;  // c2s: PORT/EPRT; s2c: 227/229
  const FramedLine& line;                     // the complete announcing line
  const ParsedAddress& parsed;                // what the control channel parsed from it
  const NatMapping& nat;                      // the session's four endpoints
  std::int64_t emittedEnd = 0;                // original offset released so far in `dir`
  std::optional<std::uint64_t> ownPinhole;    // the session's current pinhole
};

// The announced span's replacement (a StreamEdit for the announcing direction).
struct SpanReplacement {
  std::int64_t offset = 0;    // original stream offset of the span's first byte
  std::string_view original;  // the span as announced (points into Announcement::line.text)
  std::string replacement;    // canonical text for the announced endpoint
  std::string lineAfter;      // the whole line with the replacement, for the log
};

struct AnnouncementDecision {
  std::optional<Reason> refusal;  // set: refused; nothing below applies
  // Another session's pinhole on the slot this one takes (an announcer without NAT announces
  // its own listener, so the stale pinhole goes): closed as `replaced` first.
  std::optional<std::uint64_t> displaced;
  IpAddress connector;                         // the peer that may connect (Pinhole::from)
  Endpoint announced;                          // the endpoint it is told and connects to (Pinhole::to)
  std::optional<Endpoint> natTo;               // where the connection really goes, when not `announced`
  std::optional<SpanReplacement> replacement;  // set when the announced text changes
};

AnnouncementDecision decideAnnouncement(const Announcement& announcement, const Policy& policy,
                                        const Limits& limits, const PinholeTable& pinholes, TokenBucket& rate,
                                        Timestamp now);

}  // namespace ftpalg
