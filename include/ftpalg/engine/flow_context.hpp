// FlowContext: what the shell tells the engine about the control connection a packet belongs to.
// The shell's FlowResolver (include/ftpalg/io/interfaces.hpp) computes it before the engine sees
// the packet: live from conntrack (cached), in replay from the static --snat/--dnat rules. The
// engine never looks at a packet's addresses to decide which session it belongs to (the two queue
// points see different address views of one connection, docs/architecture.md).
#pragma once

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

struct FlowContext {
  // Identity of the control connection, identical for both directions and both queue points.
  // Live: the real endpoints. Replay: the endpoints as captured (one capture point, consistent).
  // Logs print it as the "flow" field.
  FlowKey key;
  Direction direction = Direction::ClientToServer;  // of this packet
  NatMapping nat;
};

}  // namespace ftpalg
