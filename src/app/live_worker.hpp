// One live worker: a queue (or --dry-run's NFLOG group), its Engine, ConntrackResolver, backend
// handle and OutcomeExecutor, on a thread of its own (docs/design.md#threading: single-threaded
// engines, no locks in the core). runLive (live_runner.cpp) builds the workers and talks to them
// only through the members below: start, drain, stop, and the mailboxes the worker answers
// between two packets (stats, status, reconfiguration, pinhole reinstall after a firewall reload).
//
// Per packet: parse it, resolve its flow (ConntrackResolver: a ctnetlink round trip on a cache
// miss), Engine::onPacket, then the OutcomeExecutor (kernel session actions, pinhole actions,
// verdicts, observations, forgotten flows).
//
// Conntrack destroy events (conntrack-owned mode): every worker has its own listener socket
// (io/conntrack_events.hpp) and keeps the events of the flows it owns, by the split the queue
// rules use (the server's real address: firewall::queueIndexOfServer), so each event reaches the
// one engine that has the session, with no queue between threads. Lost events (ENOBUFS): the
// worker dumps the anchored connections and ends the sessions of its kernel-owned flows that are
// no longer there.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "firewall/queue_rules.hpp"
#include "ftpalg/engine/engine.hpp"
#include "io/conntrack_events.hpp"
#include "io/conntrack_expect_repair.hpp"
#include "io/conntrack_resolver.hpp"
#include "io/conntrack_takeover.hpp"
#include "io/packet_feed.hpp"
#include "live_clock.hpp"
#include "live_log.hpp"
#include "live_stats.hpp"
#include "live_status.hpp"
#include "outcome_executor.hpp"
#include "wiring.hpp"

namespace ftpalg::app {

// A replicated pinhole re-created with NAT (info) or lost (warning): io::ReplicatedExpectationRepair.
void reportRepair(const std::string& line, bool lost);

enum class Phase { Running, Draining };

// What a worker of the conntrack-owned mode has besides its queue: its destroy-event listener,
// the anchored connections it takes over at start, and how it recognises its own flows.
struct KernelOwnership {
  std::unique_ptr<io::ConntrackDestroyEvents> events;
  std::vector<KernelTakeover> takeovers;
  io::TakeoverOptions resync;  // the dump after lost events (without expectations)
  // Only the first worker's: replicated expectations re-created with NAT (docs/ha.md).
  std::unique_ptr<io::ReplicatedExpectationRepair> repair;
  unsigned queueIndex = 0;  // this worker's share of the server addresses
  unsigned queueCount = 1;
};

class Worker {
 public:
  // `sink` answers `source`'s packets (wiring.cpp: makeLiveVerdictSink). `kernel`: the
  // conntrack-owned mode's events and takeovers, nullopt in the engine-owned mode.
  Worker(std::uint16_t queue, std::unique_ptr<io::PacketFeed> source, bool copies, LiveVerdictSink sink,
         std::unique_ptr<io::ConntrackResolver> resolver, std::unique_ptr<KernelSessionPort> session,
         std::unique_ptr<PinholeBackend> backend, std::optional<KernelOwnership> kernel,
         const EngineConfig& engineConfig, LiveLog& log);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start() {
    heartbeatNanos_.store(monotonicNow().nanos);
    thread_ = std::thread([this] { run(); });
    // "ftpalg-q0": the thread in ps -L, top -H and /proc/PID/task/TID/comm (15 bytes at most).
    const std::string name = "ftpalg-q" + std::to_string(queue_);
    ::pthread_setname_np(thread_.native_handle(), name.c_str());
  }
  void drainAndStop() {
    phase_.store(Phase::Draining);
    wake();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Returns the ticket to wait for (stats().waitForAnswer); the snapshot is valid after the
  // answer or after join().
  std::uint64_t requestStats() {
    const std::uint64_t ticket = stats_.request();
    wake();
    return ticket;
  }
  StatsMailbox& stats() { return stats_; }
  // The status thread: a fresh WorkerStatus (live_status.hpp), or nullopt when the worker has
  // ended or did not answer by `until`.
  std::optional<WorkerStatus> status(std::chrono::steady_clock::time_point until) {
    const std::uint64_t ticket = status_.request();
    wake();
    return status_.waitForAnswer(ticket, until);
  }
  // The main thread (SIGHUP): the engine takes `policy` and `limits` at its next loop turn.
  void reconfigure(const Policy& policy, const Limits& limits) {
    {
      std::lock_guard<std::mutex> lock(reconfigureMutex_);
      pendingConfig_ = EngineConfig{policy, limits, AckSpace::Output};
    }
    wake();
  }
  // ftpalg's nft table was recreated empty after a firewall reload (firewall_guard.hpp): the
  // worker adds its engine's pending pinholes again, from its own thread.
  void requestPinholeReinstall() {
    reinstallPinholes_.store(true);
    wake();
  }
  bool failed() const { return failed_.load(); }
  // When the worker last went round its loop (CLOCK_MONOTONIC); it does so at least once a
  // second unless it is stuck.
  Timestamp lastHeartbeat() const { return Timestamp{heartbeatNanos_.load()}; }
  const AnnouncementLatency& latency() const { return latency_; }
  std::uint16_t queue() const { return queue_; }

 private:
  void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wakeFd_, &one, sizeof one);
  }

  // Returns when the last verdict was handed to the kernel (before the log is written). Each
  // verdict's packet gets its receive-to-verdict latency: `current` (received at `start`) when it
  // is among them, else it waits (held) in waiting_; held packets released now leave waiting_.
  std::chrono::steady_clock::time_point execute(const Outcome& out,
                                                std::optional<PacketId> current = std::nullopt,
                                                std::chrono::steady_clock::time_point start = {});

  void onPacket(const io::QueuedPacket& queued);

  void runTimers();

  bool owns(const FlowKey& flow) const {
    const auto bytes = flow.server.address.bytes();
    return firewall::queueIndexOfServer(bytes.back(), kernel_->queueCount) == kernel_->queueIndex;
  }

  // After a firewall reload emptied the pinhole table: every pending pinhole of the engine again,
  // for what is left of its lifetime. A pinhole whose data connection was already made is armed
  // again too (the used token went with the table): the same peer may connect once more to the
  // same endpoint until it expires (docs/admin-guide.md#firewall-reloads).
  void reinstallPinholes();

  // Conntrack-owned mode, before the first packet: the anchored connections that were running.
  void adoptTakeovers();

  // Conntrack-owned mode: an anchored connection first seen with payload (into out_). False when
  // nothing was handed over (no anchored entry, or the lookup failed: warned).
  bool adoptMidstream(const FlowContext& flow, Timestamp now);

  // Replicated expectations (first worker only); false on a socket error.
  bool repairExpectations();

  void sessionEnded(const FlowKey& flow);

  // A client that reuses its source port while the old entry lingers (TIME_WAIT) makes conntrack
  // replace that entry: the old one's DESTROY event can arrive after the new connection's session
  // began, and must not end it. The tuple then names a live entry with another CTA_ID and no
  // sequence adjustment yet (one with an adjustment is a re-created connection: a fail-back).
  bool reusedByAnotherEntry(const io::ConntrackEntry& destroyed);

  // resyncNetlink_, opened on first use; false (warned) when it cannot be.
  bool ensureResyncNetlink();

  // Destroy events of this worker's flows; after lost events, a dump tells which of its
  // kernel-owned flows are gone. False on a socket error.
  bool readDestroyEvents();

  // Reads what is queued now; false on a socket error.
  bool receive();

  void run();

  void applyPendingConfig();

  std::uint16_t queue_;
  std::unique_ptr<io::PacketFeed> source_;
  bool copies_ = false;  // an NFLOG copy feed (--dry-run): nothing waits for this worker
  std::string label_;    // "queue 0" / "NFLOG group 0", in messages
  LiveVerdictSink sink_;
  std::unique_ptr<io::ConntrackResolver> resolver_;
  std::unique_ptr<KernelSessionPort> session_;
  std::unique_ptr<PinholeBackend> backend_;
  std::optional<KernelOwnership> kernel_;
  // Conntrack-owned mode: the flows this worker handed its engine as kernel-owned and has not
  // seen end (forgotten by the engine or destroyed in conntrack): what a resync checks.
  std::unordered_set<FlowKey, FlowKeyHash> kernelFlows_;
  // Opened on first use: the dump after lost events, the port-reuse check of a destroy event,
  // mid-stream takeovers.
  std::unique_ptr<io::ConntrackNetlink> resyncNetlink_;
  std::unique_ptr<Engine> engine_;
  LiveLog& log_;
  OutcomeExecutor executor_;
  int wakeFd_ = -1;
  Outcome out_;
  std::thread thread_;
  std::atomic<Phase> phase_{Phase::Running};
  std::atomic<bool> failed_{false};
  std::atomic<bool> reinstallPinholes_{false};
  std::atomic<std::int64_t> heartbeatNanos_{0};
  StatsMailbox stats_;
  Mailbox<WorkerStatus> status_;
  LatencyHistogram latencyHistogram_;
  // Packets held by the engine, by id: when they were received (their verdict comes later).
  std::unordered_map<PacketId, std::chrono::steady_clock::time_point> waiting_;
  std::mutex reconfigureMutex_;
  std::optional<EngineConfig> pendingConfig_;
  AnnouncementLatency latency_;
  std::size_t lastReceived_ = 0;
  double lastActionsUs_ = 0;
  std::uint64_t reportedKernelErrors_ = 0;
  std::uint64_t reportedOverruns_ = 0;
};
}  // namespace ftpalg::app
