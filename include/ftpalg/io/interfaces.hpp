// The shell's ports, all of them in this one header: interfaces only. The engine (sans-I/O) calls
// none of them: the shell reads packets from its source (NFQUEUE, pcap), resolves each packet's control flow
// with a FlowResolver before handing it to the engine, and carries out the engine's Outcome through
// a KernelSessionPort, a PinholeBackend, a VerdictSink, the EventLog and FlowResolver::forget, in
// the order outcome.hpp gives (src/app/outcome_executor.hpp). Live mode, dry-run and replay differ only in
// which implementations src/app/wiring.cpp picks.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/result.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/flow_context.hpp"
#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/engine/reasons.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg {

// One packet from a source (io/nfqueue_source.hpp, io/pcap_source.hpp). `ipPacket` starts at the
// IP header and stays valid until the source reads the next packet. `linkHeader` (replay only) is
// the captured link-layer header, re-emitted unchanged in front of the rewritten packet.
struct SourcePacket {
  PacketId id = 0;
  Timestamp ts;
  std::span<const std::uint8_t> ipPacket;
  std::span<const std::uint8_t> linkHeader;
  bool controlCandidate = true;  // false: not IPv4/IPv6 TCP (passed through untouched)
};

// Names the control flow of a packet and the NAT view of its two parties (live: ctnetlink, cached;
// replay: the static --snat/--dnat rules). Called by the shell once per packet, before the engine.
class FlowResolver {
 public:
  virtual ~FlowResolver() = default;
  // The control flow `packet` belongs to, or nullopt when it is not FTP control traffic (the
  // shell then passes it untouched). Implementations cache.
  virtual std::optional<FlowContext> resolve(const PacketView& packet) = 0;
  // The engine forgot a flow (Outcome::forgottenFlows: closed or expired); a cache may drop it.
  virtual void forget(const FlowKey& /*key*/) {}
};

class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  virtual Status<> deliver(const PacketVerdict& verdict) = 0;
};

// Writes what conntrack keeps about a control connection in the conntrack-owned mode
// (docs/design.md#conntrack-owned-mode): its sequence adjustment and whether its FTP dialog was
// verified. Called before the pinhole actions and the verdicts of the same Outcome; each call
// returns after the kernel acknowledged (live: src/io/conntrack_session_port.hpp), so the change
// is in place before the packet that needs it leaves. Dry-run and replay record instead
// (src/backend/recording_session_port.hpp).
class KernelSessionPort {
 public:
  virtual ~KernelSessionPort() = default;
  // Replaces the record of `adjust.direction` of the connection (outcome.hpp, AdjustKernelSequence).
  virtual Status<> adjustSequence(const AdjustKernelSequence& adjust) = 0;
  // Records the verified dialog in the connection's conntrack entry.
  virtual Status<> markDialogVerified(const MarkDialogVerified& mark) = 0;
};

// Installs and removes pinholes. Called before the verdict of the announcing packet.
class PinholeBackend {
 public:
  virtual ~PinholeBackend() = default;
  virtual Status<> open(const Pinhole& pinhole) = 0;
  virtual Status<> close(const Pinhole& pinhole, Reason reason) = 0;
};

// The decision log. `mode` is "live", "dry-run" or "replay".
class EventLog {
 public:
  virtual ~EventLog() = default;
  virtual void record(const Observation& observation) = 0;
  virtual void recordStats(Timestamp ts, const Stats& stats) = 0;
  virtual void flush() = 0;
  // SIGHUP: reopen the file (no-op for stdout).
  virtual Status<> reopen() { return okStatus(); }
  // The first write failure since the log was opened or reopened ("write error on \"FILE\": No
  // space left on device"), if any. Writing goes on (the decision log never stops packet
  // processing); the runner reports the failure, and replay exits with status 1.
  virtual std::optional<std::string> writeError() const { return std::nullopt; }
};

}  // namespace ftpalg
