// Engine: the one FTP ALG engine behind live mode, dry-run and replay (DESIGN.md §1).
//
// Pure: no OS calls, no clock, no allocation-heavy global state; time arrives as a parameter.
// Single-threaded: one Engine per queue.
//
// Flow identity and NAT come from the shell through a FlowResolver (live: ctnetlink, cached;
// replay: static --snat/--dnat rules). The engine never looks at a packet's addresses to decide
// which session it belongs to: the resolver does (the two queue points see different address
// views of one connection, DESIGN.md §3).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/engine/policy.hpp"
#include "ftpalg/engine/reasons.hpp"
#include "ftpalg/packet/packet_view.hpp"

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

class FlowResolver {
 public:
  virtual ~FlowResolver() = default;
  // The control flow a packet belongs to, or nullopt when it is not FTP control traffic (the
  // engine then accepts it untouched). Called for every packet; implementations cache.
  virtual std::optional<FlowContext> resolve(const PacketView& packet) = 0;
  // The engine forgot a flow (closed or expired); a cache may drop it.
  virtual void forget(const FlowKey& /*key*/) {}
};

// Which sequence space the peers' ACK and SACK numbers are in when they reach the engine.
enum class AckSpace : std::uint8_t {
  // Live: each peer received the rewritten stream and acknowledges it; the engine maps ACK/SACK
  // back into the sender's original space (DESIGN.md §3).
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

struct PacketMeta {
  PacketId id = 0;
};

class Engine {
 public:
  Engine(EngineConfig config, FlowResolver& resolver);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Processes one IP packet (starting at the IP header). `bytes` need only live for the call
  // (held packets are copied). Appends to `out` (which the caller clears between calls):
  // verdicts for this packet (unless held) and for held packets released now.
  void onPacket(const PacketMeta& meta, std::span<const std::uint8_t> bytes, Timestamp now,
                Outcome& out);
  // Expires pinholes, idle sessions and held packets. Call at least once a second in live mode;
  // replay calls it with each packet's timestamp.
  void onTimer(Timestamp now, Outcome& out);
  // Closes every session and pinhole and releases every held packet (daemon stop, end of replay).
  void shutdown(Timestamp now, Outcome& out);

  // The next time onTimer() has work (nullopt: nothing scheduled).
  std::optional<Timestamp> nextDeadline() const;

  const Stats& stats() const { return stats_; }
  std::size_t sessionCount() const;
  std::size_t pinholeCount() const;
  const EngineConfig& config() const { return config_; }

 private:
  struct Impl;
  EngineConfig config_;
  Stats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ftpalg
