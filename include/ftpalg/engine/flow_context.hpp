// FlowContext: what the shell tells the engine about the control connection a packet belongs to.
// The shell's FlowResolver (include/ftpalg/io/interfaces.hpp) computes it before the engine sees
// the packet: live from conntrack (cached), in replay from the static --snat/--dnat rules. The
// engine never looks at a packet's addresses to decide which session it belongs to (the two queue
// points see different address views of one connection, docs/architecture.md).
#pragma once

#include <cstdint>
#include <optional>

#include "ftpalg/core/ip_address.hpp"

namespace ftpalg {

// How each party of a control connection is seen across the router. All four endpoints are
// known for every flow; without NAT, seen == real. "Real" is the endpoint on the party's own
// host; "seen" is what the other party sees after this router's NAT.
struct NatMapping {
  Endpoint clientReal;
  Endpoint clientSeenByServer;  // after SNAT/masquerade (== clientReal without)
  Endpoint serverReal;
  Endpoint serverSeenByClient;  // before DNAT/port-forwarding (== serverReal without)
};

// The client's SYN as the shell's connection tracker recorded it, for a server SYN-ACK whose SYN
// the engine could not see: live mode never resolves a client's first SYN
// (docs/decisions/0006-live-shell.md). It proves that the SYN-ACK answers a real SYN, so a session
// may start there (docs/security.md "Sessions start at a real handshake").
struct ClientSynSeen {
  std::optional<std::uint8_t> windowShift;  // the SYN's Window Scale option (RFC 7323 §2.2), if any
  friend bool operator==(const ClientSynSeen&, const ClientSynSeen&) = default;
};

struct FlowContext {
  // Identity of the control connection, identical for both directions and both queue points.
  // Live: the real endpoints. Replay: the endpoints as captured (one capture point, consistent).
  // Logs print it as the "flow" field.
  FlowKey key;
  Direction direction = Direction::ClientToServer;  // of this packet
  NatMapping nat;
  // Only on a server SYN-ACK, only in live mode: conntrack saw the client's SYN it answers (its
  // entry was still in the handshake, SYN_SENT or SYN_RECV, when the SYN-ACK was queued). Replay
  // never sets it: the engine sees every SYN itself.
  std::optional<ClientSynSeen> clientSyn = std::nullopt;
};

}  // namespace ftpalg
