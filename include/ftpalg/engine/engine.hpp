// Engine: the one FTP ALG engine behind live mode, dry-run and replay (docs/architecture.md).
//
// Pure: no OS calls, no clock, no allocation-heavy global state; time arrives as a parameter.
// Single-threaded: one Engine per queue.
//
// Flow identity and NAT come from the shell through a FlowResolver (live: ctnetlink, cached;
// replay: static --snat/--dnat rules). The engine never looks at a packet's addresses to decide
// which session it belongs to: the resolver does.
//
// Inside (docs/architecture.md "Engine layout"): engine.cpp conducts; session.hpp holds a
// connection's state; stream_inspector.hpp reads the byte streams; announcement.hpp decides
// announcements; pinhole_table.hpp keeps the pinholes; packet_emitter.hpp holds, releases and
// translates packets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/engine_config.hpp"
#include "ftpalg/engine/flow_context.hpp"
#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/engine/policy.hpp"
#include "ftpalg/engine/reasons.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg {

class FlowResolver {
 public:
  virtual ~FlowResolver() = default;
  // The control flow a packet belongs to, or nullopt when it is not FTP control traffic (the
  // engine then accepts it untouched). Called for every packet; implementations cache.
  virtual std::optional<FlowContext> resolve(const PacketView& packet) = 0;
  // The engine forgot a flow (closed or expired); a cache may drop it.
  virtual void forget(const FlowKey& /*key*/) {}
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
  void forgetFlows(Outcome& out, std::size_t from);
  EngineConfig config_;
  FlowResolver& resolver_;
  Stats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ftpalg
