// Session: the engine's state for one FTP control connection, and what each of its two directions
// tracks. Plain data shared by the engine's parts: the stream inspector reads and advances the
// byte-stream state, the announcement decision reads the NAT mapping and spends the rate bucket,
// the packet emitter holds packets and translates sequence numbers, and the conductor (engine.cpp)
// creates, closes and forgets sessions. Each lives in the engine's FlowTable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/seq_num.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/effects.hpp"
#include "ftpalg/engine/flow_context.hpp"
#include "ftpalg/engine/kernel_sequencer.hpp"
#include "ftpalg/engine/policy.hpp"
#include "ftpalg/ftp/address_codec.hpp"
#include "ftpalg/ftp/control_channel.hpp"
#include "ftpalg/ftp/line_framer.hpp"
#include "ftpalg/ftp/tls_record_tracker.hpp"
#include "ftpalg/tcp/segment_tracker.hpp"
#include "ftpalg/tcp/seq_adjuster.hpp"

namespace ftpalg {

// Escaped FTP lines in the decision log are capped at this many bytes (escape.hpp).
inline constexpr std::size_t kLogLineCap = 256;

// One direction of a control connection. Offsets are 64-bit stream offsets relative to the
// sender's ISN + 1 (docs/architecture.md "Sequence spaces").
struct DirectionState {
  DirectionState(const Limits& limits, const Policy& policy)
      : tracker(limits.maxOutOfOrderBytes), framer(limits.maxLineLength, policy.acceptBareLf) {}

  // Hot fields first (every packet of this direction reads them), TLS state last.
  bool baseKnown = false;
  bool inTls = false;  // bytes are TLS records (after AUTH + 234)
  bool finSeen = false;
  std::uint16_t receiverMss = 0;  // MSS the receiver of this direction advertised (0: unknown)
  std::int64_t emittedEnd = 0;    // original offset up to which payload has been emitted
  SeqUnwrapper unwrap;            // sender's sequence numbers -> stream offsets (both spaces)
  SegmentTracker tracker;         // original space
  LineFramer framer;              // original space
  SeqAdjuster adjuster;           // original <-> output
  TlsRecordTracker tls;
};

// A packet whose verdict is postponed until its bytes are decided (packet_emitter.hpp).
struct HeldPacket {
  PacketId id = 0;
  Direction dir = Direction::ClientToServer;
  std::int64_t offset = 0;      // original stream offset of the first payload byte
  std::size_t payloadSize = 0;  // payload bytes of the packet
  Timestamp heldAt;
  std::vector<std::uint8_t> bytes;  // the packet as received (IP header first)
};

// The per-session pinhole rate limit (Limits::pinholesPerSecond, pinholeBurst): a token bucket
// refilled continuously by the engine's clock.
struct TokenBucket {
  double tokens = 0;
  Timestamp refilledAt;

  // Refills for the time since the last call (never more than `burst`), then takes one token;
  // false when less than one is left.
  bool take(Timestamp now, double perSecond, double burst);
};

struct Session {
  Session(const FlowContext& context, const Limits& limits, const Policy& policy, Timestamp now)
      : key(context.key),
        lastSeen(now),
        rate{static_cast<double>(limits.pinholeBurst), now},
        family(context.key.client.address.family()),
        channel(context.key.client.address.family()),
        dirs{DirectionState(limits, policy), DirectionState(limits, policy)},
        nat(context.nat) {
    kernel.owned = context.sequenceOwner == SequenceOwner::Kernel;
    kernel.seqAdjust = context.kernelSeqAdjust;
  }

  // Layout: what every packet reads first (flags, times, held packets), then the two
  // directions, then what only announcements read (the NAT mapping). 100k sessions do not fit
  // in cache: each packet pays a miss per cache line it touches (docs/performance.md).
  FlowKey key;
  bool inspecting = true;
  bool closed = false;    // no more inspection or pinholes (FIN/RST, idle, shutdown)
  bool finished = false;  // the TCP connection ended (RST, or FIN both ways)
  Timestamp finishedAt;
  Timestamp lastSeen;
  std::vector<HeldPacket> held;  // in arrival order
  std::size_t heldBytes = 0;
  std::optional<std::uint64_t> pinholeId;  // the session's one pending pinhole
  TokenBucket rate;
  std::size_t multiLineBytes = 0;  // bytes of the open multi-line reply
  IpFamily family;
  ControlChannel channel;
  DirectionState dirs[2];
  NatMapping nat;
  // Conntrack-owned mode (kernel_sequencer.hpp): whether the kernel translates this flow's
  // sequence numbers, and the engine's view of the kernel's records.
  KernelSession kernel;

  DirectionState& dir(Direction d) { return dirs[static_cast<int>(d)]; }
  const DirectionState& dir(Direction d) const { return dirs[static_cast<int>(d)]; }
  // True when a rewrite changed the length of either direction's stream: seq/ack translation
  // must then continue for as long as the connection may live.
  // Never for a kernel-owned flow (the kernel translates).
  bool translates() const {
    return !kernel.owned && (dirs[0].adjuster.totalDelta() != 0 || dirs[1].adjuster.totalDelta() != 0);
  }
};

// Fail open per flow: no more parsing, no more pinholes; existing edits keep being applied.
void stopInspection(Session& session, Effects& effects);

// Counts and logs an anomaly of `dir`; stops inspection when `stopInspecting` (and inspection
// was still on: the observation then says so).
void recordAnomaly(Session& session, Direction dir, Reason reason, bool stopInspecting, Effects& effects);

// Counts and logs a refused address-bearing line (escaped and capped; never a PASS argument).
void recordReject(const Session& session, Direction dir, AddressVerb verb, Reason reason,
                  std::string_view line, Effects& effects);

}  // namespace ftpalg
