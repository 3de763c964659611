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
//      thread only handles signals (signalfd): SIGTERM/SIGINT stop, SIGHUP reopens the log and
//      reloads the policy and limits (reload(): the workers apply them between packets; other
//      changes are named as needing a restart), SIGUSR1 writes a `stats` event; the status
//      thread (status_server.hpp, bound in step 2 while still root) answers `ftpalg status` and
//      the metrics with snapshots each worker takes between packets (live_status.hpp);
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
#include "firewall/copy_table.hpp"
#include "firewall/kernel_helper.hpp"
#include "firewall/nft_script.hpp"
#include "firewall/pinhole_table.hpp"
#include "firewall/queue_rule_installer.hpp"
#include "firewall/ruleset_monitor.hpp"
#include "firewall_guard.hpp"
#include "ftpalg/engine/engine.hpp"
#include "io/conntrack_events.hpp"
#include "io/conntrack_resolver.hpp"
#include "io/conntrack_takeover.hpp"
#include "io/nflog_source.hpp"
#include "io/nfqueue_source.hpp"
#include "live_clock.hpp"
#include "live_log.hpp"
#include "live_stats.hpp"
#include "live_status.hpp"
#include "live_system.hpp"
#include "log/diagnostics.hpp"
#include "options.hpp"
#include "outcome_executor.hpp"
#include "rules_command.hpp"
#include "service_notifier.hpp"
#include "status_server.hpp"
#include "wiring.hpp"

namespace ftpalg::app {

namespace {

using log::reportError;
using log::reportInfo;
using log::reportWarning;

// A worker wakes at least once a second (its poll timeout); one that has not come round its loop
// for this long is stuck (blocked in a system call, or looping): the watchdog pings stop.
constexpr std::chrono::seconds kWorkerStallLimit{5};

// --- workers -----------------------------------------------------------------------------------

enum class Phase { Running, Draining };

// What a worker of the conntrack-owned mode has besides its queue: its destroy-event listener,
// the anchored connections it takes over at start, and how it recognises its own flows.
struct KernelOwnership {
  std::unique_ptr<io::ConntrackDestroyEvents> events;
  std::vector<KernelTakeover> takeovers;
  io::TakeoverOptions resync;  // the dump after lost events (without expectations)
  unsigned queueIndex = 0;     // this worker's share of the server addresses
  unsigned queueCount = 1;
};

class Worker {
 public:
  // `sink` answers `source`'s packets (wiring.cpp: makeLiveVerdictSink). `kernel`: the
  // conntrack-owned mode's events and takeovers, nullopt in the engine-owned mode.
  Worker(std::uint16_t queue, std::unique_ptr<io::PacketFeed> source, bool copies, LiveVerdictSink sink,
         std::unique_ptr<io::ConntrackResolver> resolver, std::unique_ptr<KernelSessionPort> session,
         std::unique_ptr<PinholeBackend> backend, std::optional<KernelOwnership> kernel,
         const EngineConfig& engineConfig, LiveLog& log)
      : queue_(queue),
        source_(std::move(source)),
        copies_(copies),
        label_((copies ? "NFLOG group " : "queue ") + std::to_string(queue)),
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
                                                std::chrono::steady_clock::time_point start = {}) {
    executor_.execute(out);
    const auto verdictsDone = executor_.lastTiming().verdictsDone;
    bool currentDone = false;
    for (const PacketVerdict& verdict : out.verdicts) {
      if (current && verdict.id == *current) {
        latencyHistogram_.add(verdictsDone - start);
        currentDone = true;
      } else if (const auto waiting = waiting_.find(verdict.id); waiting != waiting_.end()) {
        latencyHistogram_.add(verdictsDone - waiting->second);
        waiting_.erase(waiting);
      }
    }
    if (current && !currentDone) waiting_.emplace(*current, start);
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
      execute(out_, queued.packet.id, start);
      return;
    }
    const Timestamp now = monotonicNow();
    const PacketMeta meta{queued.packet.id};
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
        if (kernel_ && flow->sequenceOwner == SequenceOwner::Kernel) kernelFlows_.insert(flow->key);
        engine_->onPacket(meta, queued.packet.ipPacket, *view, *flow, now, out_);
      }
    }
    const auto decided = std::chrono::steady_clock::now();
    const bool announcement = isAnnouncement(out_);
    const auto released = execute(out_, queued.packet.id, start);
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

  // After a firewall reload emptied the pinhole table: every pending pinhole of the engine again,
  // for what is left of its lifetime. A pinhole whose data connection was already made is armed
  // again too (the used token went with the table): the same peer may connect once more to the
  // same endpoint until it expires (docs/admin-guide.md#firewall-reloads).
  void reinstallPinholes() {
    const Timestamp now = monotonicNow();
    std::size_t added = 0, failed = 0, expired = 0;
    std::string firstError;
    for (Pinhole pinhole : engine_->pinholes()) {
      if (pinhole.expires <= now) {
        ++expired;  // the next timer call closes it
        continue;
      }
      pinhole.timeout =
          std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(pinhole.expires - now));
      if (auto opened = backend_->open(pinhole); opened) {
        ++added;
      } else {
        ++failed;
        if (firstError.empty()) firstError = opened.error();
      }
    }
    if (added + failed + expired == 0) return;
    std::string message = label_ + ": " + std::to_string(added) +
                          " pending pinhole(s) added again after the table was recreated";
    if (expired > 0) message += " (" + std::to_string(expired) + " expiring now left out)";
    if (failed > 0) {
      reportWarning(message + "; " + std::to_string(failed) + " failed: " + firstError);
    } else {
      reportInfo(message);
    }
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
      reportError(label_ + ": " + read.error());
      return false;
    }
    if (!read->lost) return true;
    reportWarning(label_ +
                  ": conntrack destroy events were lost (socket buffer full); resynchronising from a dump");
    if (!resyncNetlink_) {
      auto opened = io::ConntrackNetlink::open();
      if (!opened) {
        reportWarning(label_ + ": " + opened.error());
        return true;
      }
      resyncNetlink_ = std::move(opened.value());
    }
    auto alive = io::dumpAnchoredConnections(*resyncNetlink_, kernel_->resync);
    if (!alive) {
      reportWarning(label_ + ": " + alive.error());
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
      reportError(label_ + ": " + received.error());
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
      pollfd fds[3] = {{source_->fd(), POLLIN, 0}, {wakeFd_, POLLIN, 0}, {-1, POLLIN, 0}};
      if (kernel_) fds[2].fd = kernel_->events->fd();
      if (::poll(fds, 3, timeoutMs) < 0 && errno != EINTR) {
        reportError(label_ + ": poll: " + std::strerror(errno));
        failed_.store(true);
        break;
      }
      if (fds[1].revents & POLLIN) {
        std::uint64_t value;
        [[maybe_unused]] const ssize_t got = ::read(wakeFd_, &value, sizeof value);
      }
      if (reinstallPinholes_.exchange(false)) reinstallPinholes();
      runTimers();
      if ((fds[0].revents & POLLIN) && !receive()) {
        failed_.store(true);
        break;
      }
      if (kernel_ && (fds[2].revents & POLLIN) && !readDestroyEvents()) {
        failed_.store(true);
        break;
      }
      if (stats_.takeRequest()) stats_.publish(engine_->stats());
      if (status_.takeRequest())
        status_.publish(WorkerStatus{queue_, engine_->snapshot(monotonicNow()), latencyHistogram_});
      applyPendingConfig();
      if (auto warning = resolver_->takeWarning()) reportWarning(*warning);
      if (source_->overruns() != reportedOverruns_) {
        reportedOverruns_ = source_->overruns();
        reportWarning(label_ + ": the kernel dropped messages (socket buffer full, " +
                      std::to_string(reportedOverruns_) + " times so far); " +
                      (copies_ ? "those packets passed without ftpalg seeing them"
                               : "their packets wait for the queue's own limit"));
      }
      if (!source_->lastKernelError().empty() && source_->kernelErrors() != reportedKernelErrors_) {
        reportedKernelErrors_ = source_->kernelErrors();
        reportWarning(label_ + ": " + source_->lastKernelError());
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
    status_.close();
  }

  void applyPendingConfig() {
    std::optional<EngineConfig> config;
    {
      std::lock_guard<std::mutex> lock(reconfigureMutex_);
      config.swap(pendingConfig_);
    }
    if (config) engine_->reconfigure(config->policy, config->limits);
  }

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

// SIGHUP: reads the command line and --config file again; the policy and limit options that
// changed go to every engine (sessions, pinholes and held packets stay: Engine::reconfigure);
// any other change is named as needing a restart and keeps its running value.
void reload(AppConfig& running, const std::function<Result<AppConfig>()>& reread,
            std::vector<std::unique_ptr<Worker>>& workers) {
  auto fresh = reread();
  if (!fresh) {
    reportWarning("SIGHUP: the configuration was not reloaded (" + fresh.error() +
                  "); running on with the previous one");
    return;
  }
  std::string applied, restart;
  for (const SettingChange& change : changedSettings(running, fresh.value())) {
    std::string& list = change.reloadable ? applied : restart;
    list += (list.empty() ? "" : ", ") + change.name + " " + change.before + " -> " + change.after;
  }
  if (!applied.empty()) {
    running.engine.policy = fresh.value().engine.policy;
    running.engine.limits = fresh.value().engine.limits;
    for (auto& worker : workers) worker->reconfigure(running.engine.policy, running.engine.limits);
    reportInfo("SIGHUP: applied " + applied + " (running sessions stay)");
  }
  if (!restart.empty()) {
    reportWarning("SIGHUP: these settings take effect only after a restart and keep their running values: " +
                  restart);
  }
  if (applied.empty() && restart.empty()) reportInfo("SIGHUP: the configuration is unchanged");
}

void reportLatency(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<const AnnouncementLatency*> perWorker;
  for (auto& worker : workers) perWorker.push_back(&worker->latency());
  if (const auto summary = latencySummary(perWorker)) reportInfo(*summary);
}

}  // namespace

ExitCode runLive(const AppConfig& config, const std::function<Result<AppConfig>()>& reread) {
  const RunConfig& run = config.run;
  const auto startedAt = std::chrono::steady_clock::now();
  AppConfig current = config;  // what SIGHUP compares a re-read configuration with
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
  // --dry-run reads copies through NFLOG and changes nothing (no queue, no table but its copy
  // table, no pinhole, no helper): it may run next to the kernel's ftp helper (shadow mode).
  const bool copies = run.dryRun;
  if (auto helper = firewall::checkKernelHelper(config.controlPorts); !helper) {
    if (!copies) return fail(ExitCode::Failed, "run: " + helper.error());
    reportInfo(
        "shadow mode: the kernel's ftp helper is assigned to a control port ftpalg watches; it keeps "
        "serving those connections, ftpalg only logs what it would decide (docs/admin-guide.md, \"Dry-run "
        "and "
        "shadow mode\")");
  }
  if (copies && run.seqOwner == SequenceOwner::Kernel) {
    reportInfo("--dry-run watches where the engine-owned mode queues; --seq-owner kernel is not used");
  }
  // The sequence owner: --seq-owner kernel needs the anchor's sane helper.
  SequenceOwner owner = copies ? SequenceOwner::Engine : run.seqOwner;
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
  if (run.installQueueRules && !copies) {
    auto planned = firewall::QueueRules::plan(queueRuleSpec(config, owner));
    if (!planned) return fail(ExitCode::Failed, "run: " + planned.error());
    plannedRules.emplace(std::move(planned.value()));
    for (const auto& warning : plannedRules->warnings()) reportWarning(warning);
  }

  // 2. Log, status socket and metrics listener, queues, table, rules.
  auto eventLog = openEventLog(config, mode);
  if (!eventLog) return fail(ExitCode::BadOptions, eventLog.error());
  LiveLog log(std::move(eventLog.value()));

  // Bound while still root (the socket file is root's, mode 0600; a metrics port below 1024 is
  // allowed). A status socket that cannot be had is a warning (forwarding matters more); a
  // metrics listener the admin asked for and cannot have is an error.
  std::unique_ptr<StatusServer> statusServer;
  {
    std::optional<Endpoint> metrics;
    if (config.status.metricsListen) metrics = Endpoint::parse(*config.status.metricsListen);
    auto opened = StatusServer::open(config.status.socketPath, metrics);
    if (opened) {
      statusServer = std::move(opened.value());
    } else if (metrics) {
      return fail(ExitCode::Failed, "run: " + opened.error());
    } else {
      reportWarning("ftpalg status is not available: " + opened.error());
    }
  }

  // --dry-run: one worker on one NFLOG group (copies never wait, so there is nothing to spread).
  const std::uint16_t count = copies ? 1 : std::max<std::uint16_t>(1, run.queueCount);
  std::vector<std::unique_ptr<io::PacketFeed>> sources;
  std::vector<VerdictSink*> queueSinks;
  if (copies) {
    notify("STATUS=starting: binding NFLOG group " + std::to_string(run.nflogGroup) +
           ", installing the copy rules");
    io::NflogOptions options;
    options.group = run.nflogGroup;
    auto source = io::NflogSource::open(options);
    if (!source) return fail(ExitCode::Failed, "run: --nflog-group: " + source.error());
    sources.push_back(std::move(source.value()));
    queueSinks.push_back(nullptr);
  } else {
    notify("STATUS=starting: binding queue " + std::to_string(run.queueNum) +
           (count > 1 ? "-" + std::to_string(run.queueNum + count - 1) : std::string()) +
           ", creating the pinhole table, installing the queue rules");
  }
  for (std::uint16_t i = 0; i < count && !copies; ++i) {
    io::NfqueueOptions options;
    options.queueNum = static_cast<std::uint16_t>(run.queueNum + i);
    options.failOpen = run.failOpen;
    auto source = io::NfqueueSource::open(options);
    if (!source) {
      return fail(ExitCode::Failed,
                  "run: --queue " + std::to_string(options.queueNum) + ": " + source.error());
    }
    queueSinks.push_back(&source.value()->verdicts());
    sources.push_back(std::move(source.value()));
  }

  // The firewall-reload watch listens before anything is installed, so no deletion after the
  // installation can be missed; what start-up itself changes is ignored by generation (arm()).
  std::unique_ptr<firewall::RulesetMonitor> rulesetMonitor;
  if (auto opened = firewall::RulesetMonitor::open(); opened) {
    rulesetMonitor = std::move(opened.value());
  } else {
    reportWarning("firewall reloads will not be noticed: " + opened.error());
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
  std::optional<firewall::CopyTable> copyTable;
  if (copies) {
    firewall::CopyRuleSpec copySpec;
    copySpec.controlPorts = config.controlPorts;
    copySpec.group = run.nflogGroup;
    // nft add table inet ftpalg_dryrun; nft delete table inet ftpalg_dryrun; nft -f <copy rules>
    auto created = firewall::CopyTable::create(copySpec);
    if (!created) return fail(ExitCode::Failed, "run: " + created.error());
    copyTable.emplace(std::move(created.value()));
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
      ownerships[i].emplace(std::move(ownership));
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

  // Copies are what the peers saw unchanged: their ACKs are in the original space.
  EngineConfig engineConfig = config.engine;
  if (copies) engineConfig.ackSpace = AckSpace::Original;
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::uint16_t i = 0; i < count; ++i) {
    io::ConntrackResolverOptions resolverOptions;
    resolverOptions.controlPorts = config.controlPorts;
    resolverOptions.maxFlows = std::max<std::size_t>(1024, config.engine.limits.maxSessions);
    resolverOptions.conntrackOwned = owner == SequenceOwner::Kernel;
    resolverOptions.controlMark = run.controlMark;
    resolverOptions.observeHelperFlows = copies;
    auto resolver = io::ConntrackResolver::open(resolverOptions);
    if (!resolver) return fail(ExitCode::Failed, "run: " + resolver.error());
    LiveVerdictSink sink = makeLiveVerdictSink(config, queueSinks[i]);
    workers.push_back(std::make_unique<Worker>(
        copies ? run.nflogGroup : static_cast<std::uint16_t>(run.queueNum + i), std::move(sources[i]), copies,
        std::move(sink), std::move(resolver.value()), std::move(sessionPorts[i]), std::move(backends[i]),
        std::move(ownerships[i]), engineConfig, log));
  }

  // The firewall-reload watch (firewall_guard.hpp): the table first (the queue rules of the
  // conntrack-owned mode select connections the table's anchor marks), then the queue rules.
  std::unique_ptr<FirewallGuard> guard;
  if (rulesetMonitor) {
    std::vector<GuardedPart> parts;
    if (table) {
      GuardedPart part;
      part.name = "nft table inet " + table->spec().table;
      part.watched = {table->watched()};
      part.reinstall = [&table] { return table->recreate(); };
      part.verify = [&table] { return table->verify(); };
      if (livePinholeBackend(config, owner) == PinholeBackendKind::Nft) {
        part.afterReinstall = [&workers] {
          for (auto& worker : workers) worker->requestPinholeReinstall();
        };
      }
      parts.push_back(std::move(part));
    }
    if (copyTable) {
      GuardedPart part;
      part.name = "nft table inet " + copyTable->spec().table;
      part.watched = {copyTable->watched()};
      part.reinstall = [&copyTable] { return copyTable->recreate(); };
      part.verify = [&copyTable] { return copyTable->verify(); };
      parts.push_back(std::move(part));
    }
    if (queueRules) {
      GuardedPart part;
      part.name = "queue rules (" + queueRules->description() + ")";
      part.watched = queueRules->watched();
      part.reinstall = [&queueRules] { return queueRules->install(); };
      part.verify = [&queueRules] { return queueRules->verify(); };
      parts.push_back(std::move(part));
    }
    if (!parts.empty()) {
      guard = std::make_unique<FirewallGuard>(std::move(rulesetMonitor), std::move(parts));
      if (auto armed = guard->arm(); !armed) {
        reportWarning("firewall reloads will not be noticed: " + armed.error());
        guard.reset();
      }
    }
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
    if (copies) {
      runningStatus = "running (" + std::string(mode) + "): copies from NFLOG group " +
                      std::to_string(run.nflogGroup) + " (nft table inet " + copyTable->spec().table +
                      "), control port(s) " + ports + ", nothing waits for ftpalg and nothing is changed";
    } else {
      runningStatus =
          "running (" + std::string(mode) + "): queue " + std::to_string(run.queueNum) +
          (count > 1 ? "-" + std::to_string(run.queueNum + count - 1) : std::string()) +
          ", control port(s) " + ports + ", sequence owner " +
          (owner == SequenceOwner::Kernel ? "kernel (conntrack)" : "engine") + ", pinholes " + pinholes +
          ", " + (run.failOpen ? "fail-open" : "fail-closed") + ", queue rules " +
          (queueRules ? queueRules->description() : std::string("not installed (--no-queue-rules)"));
    }
  }
  if (statusServer) {
    statusServer->start(
        [&workers] {
          std::vector<WorkerStatus> answers;
          const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
          for (auto& worker : workers) {
            if (auto answer = worker->status(until)) answers.push_back(std::move(*answer));
          }
          return answers;
        },
        [&runningStatus, mode, startedAt] {
          return DaemonStatus{
              static_cast<int>(::getpid()), std::string(mode), runningStatus,
              std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - startedAt)};
        });
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
    if (guard) {
      if (const auto tick = guard->nextTick())
        timeoutMs = std::min<int>(timeoutMs, static_cast<int>(tick->count()));
    }
    pollfd fds[2] = {{signalFd, POLLIN, 0}, {guard ? guard->fd() : -1, POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeoutMs);
    if (guard && (fds[1].revents & POLLIN) && !guard->onReadable()) guard.reset();
    if (guard) guard->onTick();
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
    if (ready <= 0 || !(fds[0].revents & POLLIN)) continue;
    signalfd_siginfo info{};
    if (::read(signalFd, &info, sizeof info) != sizeof info) continue;
    switch (info.ssi_signo) {
      case SIGTERM:
      case SIGINT: stop = true; break;
      case SIGHUP:
        if (auto reopened = log.reopen(); !reopened) {
          reportWarning("SIGHUP: reopening the log: " + reopened.error() + "; still writing to the old file");
        }
        reload(current, reread, workers);
        break;
      case SIGUSR1:
        collectStats(workers);
        log.recordStats(totalStats(workers));
        break;
      default: break;
    }
  }
  ::close(signalFd);

  // 5. Stop: the watch first (what the stop removes is not to be reinstalled), the status thread
  // (it asks the workers), the rules, then drain and shut the engines down, then the table.
  guard.reset();
  notify("STOPPING=1\nSTATUS=stopping: removing the queue rules, closing the pinholes");
  if (statusServer) statusServer->stop();
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
  if (copyTable) {
    if (auto removed = copyTable->remove(); !removed) reportWarning(removed.error());
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
