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

// Who keeps a flow's sequence numbers consistent after a length-changing rewrite
// (docs/design.md#conntrack-owned-mode).
enum class SequenceOwner : std::uint8_t {
  // The engine translates seq, ACK and SACK of every packet itself (PacketEmitter): engine-owned
  // mode (`--seq-owner engine`), and replay.
  Engine,
  // Conntrack does (nf_ct_seq_adjust, tcp_in_window): the engine does not touch seq, ACK or SACK
  // and reports each length-changing edit as an AdjustKernelSequence action (outcome.hpp).
  // `--seq-owner kernel`, for connections that carry ftpalg's anchor. Both directions of such a
  // flow are queued after conntrack (mangle FORWARD), so seq is in its sender's raw space and
  // ACK/SACK in the peer's adjusted (output) space, and only segments with payload (and the
  // SYN-ACK) are queued.
  Kernel,
};

// How each party of a control connection is seen across the router. All four endpoints are
// known for every flow; without NAT, seen == real. "Real" is the endpoint on the party's own
// host; "seen" is what the other party sees after this router's NAT.
struct NatMapping {
  Endpoint clientReal;
  Endpoint clientSeenByServer;  // after SNAT/masquerade (== clientReal without)
  Endpoint serverReal;
  Endpoint serverSeenByClient;  // before DNAT/port-forwarding (== serverReal without)
  friend bool operator==(const NatMapping&, const NatMapping&) = default;
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
  SequenceOwner sequenceOwner = SequenceOwner::Engine;
  // Kernel-owned flows only: conntrack holds the seqadj extension for this connection, so an
  // AdjustKernelSequence takes effect. True when the anchor was set at the connection's first
  // packet and NAT changed its tuple (the kernel adds seqadj only then: nf_nat_setup_info). An
  // anchored connection that is only routed has none: the kernel silently ignores updates, so the
  // engine must make no length-changing edit on it (none is needed without NAT, except to apply
  // `--anti-bounce peer`).
  bool kernelSeqAdjust = false;
  friend bool operator==(const FlowContext&, const FlowContext&) = default;
};

}  // namespace ftpalg
