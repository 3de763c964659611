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

struct EngineConfig {
  Policy policy;
  Limits limits;
  AckSpace ackSpace = AckSpace::Output;
  friend bool operator==(const EngineConfig&, const EngineConfig&) = default;
};

}  // namespace ftpalg
