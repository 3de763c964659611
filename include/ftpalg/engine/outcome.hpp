// Outcome: everything the engine decided for one input, as data (docs/architecture.md "Effects
// are data"). The shell executes it in this order (src/app/outcome_executor.hpp): actions first
// (a pinhole is installed before the announcing packet is released), then verdicts, then
// observations are logged, then the forgotten flows are dropped from the FlowResolver's cache.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/time.hpp"
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
};

struct OpenPinhole {
  Pinhole pinhole;
};
struct ClosePinhole {
  Pinhole pinhole;
  Reason reason = Reason::Expired;  // Replaced, SessionClosed, Expired, Shutdown
};
using Action = std::variant<OpenPinhole, ClosePinhole>;

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
