// Outcome: everything the engine decided for one input, as data (docs/architecture.md "Effects
// are data"). The shell executes it in this order (src/app/outcome_executor.hpp): first the
// kernel session actions (AdjustKernelSequence, MarkDialogVerified: conntrack translates the
// rewritten packet's stream before it leaves), then the pinhole actions (a pinhole is installed
// before the announcing packet is released), then verdicts, then observations are logged, then
// the forgotten flows are dropped from the FlowResolver's cache.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/flow_context.hpp"
#include "ftpalg/engine/kernel_session.hpp"
#include "ftpalg/engine/reasons.hpp"
#include "ftpalg/ftp/address_codec.hpp"

namespace ftpalg {

using PacketId = std::uint64_t;  // NFQUEUE packet id in live mode, packet index in replay

enum class VerdictKind : std::uint8_t {
  Accept,          // release the original bytes
  AcceptModified,  // release `bytes` instead
  Drop,
};

struct PacketVerdict {
  PacketId id = 0;
  VerdictKind kind = VerdictKind::Accept;
  std::vector<std::uint8_t> bytes;  // the whole IP packet, AcceptModified only
};

// A pinhole: `from` may open ONE TCP connection to `to` (any source port) before `expires`;
// that connection is forwarded to `natTo` when set. Addresses are as seen at the router's
// prerouting hook: `from` is the connecting peer's real address, `to` what it connects to.
struct Pinhole {
  std::uint64_t id = 0;  // unique per engine
  FlowKey control;       // the control connection that announced it
  IpAddress from;
  Endpoint to;
  std::optional<Endpoint> natTo;
  std::chrono::seconds timeout{30};
  Timestamp expires;
  // The control connection as conntrack knows it, and which side announced: what a conntrack
  // expectation needs (its master is the ORIGINAL tuple controlNat.clientReal ->
  // controlNat.serverSeenByClient; ClientToServer = PORT/EPRT, the server connects;
  // ServerToClient = 227/229, the client connects). The nft backend uses neither.
  NatMapping controlNat;
  Direction announcedBy = Direction::ClientToServer;
};

struct OpenPinhole {
  Pinhole pinhole;
};
struct ClosePinhole {
  Pinhole pinhole;
  Reason reason = Reason::Expired;  // Replaced, SessionClosed, Expired, Shutdown
};

// Conntrack-owned mode only (FlowContext::sequenceOwner == Kernel), never in engine-owned mode:
// after an edit that changed the length of `direction`'s stream, conntrack must adjust that
// direction's sequence numbers (and the peer's ACK/SACK) from the edited segment on. The shell
// replaces the direction's kernel record (kernel_session.hpp has its exact meaning) with one
// acknowledged ctnetlink update BEFORE it installs pinholes and releases any verdict, so the
// rewritten segment already leaves adjusted:
//   IPCTNL_MSG_CT_NEW without NLM_F_CREATE, CTA_TUPLE_ORIG = nat.clientReal ->
//   nat.serverSeenByClient, CTA_SEQ_ADJ_ORIG (ClientToServer: PORT/EPRT) or CTA_SEQ_ADJ_REPLY
//   (ServerToClient: 227/229) = record.
// `record.offsetBefore` is the direction's cumulative delta before this edit, never a per-edit
// delta. A retransmission of the edited segment needs no second action (the record stands).
// Without the seqadj extension (FlowContext::kernelSeqAdjust false) the kernel accepts the update
// and ignores it: the engine must not emit one then.
struct AdjustKernelSequence {
  FlowKey control;
  NatMapping nat;
  Direction direction = Direction::ClientToServer;
  SeqAdjRecord record;
};

// Conntrack-owned mode only: the engine verified the FTP dialog of this connection (the 220
// greeting at the start of the server's stream, docs/design.md#ftp-dialog-required). The shell
// records it in conntrack (a ct mark bit, src/firewall/anchor_rules.hpp) so that an instance
// taking the connection over later knows it (KernelTakeover::dialogVerified). Emitted once per
// session, before the first pinhole or edit of the session needs it.
struct MarkDialogVerified {
  FlowKey control;
  NatMapping nat;
};

using Action = std::variant<OpenPinhole, ClosePinhole, AdjustKernelSequence, MarkDialogVerified>;

// Observations: the decision log (event names in parentheses, see docs/log-schema.md).
struct SessionOpened {};  // session_open
struct SessionClosedObs {
  Reason reason = Reason::Fin;
};                // session_close
struct Rewrite {  // rewrite
  Direction dir = Direction::ClientToServer;
  AddressVerb verb = AddressVerb::Port;
  std::string before;  // escaped line text, no terminator
  std::string after;
};
struct PinholeOpened {
  Pinhole pinhole;
};  // pinhole
struct PinholeClosed {
  Pinhole pinhole;
  Reason reason = Reason::Expired;
};               // pinhole_close
struct Reject {  // reject
  Direction dir = Direction::ClientToServer;
  AddressVerb verb = AddressVerb::Port;
  Reason reason = Reason::BadSyntax;
  std::string line;  // escaped, capped, never a PASS argument
};
struct AnomalyObs {  // anomaly
  Direction dir = Direction::ClientToServer;
  Reason reason = Reason::MalformedPacket;
  bool inspectionStopped = false;
};
struct OpaqueObs {
  Reason reason = Reason::TlsNegotiated;
};  // opaque (TlsNegotiated / CleartextResumed)

using ObservationBody = std::variant<SessionOpened, SessionClosedObs, Rewrite, PinholeOpened, PinholeClosed,
                                     Reject, AnomalyObs, OpaqueObs>;

struct Observation {
  Timestamp ts;
  FlowKey flow;
  ObservationBody body;
};

struct Outcome {
  std::vector<Action> actions;
  std::vector<PacketVerdict> verdicts;  // possibly for earlier (held) packets too
  std::vector<Observation> observations;
  // Flows the engine no longer tracks (closed or expired sessions): the FlowResolver may drop
  // them (FlowResolver::forget).
  std::vector<FlowKey> forgottenFlows;

  // Empties every list, keeping their capacity (one Outcome is reused for every call).
  void clear() {
    actions.clear();
    verdicts.clear();
    observations.clear();
    forgottenFlows.clear();
  }
};

}  // namespace ftpalg
