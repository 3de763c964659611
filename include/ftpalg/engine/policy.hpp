// Policy and Limits: plain configuration structs for the engine. Validated by the shell
// (src/app/options.cpp), never read from flags by the engine (docs/design.md#configuration).
// The default member initializers below are the defaults of the command-line options: the help
// (`ftpalg run --help`) and --print-config show them from here, so change a default only here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ftpalg {

enum class AntiBounceMode : std::uint8_t {
  Strict,  // the embedded address must equal the announcing peer's real address, else refuse
  Peer,    // ignore the embedded address; use the announcing peer's address (OpenBSD ftp-proxy)
};

struct Policy {
  AntiBounceMode antiBounce = AntiBounceMode::Strict;
  std::uint16_t dataPortFloor = 1024;       // announced data ports below are refused
  std::chrono::seconds pinholeTimeout{30};  // accepted range: src/app/options.cpp
  bool acceptBareLf = false;                // docs/decisions/0003-line-endings-and-limits.md
  // When a flow is first seen after its handshake (e.g. the daemon restarted), it cannot have
  // shown its 220 greeting: it is passed uninspected. Always true; kept explicit for docs.
  friend bool operator==(const Policy&, const Policy&) = default;
};

struct Limits {
  std::size_t maxSessions = 200000;             // tracked control connections
  std::size_t maxPinholes = 100000;             // pending pinholes, all sessions together
  std::size_t maxLineLength = 512;              // bytes of one line, terminator excluded
  std::size_t maxMultiLineReplyBytes = 65536;   // one multi-line reply, all lines
  std::size_t maxOutOfOrderBytes = 16384;       // per direction
  std::size_t maxHeldPackets = 128;             // per session, verdict postponed
  std::size_t maxHeldBytes = 65536;             // per session
  std::chrono::milliseconds holdTimeout{3000};  // a held packet is released unmodified after
  std::uint32_t pinholesPerSecond = 20;         // per session, token bucket
  std::uint32_t pinholeBurst = 40;
  // A session silent this long (no plausible packet either way) stops being inspected and is
  // forgotten. Until then it is inspected however long it was silent: a control connection is
  // silent for as long as a transfer takes. The default is the kernel's
  // nf_conntrack_tcp_timeout_established (5 days): the kernel's own ftp helper lives as long as
  // the conntrack entry (docs/security.md "Idle is not dead").
  std::chrono::seconds sessionIdleTimeout{432000};
  std::chrono::seconds closedSessionLinger{10};  // state kept after FIN/RST for stragglers
  // A session whose rewrites changed the stream length must keep translating seq/ack after an
  // idle close (a shorter --session-idle-timeout), as long as the kernel may keep the connection
  // (nf_conntrack_tcp_timeout_established).
  std::chrono::seconds translatedSessionIdleTimeout{432000};
  friend bool operator==(const Limits&, const Limits&) = default;
};

}  // namespace ftpalg
