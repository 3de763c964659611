// EngineSnapshot: a copy of what an engine holds now, for `ftpalg status` and the metrics
// endpoint (src/app/status_server.hpp). Plain data, taken by Engine::snapshot() on the engine's
// own thread (the engine is single-threaded); the shell then reads it on any thread.
//
// Offsets are 64-bit stream offsets relative to the sender's ISN + 1 (docs/architecture.md
// "Sequence spaces"), in the original (received) space unless named output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/engine/reasons.hpp"
#include "ftpalg/ftp/control_channel.hpp"

namespace ftpalg {

struct DirectionSnapshot {
  bool baseKnown = false;        // the sender's ISN is known (its SYN, or mid-stream pickup)
  std::int64_t delivered = 0;    // bytes delivered in order to the parser (SegmentTracker)
  std::int64_t emitted = 0;      // bytes released to the receiver (PacketEmitter)
  std::int64_t outputDelta = 0;  // output offset minus original offset after the last edit
  std::size_t edits = 0;         // rewrites still kept for retransmissions
  std::size_t outOfOrderBytes = 0;
  std::size_t partialLineBytes = 0;  // an incomplete line waiting for its end
  bool finSeen = false;
  bool inTls = false;
};

struct SessionSnapshot {
  FlowKey flow;
  ChannelState channel = ChannelState::AwaitingGreeting;
  bool inspecting = true;
  bool closed = false;
  bool finished = false;
  // The pending announcement: a PASV/EPSV whose 227/229 has not come yet
  // (awaitingPassiveReply), unanswered commands, packets held until a line that may announce an
  // address is complete.
  bool awaitingPassiveReply = false;
  std::size_t pendingCommands = 0;
  std::size_t heldPackets = 0;
  std::size_t heldBytes = 0;
  std::optional<std::uint64_t> pinholeId;  // the session's pending pinhole
  Duration idle{};                         // since its last packet
  DirectionSnapshot clientToServer, serverToClient;
};

struct EngineSnapshot {
  Timestamp taken;
  std::vector<SessionSnapshot> sessions;  // in no particular order
  std::vector<Pinhole> pinholes;          // by id
  Stats stats;
};

}  // namespace ftpalg
