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
// known for every flow; without NAT, seen == real.
struct NatMapping {
  Endpoint clientSeenByServer;  // the client's endpoint after SNAT/masquerade (== client.real without)
  Endpoint serverSeenByClient;  // the server's endpoint before DNAT (== server.real without)
};

struct FlowContext {
  FlowKey key;           // real endpoints (FlowKey contract)
  Direction direction;   // of this packet
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

struct EngineConfig {
  Policy policy;
  Limits limits;
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
