// EngineConfig: everything an Engine is configured with (policy, limits, the ACK space of its
// input). Validated by the shell (src/app/options.cpp); the engine never reads flags.
#pragma once

#include <cstdint>

#include "ftpalg/engine/policy.hpp"

namespace ftpalg {

// Which sequence space the peers' ACK and SACK numbers are in when they reach the engine.
enum class AckSpace : std::uint8_t {
  // Live: each peer received the rewritten stream and acknowledges it; the engine maps ACK/SACK
  // back into the sender's original space (docs/architecture.md "Sequence spaces").
  Output,
  // Replay: the capture was taken where the peers never saw a rewrite (no ALG, or the inside
  // interface of a router whose ALG already un-shifted them), so ACK/SACK already are in the
  // original space and pass unchanged.
  Original,
};

// What the TCP checksums of the engine's input can be (every packet's checksums are verified
// before it is inspected: one that fails is passed on uninspected, packets_bad_checksum).
enum class ChecksumInput : std::uint8_t {
  // Live: every packet carries complete checksums. A segment the local stack queued before its
  // NIC would finish the checksum (CHECKSUM_PARTIAL, NFQA_SKB_CSUMNOTREADY) is completed by the
  // NFQUEUE source before the engine sees it (src/io/nfqueue_source.hpp), so a TCP checksum field
  // that holds only the pseudo-header sum is a corrupt segment.
  Complete,
  // Replay: a capture taken on a sending host shows that host's segments before its NIC completed
  // them; a TCP checksum field holding exactly the pseudo-header sum (checksum::ChecksumState::
  // Offloaded) is accepted, and such a segment gets a computed checksum when it is rewritten.
  MayBeOffloaded,
};

struct EngineConfig {
  Policy policy;
  Limits limits;
  AckSpace ackSpace = AckSpace::Output;
  ChecksumInput checksums = ChecksumInput::Complete;
  friend bool operator==(const EngineConfig&, const EngineConfig&) = default;
};

}  // namespace ftpalg
