// Engine: the one FTP ALG engine behind live mode, dry-run and replay (docs/architecture.md).
//
// Sans-I/O: no OS calls, no clock, no blocking. Time arrives as a parameter; each packet arrives
// parsed by the shell (PacketView) together with its control flow (FlowContext), which the shell
// resolved through its FlowResolver (include/ftpalg/io/interfaces.hpp: live ctnetlink, cached;
// replay static --snat/--dnat rules). The engine never looks at a packet's addresses to decide
// which session it belongs to. Everything it decides comes back as data in an Outcome.
// Single-threaded: one Engine per queue.
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
#include "ftpalg/engine/kernel_session.hpp"
#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/engine/policy.hpp"
#include "ftpalg/engine/reasons.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg {

struct PacketMeta {
  PacketId id = 0;
};

// Why the shell passes a packet without the engine inspecting it.
enum class Uninspected : std::uint8_t {
  Malformed,       // PacketView::parse refused it (not an unfragmented IPv4/IPv6 TCP packet)
  NotControlFlow,  // the FlowResolver claimed no control flow for it
};

class Engine {
 public:
  explicit Engine(EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Processes one packet of a control flow. `packet` was parsed by the shell from `bytes` (which
  // start at the IP header and may carry link-layer padding after the IP packet; the padding
  // counts against the hold limits); `flow` is what the shell's FlowResolver said about it.
  // `bytes` need only live for the call (held packets are copied). Appends to `out` (which the
  // caller clears between calls): verdicts for this packet (unless held) and for held packets
  // released now, pinhole actions, observations, flows to forget.
  void onPacket(const PacketMeta& meta, std::span<const std::uint8_t> bytes, const PacketView& packet,
                const FlowContext& flow, Timestamp now, Outcome& out);
  // A packet the shell passes uninspected (live mode hands every queued IPv4/IPv6 packet to the
  // engine; replay writes such packets straight to --out): counted (packets_seen, and
  // packets_malformed for Malformed), and its Accept verdict appended to `out`.
  void onUninspected(const PacketMeta& meta, Uninspected why, Outcome& out);
  // Expires pinholes, idle sessions and held packets. Call at least once a second in live mode;
  // replay calls it with each packet's timestamp.
  void onTimer(Timestamp now, Outcome& out);
  // Conntrack-owned mode (docs/design.md#conntrack-owned-mode): conntrack destroyed the entry of
  // control connection `flow` (a ctnetlink DESTROY event, which arrives when conntrack's garbage
  // collector reaps the entry: seconds after its timeout, src/io/conntrack_events.hpp). Closes
  // its session (session_close `conntrack_destroyed`, its pinhole closed) unless already closed;
  // the session is forgotten after Limits::closedSessionLinger. A flow without a session is
  // ignored.
  void onConntrackDestroyed(const FlowKey& flow, Timestamp now, Outcome& out);
  // Conntrack-owned mode, at start-up, before any packet: an anchored control connection that was
  // already running (a restart, an upgrade, a crash of the previous instance), with what conntrack
  // holds about it. A kernel-owned connection whose dialog was verified resumes at the next line
  // start of each direction, with the kernel's records as its starting offsets and its pending
  // expectation as its pinhole (kernel_sequencer.hpp); any other becomes a mid-stream session:
  // never inspected (no rewrite, no pinhole; `midstream_pickup`), its kernel records and pending
  // expectation left to the kernel
  // (the expectation expires on its own timer). A flow that already has a session is ignored; at
  // --max-sessions it is refused (`session_limit`).
  void adopt(const KernelTakeover& takeover, Timestamp now, Outcome& out);
  // Closes every session and pinhole and releases every held packet (daemon stop, end of replay).
  void shutdown(Timestamp now, Outcome& out);

  // The time from which onTimer() has work: a call with an earlier time changes nothing, so a
  // shell may skip it. nullopt until the first onTimer() call, which schedules the sweep: call it.
  std::optional<Timestamp> nextDeadline() const;

  const Stats& stats() const { return stats_; }
  std::size_t sessionCount() const;
  std::size_t pinholeCount() const;

 private:
  struct Impl;
  EngineConfig config_;
  Stats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ftpalg
