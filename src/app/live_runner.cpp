// `ftpalg run` (live gateway and --dry-run).
//
// Life of the daemon:
//   1. preconditions, each a clear message and exit status 1 before any packet is touched:
//      CAP_NET_ADMIN; one `ftpalg run` per network namespace (run lock); the kernel ftp helper
//      not assigned to our control ports; the sequence owner (--seq-owner kernel needs the sane
//      helper for the anchor: probed, else the engine-owned mode with a warning); no foreign or
//      live `table inet ftpalg`; a way to install queue rules (nft `queue` or iptables);
//      src/firewall has each of these checks;
//   2. open the decision log, bind the queue(s) (a queue bound by another process is refused
//      here), create ftpalg's nft table (a firewall::PinholeTable, replacing a stale copy: the
//      anchor in the conntrack-owned mode, the pinhole maps with the nft backend), install the
//      queue rules (replacing a stale copy in one transaction, then listed back from the kernel:
//      `running` is said only when they are in place); conntrack-owned mode: one destroy-event
//      listener per worker, then the takeover dump of the anchored connections already running
//      (handed to the workers' engines, Engine::adopt, before any packet);
//   3. drop to CAP_NET_ADMIN (and --user);
//   4. one worker thread per queue, each with its own Engine, ConntrackResolver, backend
//      handle and socket (docs/design.md#threading: single-threaded engines, no locks in the core); the main
//      thread only handles signals (signalfd): SIGTERM/SIGINT stop, SIGHUP reopens the log,
//      SIGUSR1 writes a `stats` event;
//   5. stop: remove the queue rules first (new packets pass unhelped or wait, per fail-open),
//      let each worker drain what is already queued, Engine::shutdown (pinholes closed, held
//      packets released), then the PinholeTable deletes the table; unbind, exit 0. Leaving
//      early removes whatever was installed (QueueRules and PinholeTable are owners).
//
// Per packet (worker): parse it, resolve its flow (ConntrackResolver: a ctnetlink round trip on a
// cache miss), Engine::onPacket, then the OutcomeExecutor: kernel session actions first (the
// conntrack-owned mode's sequence adjustment), then pinhole actions (the pinhole exists before the
// announcing packet is released), then verdicts, then observations to the log, then forgotten
// flows to the resolver. Ports, backends and sinks come from wiring.cpp.
//
// Conntrack destroy events (conntrack-owned mode): every worker has its own listener socket
// (io/conntrack_events.hpp) and keeps the events of the flows it owns, by the split the queue
// rules use (the server's real address: firewall::queueIndexOfServer), so each event reaches the
// one engine that has the session, with no queue between threads. Lost events (ENOBUFS): the
// worker dumps the anchored connections and ends the sessions of its kernel-owned flows that are
// no longer there.
#include "live_runner.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <unordered_set>

#include "backend/nft_backend.hpp"
#include "firewall/kernel_helper.hpp"
#include "firewall/nft_script.hpp"
#include "firewall/pinhole_table.hpp"
#include "firewall/queue_rule_installer.hpp"
#include "ftpalg/engine/engine.hpp"
#include "io/conntrack_events.hpp"
#include "io/conntrack_expect_repair.hpp"
#include "io/conntrack_resolver.hpp"
#include "io/conntrack_takeover.hpp"
#include "io/nfqueue_source.hpp"
#include "live_clock.hpp"
#include "live_log.hpp"
#include "live_stats.hpp"
#include "live_system.hpp"
#include "log/diagnostics.hpp"
#include "outcome_executor.hpp"
#include "rules_command.hpp"
#include "service_notifier.hpp"
#include "wiring.hpp"

namespace ftpalg::app {

namespace {

using log::reportError;
using log::reportInfo;
using log::reportWarning;

// A worker wakes at least once a second (its poll timeout); one that has not come round its loop
// for this long is stuck (blocked in a system call, or looping): the watchdog pings stop.
constexpr std::chrono::seconds kWorkerStallLimit{5};

// A replicated pinhole re-created with NAT (info) or lost (warning): io::ReplicatedExpectationRepair.
void reportRepair(const std::string& line, bool lost) {
  if (lost) {
    reportWarning(line);
  } else {
    reportInfo(line);
  }
}

// --- workers -----------------------------------------------------------------------------------

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
  Worker(std::uint16_t queue, std::unique_ptr<io::NfqueueSource> source, LiveVerdictSink sink,
         std::unique_ptr<io::ConntrackResolver> resolver, std::unique_ptr<KernelSessionPort> session,
         std::unique_ptr<PinholeBackend> backend, std::optional<KernelOwnership> kernel,
         const EngineConfig& engineConfig, LiveLog& log)
      : queue_(queue),
        source_(std::move(source)),
        sink_(std::move(sink)),
        resolver_(std::move(resolver)),
        session_(std::move(session)),
        backend_(std::move(backend)),
        kernel_(std::move(kernel)),
        engine_(std::make_unique<Engine>(engineConfig)),
        log_(log),
        executor_(
            OutcomePorts{*session_, *backend_, sink_.sink, log, *resolver_},
            [](const std::string& message) { reportWarning(message); }, /*timed=*/true),
        wakeFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Worker() {
    if (thread_.joinable()) thread_.join();
    if (wakeFd_ >= 0) ::close(wakeFd_);
  }
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

  // Returns when the last verdict was handed to the kernel (before the log is written).
  std::chrono::steady_clock::time_point execute(const Outcome& out) {
    executor_.execute(out);
    if (kernel_) {
      for (const FlowKey& flow : out.forgottenFlows) kernelFlows_.erase(flow);
    }
    const OutcomeExecutor::Timing& timing = executor_.lastTiming();
    lastActionsUs_ = std::chrono::duration<double, std::micro>(timing.actionsDone - timing.start).count();
    return timing.verdictsDone;
  }

  void onPacket(const io::QueuedPacket& queued) {
    const auto start = std::chrono::steady_clock::now();
    out_.clear();
    if (!queued.packet.controlCandidate) {
      out_.verdicts.push_back(PacketVerdict{queued.packet.id, VerdictKind::Accept, {}});
      execute(out_);
      return;
    }
    const Timestamp now = monotonicNow();
    const PacketMeta meta{queued.packet.id};
    std::optional<FlowKey> adopted;
    // Parsed once and resolved once, here (a ctnetlink round trip on a cache miss); the engine
    // gets both and never blocks.
    if (const auto view = PacketView::parse(queued.packet.ipPacket); !view) {
      engine_->onUninspected(meta, Uninspected::Malformed, out_);
    } else {
      resolver_->setQueueHook(queued.hook);
      resolver_->setNow(now);
      if (const auto flow = resolver_->resolve(*view); !flow) {
        engine_->onUninspected(meta, Uninspected::NotControlFlow, out_);
      } else {
        if (kernel_ && flow->sequenceOwner == SequenceOwner::Kernel && !kernelFlows_.contains(flow->key)) {
          // Payload of an anchored connection this engine does not have (or has only as a session
          // conntrack ended): one conntrackd committed here at a failover or a fail-back, or one
          // its engine forgot. Its conntrack entry carries the sequence offsets: hand it over
          // before the packet (docs/ha.md).
          if (!view->payload().empty() && adoptMidstream(*flow, now)) adopted = flow->key;
          kernelFlows_.insert(flow->key);
        }
        engine_->onPacket(meta, queued.packet.ipPacket, *view, *flow, now, out_);
      }
    }
    const auto decided = std::chrono::steady_clock::now();
    const bool announcement = isAnnouncement(out_);
    const auto released = execute(out_);
    // The takeover may have replaced a closed session of the same flow, whose forgetting erased
    // the flow from kernelFlows_ in execute(): the adopted session is the engine's now.
    if (adopted) kernelFlows_.insert(*adopted);
    if (announcement) {
      latency_.add(std::chrono::duration<double, std::micro>(released - start).count(),
                   std::chrono::duration<double, std::micro>(decided - start).count(), lastActionsUs_);
    }
  }

  void runTimers() {
    const Timestamp now = monotonicNow();
    const auto deadline = engine_->nextDeadline();
    if (deadline && *deadline > now) return;
    out_.clear();
    engine_->onTimer(now, out_);
    execute(out_);
  }

  bool owns(const FlowKey& flow) const {
    const auto bytes = flow.server.address.bytes();
    return firewall::queueIndexOfServer(bytes.back(), kernel_->queueCount) == kernel_->queueIndex;
  }

  // Conntrack-owned mode, before the first packet: the anchored connections that were running.
  void adoptTakeovers() {
    out_.clear();
    const Timestamp now = monotonicNow();
    for (const KernelTakeover& takeover : kernel_->takeovers) {
      kernelFlows_.insert(takeover.flow.key);
      engine_->adopt(takeover, now, out_);
    }
    kernel_->takeovers.clear();
    execute(out_);
  }

  io::ConntrackNetlink* kernelNetlink() {
    if (!kernelNetlink_) {
      auto opened = io::ConntrackNetlink::open();
      if (!opened) {
        reportWarning("queue " + std::to_string(queue_) + ": " + opened.error());
        return nullptr;
      }
      kernelNetlink_ = std::move(opened.value());
    }
    return kernelNetlink_.get();
  }

  // Conntrack-owned mode: an anchored connection first seen with payload (into out_). False when
  // nothing was handed over (no anchored entry, or the lookup failed: warned).
  bool adoptMidstream(const FlowContext& flow, Timestamp now) {
    io::ConntrackNetlink* netlink = kernelNetlink();
    if (!netlink) return false;
    auto takeover = io::takeoverOfConnection(*netlink, flow.nat, kernel_->resync);
    if (!takeover) {
      reportWarning("queue " + std::to_string(queue_) + ": " + takeover.error());
      return false;
    }
    if (!takeover.value()) return false;
    const KernelTakeover& adopted = *takeover.value();
    reportInfo("takeover: anchored control connection " + flow.key.client.toString() + " -> " +
               flow.key.server.toString() + " first seen mid-stream, handed to the engine (kernel offsets: " +
               "client->server " + std::to_string(adopted.clientToServer.offsetAfter) + ", server->client " +
               std::to_string(adopted.serverToClient.offsetAfter) + ")");
    engine_->adopt(adopted, now, out_);
    return true;
  }

  // Replicated expectations (first worker only); false on a socket error.
  bool repairExpectations() {
    auto repaired = kernel_->repair->read(reportRepair);
    if (!repaired) {
      reportError("queue " + std::to_string(queue_) + ": " + repaired.error());
      return false;
    }
    return true;
  }

  void sessionEnded(const FlowKey& flow) {
    kernelFlows_.erase(flow);
    out_.clear();
    engine_->onConntrackDestroyed(flow, monotonicNow(), out_);
    execute(out_);
  }

  // Destroy events of this worker's flows; after lost events, a dump tells which of its
  // kernel-owned flows are gone. False on a socket error.
  bool readDestroyEvents() {
    auto read = kernel_->events->read([this](const FlowKey& flow) {
      if (owns(flow)) sessionEnded(flow);
    });
    if (!read) {
      reportError("queue " + std::to_string(queue_) + ": " + read.error());
      return false;
    }
    if (!read->lost) return true;
    reportWarning("queue " + std::to_string(queue_) +
                  ": conntrack destroy events were lost (socket buffer full); resynchronising from a dump");
    io::ConntrackNetlink* netlink = kernelNetlink();
    if (!netlink) return true;
    auto alive = io::dumpAnchoredConnections(*netlink, kernel_->resync);
    if (!alive) {
      reportWarning("queue " + std::to_string(queue_) + ": " + alive.error());
      return true;
    }
    std::unordered_set<FlowKey, FlowKeyHash> present;
    for (const KernelTakeover& takeover : alive.value()) present.insert(takeover.flow.key);
    std::vector<FlowKey> gone;
    for (const FlowKey& flow : kernelFlows_) {
      if (!present.contains(flow)) gone.push_back(flow);
    }
    for (const FlowKey& flow : gone) sessionEnded(flow);
    return true;
  }

  // Reads what is queued now; false on a socket error.
  bool receive() {
    auto received = source_->receive([this](const io::QueuedPacket& queued) { onPacket(queued); });
    if (!received) {
      reportError("queue " + std::to_string(queue_) + ": " + received.error());
      return false;
    }
    lastReceived_ = received.value();
    return true;
  }

  void run() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    if (kernel_) adoptTakeovers();
    while (phase_.load() == Phase::Running) {
      heartbeatNanos_.store(monotonicNow().nanos);
      int timeoutMs = 1000;
      if (const auto deadline = engine_->nextDeadline()) {
        const auto left = (*deadline - monotonicNow()).count() / 1'000'000;
        timeoutMs = static_cast<int>(std::clamp<std::int64_t>(left + 1, 0, 1000));
      }
      pollfd fds[4] = {{source_->fd(), POLLIN, 0}, {wakeFd_, POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
      if (kernel_) fds[2].fd = kernel_->events->fd();
      if (kernel_ && kernel_->repair) fds[3].fd = kernel_->repair->fd();
      if (::poll(fds, 4, timeoutMs) < 0 && errno != EINTR) {
        reportError("queue " + std::to_string(queue_) + ": poll: " + std::strerror(errno));
        failed_.store(true);
        break;
      }
      if (fds[1].revents & POLLIN) {
        std::uint64_t value;
        [[maybe_unused]] const ssize_t got = ::read(wakeFd_, &value, sizeof value);
      }
      runTimers();
      // Conntrack's news before the packets: a replicated expectation must not wait behind a
      // burst of queued packets, and a connection conntrack destroyed (and conntrackd may have
      // re-created at a takeover) must end its stale session before its next packet is handled.
      if ((fds[3].revents & POLLIN) && !repairExpectations()) {
        failed_.store(true);
        break;
      }
      if ((fds[2].revents & POLLIN) && !readDestroyEvents()) {
        failed_.store(true);
        break;
      }
      if ((fds[0].revents & POLLIN) && !receive()) {
        failed_.store(true);
        break;
      }
      if (stats_.takeRequest()) stats_.publish(engine_->stats());
      if (auto warning = resolver_->takeWarning()) reportWarning(*warning);
      if (source_->counters().overruns != reportedOverruns_) {
        reportedOverruns_ = source_->counters().overruns;
        reportWarning("queue " + std::to_string(queue_) + ": the kernel dropped queue messages (socket " +
                      "buffer full, " + std::to_string(reportedOverruns_) +
                      " times so far); their packets wait for the "
                      "queue's own limit");
      }
      if (!source_->lastKernelError().empty() && source_->counters().kernelErrors != reportedKernelErrors_) {
        reportedKernelErrors_ = source_->counters().kernelErrors;
        reportWarning("queue " + std::to_string(queue_) + ": " + source_->lastKernelError());
      }
    }
    // Draining: the queue rules are gone; process what is still queued (bounded), then shut down.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (std::chrono::steady_clock::now() < until) {
      pollfd fd{source_->fd(), POLLIN, 0};
      if (::poll(&fd, 1, 50) <= 0) break;
      if (!receive() || lastReceived_ == 0) break;
      runTimers();
    }
    out_.clear();
    engine_->shutdown(monotonicNow(), out_);
    execute(out_);
    log_.flush();
    stats_.close(engine_->stats());
  }

  std::uint16_t queue_;
  std::unique_ptr<io::NfqueueSource> source_;
  LiveVerdictSink sink_;
  std::unique_ptr<io::ConntrackResolver> resolver_;
  std::unique_ptr<KernelSessionPort> session_;
  std::unique_ptr<PinholeBackend> backend_;
  std::optional<KernelOwnership> kernel_;
  // Conntrack-owned mode: the flows this worker handed its engine as kernel-owned and has not
  // seen end (forgotten by the engine or destroyed in conntrack): what a resync checks.
  std::unordered_set<FlowKey, FlowKeyHash> kernelFlows_;
  // Conntrack-owned mode: the resync dump and the mid-stream takeovers (opened when first needed).
  std::unique_ptr<io::ConntrackNetlink> kernelNetlink_;
  std::unique_ptr<Engine> engine_;
  LiveLog& log_;
  OutcomeExecutor executor_;
  int wakeFd_ = -1;
  Outcome out_;
  std::thread thread_;
  std::atomic<Phase> phase_{Phase::Running};
  std::atomic<bool> failed_{false};
  std::atomic<std::int64_t> heartbeatNanos_{0};
  StatsMailbox stats_;
  AnnouncementLatency latency_;
  std::size_t lastReceived_ = 0;
  double lastActionsUs_ = 0;
  std::uint64_t reportedKernelErrors_ = 0;
  std::uint64_t reportedOverruns_ = 0;
};

Stats totalStats(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<Stats> perWorker;
  for (auto& worker : workers) perWorker.push_back(worker->stats().snapshot());
  return sumStats(perWorker);
}

// Every worker's snapshot, fresh (each has answered or ended, or 2 s have passed).
void collectStats(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<std::uint64_t> tickets;
  for (auto& worker : workers) tickets.push_back(worker->requestStats());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (std::size_t i = 0; i < workers.size(); ++i) workers[i]->stats().waitForAnswer(tickets[i], until);
}

void reportLatency(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<const AnnouncementLatency*> perWorker;
  for (auto& worker : workers) perWorker.push_back(&worker->latency());
  if (const auto summary = latencySummary(perWorker)) reportInfo(*summary);
}

}  // namespace

ExitCode runLive(const AppConfig& config) {
  const RunConfig& run = config.run;
  const std::string_view mode = liveMode(config);
  log::configureDiagnostics(run.syslog);

  // systemd (Type=notify): STATUS= as set-up proceeds, READY=1 once the queues are bound and the
  // table and rules are in place and checked, WATCHDOG=1 while every worker progresses,
  // STOPPING=1 at stop. Without $NOTIFY_SOCKET these send nothing.
  ServiceNotifier notifier;
  if (auto fromEnvironment = ServiceNotifier::fromEnvironment(); fromEnvironment) {
    notifier = std::move(fromEnvironment.value());
  } else {
    reportWarning("systemd notifications off: " + fromEnvironment.error());
  }
  bool notifyFailureReported = false;
  const auto notify = [&](const std::string& state) {
    auto sent = notifier.notify(state);
    if (!sent && !notifyFailureReported) reportWarning("systemd notification: " + sent.error());
    notifyFailureReported = notifyFailureReported || !sent;
  };
  // Reports `message` as an error, shows it as the service's status and returns `code`.
  const auto fail = [&](ExitCode code, const std::string& message) {
    reportError(message);
    notify("STATUS=failed: " + message);
    return code;
  };

  // Signals are blocked from the start (and read from a signalfd once running): a SIGTERM that
  // arrives during setup is handled as soon as the rules and table exist, so they are removed.
  sigset_t signals;
  sigemptyset(&signals);
  for (const int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // 1. Preconditions. The configuration first (--user: exit status 2, like every other
  // configuration error), then the system.
  notify("STATUS=starting: checking the configuration, the kernel and the firewall");
  std::optional<Account> account;
  if (run.user) {
    auto found = lookUpAccount(*run.user);
    if (!found) return fail(ExitCode::BadOptions, "run: " + found.error());
    if (auto reopenable = checkAccountCanReopenLog(found.value(), config.logPath); !reopenable) {
      return fail(ExitCode::BadOptions, "run: " + reopenable.error());
    }
    account = std::move(found.value());
  }
  if (!hasNetAdminCapability()) {
    return fail(ExitCode::Failed,
                "run: needs root or CAP_NET_ADMIN (it binds NFQUEUE queues, reads conntrack through "
                "ctnetlink and manages its nft table)");
  }
  auto runLock = RunLock::acquire();
  if (!runLock) return fail(ExitCode::Failed, "run: " + runLock.error());
  if (auto helper = firewall::checkKernelHelper(config.controlPorts); !helper) {
    return fail(ExitCode::Failed, "run: " + helper.error());
  }
  // The sequence owner: --seq-owner kernel needs the anchor's sane helper.
  SequenceOwner owner = run.seqOwner;
  if (owner == SequenceOwner::Kernel) {
    if (auto probed = firewall::probeAnchorHelper(); !probed) {
      if (run.pinholeBackend == PinholeBackendKind::Conntrack) {
        return fail(
            ExitCode::Failed,
            "run: --pinhole-backend conntrack needs the conntrack-owned mode, which is not available: " +
                probed.error());
      }
      reportWarning("--seq-owner kernel: " + probed.error() +
                    "; running in the engine-owned mode (--seq-owner engine) instead");
      owner = SequenceOwner::Engine;
    }
  }
  const std::optional<firewall::NftTableSpec> tableSpec = liveTableSpec(config, owner);
  if (tableSpec) {
    auto free = firewall::checkPinholeTableFree(*tableSpec);
    if (!free) return fail(ExitCode::Failed, "run: " + free.error());
    if (const auto stalePid = free.value()) {
      reportWarning("flushing a stale nft table inet " + tableSpec->table + " left by ftpalg pid " +
                    std::to_string(*stalePid));
    }
  }
  std::optional<firewall::QueueRules> plannedRules;
  if (run.installQueueRules) {
    auto planned = firewall::QueueRules::plan(queueRuleSpec(config, owner));
    if (!planned) return fail(ExitCode::Failed, "run: " + planned.error());
    plannedRules.emplace(std::move(planned.value()));
    for (const auto& warning : plannedRules->warnings()) reportWarning(warning);
  }

  // 2. Log, queues, table, rules.
  auto eventLog = openEventLog(config, mode);
  if (!eventLog) return fail(ExitCode::BadOptions, eventLog.error());
  LiveLog log(std::move(eventLog.value()));

  const std::uint16_t count = std::max<std::uint16_t>(1, run.queueCount);
  notify("STATUS=starting: binding queue " + std::to_string(run.queueNum) +
         (count > 1 ? "-" + std::to_string(run.queueNum + count - 1) : std::string()) +
         ", creating the pinhole table, installing the queue rules");
  std::vector<std::unique_ptr<io::NfqueueSource>> sources;
  for (std::uint16_t i = 0; i < count; ++i) {
    io::NfqueueOptions options;
    options.queueNum = static_cast<std::uint16_t>(run.queueNum + i);
    options.failOpen = run.failOpen;
    auto source = io::NfqueueSource::open(options);
    if (!source) {
      return fail(ExitCode::Failed,
                  "run: --queue " + std::to_string(options.queueNum) + ": " + source.error());
    }
    sources.push_back(std::move(source.value()));
  }

  // From here on, leaving deletes what was created: the table (its owner), the queue rules
  // (theirs, declared later so that they go first).
  std::optional<firewall::PinholeTable> table;
  if (tableSpec) {
    // nft add table inet ftpalg; nft delete table inet ftpalg; nft -f <table script>
    auto created = firewall::PinholeTable::create(*tableSpec);
    if (!created) return fail(ExitCode::Failed, "run: " + created.error());
    table.emplace(std::move(created.value()));
  }
  std::vector<std::unique_ptr<PinholeBackend>> backends;
  std::vector<std::unique_ptr<KernelSessionPort>> sessionPorts;
  for (std::uint16_t i = 0; i < count; ++i) {
    auto backend = makeLivePinholeBackend(config, owner, table ? &*table : nullptr);
    if (!backend) return fail(ExitCode::Failed, "run: " + backend.error());
    backends.push_back(std::move(backend.value()));
    auto sessionPort = makeLiveKernelSessionPort(config, owner);
    if (!sessionPort) return fail(ExitCode::Failed, "run: " + sessionPort.error());
    sessionPorts.push_back(std::move(sessionPort.value()));
  }

  std::optional<firewall::QueueRules> queueRules = std::move(plannedRules);
  if (queueRules) {
    // Installed, then listed back from the kernel: an error unless exactly these rules are there.
    if (auto installed = queueRules->install(); !installed) {
      return fail(ExitCode::Failed, "run: installing queue rules: " + installed.error());
    }
  }

  // Conntrack-owned mode: the listeners first, then the dump, so no connection's end falls
  // between the two; then each worker's share of the connections already running.
  std::vector<std::optional<KernelOwnership>> ownerships(count);
  if (owner == SequenceOwner::Kernel) {
    io::TakeoverOptions takeoverOptions;
    takeoverOptions.controlPorts = config.controlPorts;
    takeoverOptions.controlMark = run.controlMark;
    takeoverOptions.verifiedMark = run.verifiedMark;
    for (std::uint16_t i = 0; i < count; ++i) {
      io::ConntrackEventsOptions eventsOptions;
      eventsOptions.controlPorts = config.controlPorts;
      eventsOptions.controlMark = run.controlMark;
      auto events = io::ConntrackDestroyEvents::open(eventsOptions);
      if (!events) return fail(ExitCode::Failed, "run: " + events.error());
      KernelOwnership ownership;
      ownership.events = std::move(events.value());
      ownership.resync = takeoverOptions;
      ownership.resync.withExpectations = false;
      ownership.queueIndex = i;
      ownership.queueCount = count;
      if (i == 0) {
        // Before the takeover dump's expectations are read: an event in between is repaired
        // from the socket, one before from the dump below.
        auto repair = io::ReplicatedExpectationRepair::open(takeoverOptions);
        if (!repair) return fail(ExitCode::Failed, "run: " + repair.error());
        ownership.repair = std::move(repair.value());
      }
      ownerships[i].emplace(std::move(ownership));
    }
    // Replicated expectations committed while no instance ran (docs/ha.md).
    if (auto repaired = ownerships[0]->repair->repairAll(reportRepair); !repaired) {
      return fail(ExitCode::Failed, "run: " + repaired.error());
    }
    auto netlink = io::ConntrackNetlink::open();
    if (!netlink) return fail(ExitCode::Failed, "run: " + netlink.error());
    auto running = io::dumpAnchoredConnections(*netlink.value(), takeoverOptions);
    if (!running) return fail(ExitCode::Failed, "run: takeover: " + running.error());
    std::size_t adjusted = 0, verified = 0, pending = 0;
    for (KernelTakeover& takeover : running.value()) {
      if (takeover.clientToServer != SeqAdjRecord{} || takeover.serverToClient != SeqAdjRecord{}) ++adjusted;
      if (takeover.dialogVerified) ++verified;
      if (takeover.pending) ++pending;
      const auto bytes = takeover.flow.key.server.address.bytes();
      ownerships[firewall::queueIndexOfServer(bytes.back(), count)]->takeovers.push_back(std::move(takeover));
    }
    if (!running->empty()) {
      reportInfo("takeover: " + std::to_string(running->size()) +
                 " anchored control connection(s) already running (" + std::to_string(adjusted) +
                 " with a kernel sequence adjustment, " + std::to_string(verified) +
                 " with a verified dialog, " + std::to_string(pending) +
                 " with a pending expectation), handed to the engines");
    }
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (std::uint16_t i = 0; i < count; ++i) {
    io::ConntrackResolverOptions resolverOptions;
    resolverOptions.controlPorts = config.controlPorts;
    resolverOptions.maxFlows = std::max<std::size_t>(1024, config.engine.limits.maxSessions);
    resolverOptions.conntrackOwned = owner == SequenceOwner::Kernel;
    resolverOptions.controlMark = run.controlMark;
    auto resolver = io::ConntrackResolver::open(resolverOptions);
    if (!resolver) return fail(ExitCode::Failed, "run: " + resolver.error());
    LiveVerdictSink sink = makeLiveVerdictSink(config, sources[i]->verdicts());
    workers.push_back(
        std::make_unique<Worker>(static_cast<std::uint16_t>(run.queueNum + i), std::move(sources[i]),
                                 std::move(sink), std::move(resolver.value()), std::move(sessionPorts[i]),
                                 std::move(backends[i]), std::move(ownerships[i]), config.engine, log));
  }

  // 3. Least privilege.
  if (auto dropped = dropPrivileges(account, queueRules && queueRules->needsNetRaw()); !dropped) {
    return fail(ExitCode::Failed, "run: dropping privileges: " + dropped.error());
  }

  // 4. Signals (blocked since the start, read from a signalfd here), workers.
  const int signalFd = ::signalfd(-1, &signals, SFD_CLOEXEC);
  if (signalFd < 0) return fail(ExitCode::Failed, std::string("run: signalfd: ") + std::strerror(errno));
  for (auto& worker : workers) worker->start();

  std::string runningStatus;
  {
    std::string ports;
    for (const auto port : config.controlPorts) ports += (ports.empty() ? "" : ",") + std::to_string(port);
    std::string pinholes = "recorded only";
    switch (livePinholeBackend(config, owner)) {
      case PinholeBackendKind::Nft: pinholes = "nft table inet " + tableSpec->table; break;
      case PinholeBackendKind::Conntrack: pinholes = "conntrack expectations"; break;
      case PinholeBackendKind::Auto:
      case PinholeBackendKind::None: break;
    }
    runningStatus =
        "running (" + std::string(mode) + "): queue " + std::to_string(run.queueNum) +
        (count > 1 ? "-" + std::to_string(run.queueNum + count - 1) : std::string()) + ", control port(s) " +
        ports + ", sequence owner " + (owner == SequenceOwner::Kernel ? "kernel (conntrack)" : "engine") +
        ", pinholes " + pinholes + ", " + (run.failOpen ? "fail-open" : "fail-closed") + ", queue rules " +
        (queueRules ? queueRules->description() : std::string("not installed (--no-queue-rules)"));
  }
  reportInfo(runningStatus);
  notify("READY=1\nSTATUS=" + runningStatus);

  // The watchdog: a ping every interval while every worker has gone round its loop within
  // kWorkerStallLimit; a stuck worker withholds the pings, so systemd restarts ftpalg.
  const auto pingInterval = notifier.watchdogPingInterval();
  const auto pingNanos = pingInterval
                             ? std::chrono::duration_cast<std::chrono::nanoseconds>(*pingInterval).count()
                             : std::int64_t{0};
  const std::int64_t stallNanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(kWorkerStallLimit).count();
  std::int64_t nextPing = monotonicNow().nanos;
  bool stallReported = false;

  ExitCode status = ExitCode::Success;
  bool stop = false;
  while (!stop) {
    int timeoutMs = 500;
    if (pingInterval) {
      const std::int64_t untilPing = std::max<std::int64_t>(0, nextPing - monotonicNow().nanos);
      timeoutMs = static_cast<int>(std::min<std::int64_t>(timeoutMs, (untilPing + 999'999) / 1'000'000));
    }
    pollfd fd{signalFd, POLLIN, 0};
    const int ready = ::poll(&fd, 1, timeoutMs);
    for (auto& worker : workers) {
      if (worker->failed()) {
        reportError("run: the worker of queue " + std::to_string(worker->queue()) + " failed; stopping");
        status = ExitCode::Failed;
        stop = true;
      }
    }
    const std::int64_t now = monotonicNow().nanos;
    const Worker* stuck = nullptr;
    for (const auto& worker : workers) {
      if (!worker->failed() && now - worker->lastHeartbeat().nanos > stallNanos) stuck = worker.get();
    }
    if (stuck != nullptr && !stallReported) {
      const std::string message = "the worker of queue " + std::to_string(stuck->queue()) +
                                  " has made no progress for " +
                                  std::to_string((now - stuck->lastHeartbeat().nanos) / 1'000'000'000) +
                                  " s" + (pingInterval ? "; watchdog pings withheld" : "");
      reportError(message);
      notify("STATUS=stuck: " + message);
    } else if (stuck == nullptr && stallReported) {
      reportInfo("every worker progresses again");
      notify("STATUS=" + runningStatus);
    }
    stallReported = stuck != nullptr;
    if (pingInterval && !stop && stuck == nullptr && now >= nextPing) {
      notify("WATCHDOG=1");
      nextPing = now + pingNanos;
    }
    if (ready <= 0) continue;
    signalfd_siginfo info{};
    if (::read(signalFd, &info, sizeof info) != sizeof info) continue;
    switch (info.ssi_signo) {
      case SIGTERM:
      case SIGINT: stop = true; break;
      case SIGHUP:
        if (auto reopened = log.reopen(); !reopened) {
          reportWarning("SIGHUP: reopening the log: " + reopened.error() + "; still writing to the old file");
        }
        break;
      case SIGUSR1:
        collectStats(workers);
        log.recordStats(totalStats(workers));
        break;
      default: break;
    }
  }
  ::close(signalFd);

  // 5. Stop: rules first, then drain and shut the engines down, then the table.
  notify("STOPPING=1\nSTATUS=stopping: removing the queue rules, closing the pinholes");
  if (queueRules) {
    if (auto removed = queueRules->remove(); !removed) reportWarning(removed.error());
  }
  for (auto& worker : workers) worker->drainAndStop();
  for (auto& worker : workers) worker->join();
  log.recordStats(totalStats(workers));
  reportLatency(workers);
  workers.clear();  // their backends write to the table: gone before it
  if (table) {
    if (auto removed = table->remove(); !removed) reportWarning(removed.error());
  }
  log.flush();
  if (const auto lost = log.writeError())
    reportError("decision log: " + *lost + "; some decisions were not logged");
  if (status == ExitCode::Success) {
    reportInfo("stopped");
  } else {
    reportError("stopped after an error");
  }
  return status;
}

}  // namespace ftpalg::app
