// The shell's ports (DESIGN.md §1): interfaces only. Live mode, dry-run and replay differ only in
// which implementations src/app/wiring.cpp picks.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/core/result.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/engine/reasons.hpp"

namespace ftpalg {

// One packet from a source. `ipPacket` starts at the IP header and stays valid until the next
// call to PacketSource::next(). `linkHeader` (replay only) is the captured link-layer header,
// re-emitted unchanged in front of the rewritten packet.
struct SourcePacket {
  PacketId id = 0;
  Timestamp ts;
  std::span<const std::uint8_t> ipPacket;
  std::span<const std::uint8_t> linkHeader;
  bool controlCandidate = true;  // false: not IPv4/IPv6 TCP (passed through untouched)
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  // Blocks until a packet, end of input (nullopt) or an error.
  virtual Result<std::optional<SourcePacket>> next() = 0;
};

class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  virtual Status<> deliver(const PacketVerdict& verdict) = 0;
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
};

}  // namespace ftpalg
