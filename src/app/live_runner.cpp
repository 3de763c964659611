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
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <variant>

#include "backend/nft_backend.hpp"
#include "firewall/kernel_helper.hpp"
#include "firewall/nft_script.hpp"
#include "firewall/pinhole_table.hpp"
#include "firewall/queue_rule_installer.hpp"
#include "ftpalg/engine/engine.hpp"
#include "io/conntrack_events.hpp"
#include "io/conntrack_resolver.hpp"
#include "io/conntrack_takeover.hpp"
#include "io/nfqueue_source.hpp"
#include "live_system.hpp"
#include "outcome_executor.hpp"
#include "rules_command.hpp"
#include "wiring.hpp"

namespace ftpalg::app {

namespace {

Timestamp clockNow(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return Timestamp{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
}
Timestamp monotonicNow() { return clockNow(CLOCK_MONOTONIC); }

std::mutex stderrMutex;
void say(const std::string& message) {
  std::lock_guard lock(stderrMutex);
  std::cerr << "ftpalg: " << message << '\n';
}

// The decision log, shared by the workers. The engine's timestamps are CLOCK_MONOTONIC (never
// jumps); the log shows wall-clock time.
class LiveLog final : public EventLog {
 public:
  explicit LiveLog(std::unique_ptr<EventLog> log) : log_(std::move(log)) {}
  void record(const Observation& observation) override {
    Observation wall = observation;
    wall.ts = toWall(observation.ts);
    std::lock_guard lock(mutex_);
    log_->record(wall);
  }
  void recordStats(Timestamp ts, const Stats& stats) override {
    std::lock_guard lock(mutex_);
    log_->recordStats(ts, stats);
    log_->flush();
  }
  // A `stats` line stamped now (wall clock), flushed.
  void recordStats(const Stats& stats) { recordStats(clockNow(CLOCK_REALTIME), stats); }
  Status<> reopen() override {
    std::lock_guard lock(mutex_);
    return log_->reopen();
  }
  void flush() override {
    std::lock_guard lock(mutex_);
    log_->flush();
  }

 private:
  static Timestamp toWall(Timestamp monotonic) {
    const Timestamp wall = clockNow(CLOCK_REALTIME);
    const Timestamp mono = clockNow(CLOCK_MONOTONIC);
    return Timestamp{monotonic.nanos + (wall.nanos - mono.nanos)};
  }
  std::mutex mutex_;
  std::unique_ptr<EventLog> log_;
};

// --- workers -----------------------------------------------------------------------------------

// Announcement packets only (a rewrite or a pinhole): microseconds from the packet's receipt to
// its verdict, and the parts of it (engine, pinhole backend). Bounded samples.
struct Latency {
  std::vector<double> total, engine, pinhole;
  std::uint64_t count = 0;
  void add(double totalUs, double engineUs, double pinholeUs) {
    ++count;
    if (total.size() >= 100000) return;
    total.push_back(totalUs);
    engine.push_back(engineUs);
    pinhole.push_back(pinholeUs);
  }
};

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
            [](const std::string& message) { say("warning: " + message); }, /*timed=*/true),
        wakeFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Worker() {
    if (thread_.joinable()) thread_.join();
    if (wakeFd_ >= 0) ::close(wakeFd_);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void drainAndStop() {
    phase_.store(Phase::Draining);
    wake();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  void requestStats() {
    statsRequested_.store(true);
    wake();
  }
  // Valid after a requestStats() was answered (statsGeneration() advanced) or after join().
  Stats statsSnapshot() {
    std::lock_guard lock(statsMutex_);
    return statsSnapshot_;
  }
  std::uint64_t statsGeneration() const { return statsGeneration_.load(); }
  bool failed() const { return failed_.load(); }
  bool finished() const { return finished_.load(); }
  const Latency& latency() const { return latency_; }
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
    const bool announcement =
        std::any_of(out_.actions.begin(), out_.actions.end(),
                    [](const Action& a) { return std::holds_alternative<OpenPinhole>(a); }) ||
        std::any_of(out_.observations.begin(), out_.observations.end(),
                    [](const Observation& o) { return std::holds_alternative<Rewrite>(o.body); });
    const auto released = execute(out_);
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

  void publishStats() {
    {
      std::lock_guard lock(statsMutex_);
      statsSnapshot_ = engine_->stats();
    }
    statsGeneration_.fetch_add(1);
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
      say("queue " + std::to_string(queue_) + ": " + read.error());
      return false;
    }
    if (!read->lost) return true;
    say("warning: queue " + std::to_string(queue_) +
        ": conntrack destroy events were lost (socket buffer full); resynchronising from a dump");
    if (!resyncNetlink_) {
      auto opened = io::ConntrackNetlink::open();
      if (!opened) {
        say("warning: queue " + std::to_string(queue_) + ": " + opened.error());
        return true;
      }
      resyncNetlink_ = std::move(opened.value());
    }
    auto alive = io::dumpAnchoredConnections(*resyncNetlink_, kernel_->resync);
    if (!alive) {
      say("warning: queue " + std::to_string(queue_) + ": " + alive.error());
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
      say("queue " + std::to_string(queue_) + ": " + received.error());
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
      int timeoutMs = 1000;
      if (const auto deadline = engine_->nextDeadline()) {
        const auto left = (*deadline - monotonicNow()).count() / 1'000'000;
        timeoutMs = static_cast<int>(std::clamp<std::int64_t>(left + 1, 0, 1000));
      }
      pollfd fds[3] = {{source_->fd(), POLLIN, 0}, {wakeFd_, POLLIN, 0}, {-1, POLLIN, 0}};
      if (kernel_) fds[2].fd = kernel_->events->fd();
      if (::poll(fds, 3, timeoutMs) < 0 && errno != EINTR) {
        say("queue " + std::to_string(queue_) + ": poll: " + std::strerror(errno));
        failed_.store(true);
        break;
      }
      if (fds[1].revents & POLLIN) {
        std::uint64_t value;
        [[maybe_unused]] const ssize_t got = ::read(wakeFd_, &value, sizeof value);
      }
      runTimers();
      if ((fds[0].revents & POLLIN) && !receive()) {
        failed_.store(true);
        break;
      }
      if ((fds[2].revents & POLLIN) && !readDestroyEvents()) {
        failed_.store(true);
        break;
      }
      if (statsRequested_.exchange(false)) publishStats();
      if (auto warning = resolver_->takeWarning()) say("warning: " + *warning);
      if (source_->counters().overruns != reportedOverruns_) {
        reportedOverruns_ = source_->counters().overruns;
        say("warning: queue " + std::to_string(queue_) + ": the kernel dropped queue messages (socket " +
            "buffer full, " + std::to_string(reportedOverruns_) +
            " times so far); their packets wait for the "
            "queue's own limit");
      }
      if (!source_->lastKernelError().empty() && source_->counters().kernelErrors != reportedKernelErrors_) {
        reportedKernelErrors_ = source_->counters().kernelErrors;
        say("warning: queue " + std::to_string(queue_) + ": " + source_->lastKernelError());
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
    publishStats();
    log_.flush();
    finished_.store(true);
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
  std::unique_ptr<io::ConntrackNetlink> resyncNetlink_;
  std::unique_ptr<Engine> engine_;
  LiveLog& log_;
  OutcomeExecutor executor_;
  int wakeFd_ = -1;
  Outcome out_;
  std::thread thread_;
  std::atomic<Phase> phase_{Phase::Running};
  std::atomic<bool> statsRequested_{false};
  std::atomic<bool> failed_{false};
  std::atomic<bool> finished_{false};
  std::atomic<std::uint64_t> statsGeneration_{0};
  std::mutex statsMutex_;
  Stats statsSnapshot_;
  Latency latency_;
  std::size_t lastReceived_ = 0;
  double lastActionsUs_ = 0;
  std::uint64_t reportedKernelErrors_ = 0;
  std::uint64_t reportedOverruns_ = 0;
};

Stats sumStats(std::vector<std::unique_ptr<Worker>>& workers) {
  Stats total;
  for (auto& worker : workers) {
    const Stats stats = worker->statsSnapshot();
    for (std::size_t i = 0; i < total.values.size(); ++i) total.values[i] += stats.values[i];
  }
  return total;
}

void collectStats(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<std::uint64_t> before;
  for (auto& worker : workers) {
    before.push_back(worker->statsGeneration());
    worker->requestStats();
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (std::size_t i = 0; i < workers.size(); ++i) {
    while (workers[i]->statsGeneration() == before[i] && !workers[i]->finished() &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

void reportLatency(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<double> total, engine, pinhole;
  std::uint64_t count = 0;
  for (auto& worker : workers) {
    const Latency& latency = worker->latency();
    total.insert(total.end(), latency.total.begin(), latency.total.end());
    engine.insert(engine.end(), latency.engine.begin(), latency.engine.end());
    pinhole.insert(pinhole.end(), latency.pinhole.begin(), latency.pinhole.end());
    count += latency.count;
  }
  if (total.empty()) return;
  auto median = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double engineMedian = median(engine);
  const double pinholeMedian = median(pinhole);
  const double totalMedian = median(total);
  char line[320];
  std::snprintf(line, sizeof line,
                "%llu announcement packets; receive-to-verdict median %.1f us (engine %.1f us, pinhole "
                "install %.1f us), p99 %.1f us, max %.1f us",
                static_cast<unsigned long long>(count), totalMedian, engineMedian, pinholeMedian,
                total[total.size() * 99 / 100], total.back());
  say(line);
}

}  // namespace

ExitCode runLive(const AppConfig& config) {
  const RunConfig& run = config.run;
  const std::string_view mode = liveMode(config);

  // Signals are blocked from the start (and read from a signalfd once running): a SIGTERM that
  // arrives during setup is handled as soon as the rules and table exist, so they are removed.
  sigset_t signals;
  sigemptyset(&signals);
  for (const int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // 1. Preconditions.
  if (!hasNetAdminCapability()) {
    say("run: needs root or CAP_NET_ADMIN (it binds NFQUEUE queues, reads conntrack through "
        "ctnetlink and manages its nft table)");
    return ExitCode::Failed;
  }
  auto runLock = RunLock::acquire();
  if (!runLock) {
    say("run: " + runLock.error());
    return ExitCode::Failed;
  }
  if (auto helper = firewall::checkKernelHelper(config.controlPorts); !helper) {
    say("run: " + helper.error());
    return ExitCode::Failed;
  }
  // The sequence owner: --seq-owner kernel needs the anchor's sane helper.
  SequenceOwner owner = run.seqOwner;
  if (owner == SequenceOwner::Kernel) {
    if (auto probed = firewall::probeAnchorHelper(); !probed) {
      if (run.pinholeBackend == PinholeBackendKind::Conntrack) {
        say("run: --pinhole-backend conntrack needs the conntrack-owned mode, which is not available: " +
            probed.error());
        return ExitCode::Failed;
      }
      say("warning: --seq-owner kernel: " + probed.error() +
          "; running in the engine-owned mode (--seq-owner engine) instead");
      owner = SequenceOwner::Engine;
    }
  }
  const std::optional<firewall::NftTableSpec> tableSpec = liveTableSpec(config, owner);
  if (tableSpec) {
    auto free = firewall::checkPinholeTableFree(*tableSpec);
    if (!free) {
      say("run: " + free.error());
      return ExitCode::Failed;
    }
    if (const auto stalePid = free.value()) {
      say("flushing a stale nft table inet " + tableSpec->table + " left by ftpalg pid " +
          std::to_string(*stalePid));
    }
  }
  std::optional<firewall::QueueRules> plannedRules;
  if (run.installQueueRules) {
    auto planned = firewall::QueueRules::plan(queueRuleSpec(config, owner));
    if (!planned) {
      say("run: " + planned.error());
      return ExitCode::Failed;
    }
    plannedRules.emplace(std::move(planned.value()));
    for (const auto& warning : plannedRules->warnings()) say("warning: " + warning);
  }

  // 2. Log, queues, table, rules.
  auto eventLog = openEventLog(config, mode);
  if (!eventLog) {
    say(eventLog.error());
    return ExitCode::BadOptions;
  }
  LiveLog log(std::move(eventLog.value()));

  const std::uint16_t count = std::max<std::uint16_t>(1, run.queueCount);
  std::vector<std::unique_ptr<io::NfqueueSource>> sources;
  for (std::uint16_t i = 0; i < count; ++i) {
    io::NfqueueOptions options;
    options.queueNum = static_cast<std::uint16_t>(run.queueNum + i);
    options.failOpen = run.failOpen;
    auto source = io::NfqueueSource::open(options);
    if (!source) {
      say("run: --queue " + std::to_string(options.queueNum) + ": " + source.error());
      return ExitCode::Failed;
    }
    sources.push_back(std::move(source.value()));
  }

  // From here on, leaving deletes what was created: the table (its owner), the queue rules
  // (theirs, declared later so that they go first).
  std::optional<firewall::PinholeTable> table;
  if (tableSpec) {
    // nft add table inet ftpalg; nft delete table inet ftpalg; nft -f <table script>
    auto created = firewall::PinholeTable::create(*tableSpec);
    if (!created) {
      say("run: " + created.error());
      return ExitCode::Failed;
    }
    table.emplace(std::move(created.value()));
  }
  std::vector<std::unique_ptr<PinholeBackend>> backends;
  std::vector<std::unique_ptr<KernelSessionPort>> sessionPorts;
  for (std::uint16_t i = 0; i < count; ++i) {
    auto backend = makeLivePinholeBackend(config, owner, table ? &*table : nullptr);
    if (!backend) {
      say("run: " + backend.error());
      return ExitCode::Failed;
    }
    backends.push_back(std::move(backend.value()));
    auto sessionPort = makeLiveKernelSessionPort(config, owner);
    if (!sessionPort) {
      say("run: " + sessionPort.error());
      return ExitCode::Failed;
    }
    sessionPorts.push_back(std::move(sessionPort.value()));
  }

  std::optional<firewall::QueueRules> queueRules = std::move(plannedRules);
  if (queueRules) {
    if (auto installed = queueRules->install(); !installed) {
      say("run: installing queue rules: " + installed.error());
      return ExitCode::Failed;
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
      if (!events) {
        say("run: " + events.error());
        return ExitCode::Failed;
      }
      KernelOwnership ownership;
      ownership.events = std::move(events.value());
      ownership.resync = takeoverOptions;
      ownership.resync.withExpectations = false;
      ownership.queueIndex = i;
      ownership.queueCount = count;
      ownerships[i].emplace(std::move(ownership));
    }
    auto netlink = io::ConntrackNetlink::open();
    if (!netlink) {
      say("run: " + netlink.error());
      return ExitCode::Failed;
    }
    auto running = io::dumpAnchoredConnections(*netlink.value(), takeoverOptions);
    if (!running) {
      say("run: takeover: " + running.error());
      return ExitCode::Failed;
    }
    std::size_t adjusted = 0, verified = 0, pending = 0;
    for (KernelTakeover& takeover : running.value()) {
      if (takeover.clientToServer != SeqAdjRecord{} || takeover.serverToClient != SeqAdjRecord{}) ++adjusted;
      if (takeover.dialogVerified) ++verified;
      if (takeover.pending) ++pending;
      const auto bytes = takeover.flow.key.server.address.bytes();
      ownerships[firewall::queueIndexOfServer(bytes.back(), count)]->takeovers.push_back(std::move(takeover));
    }
    if (!running->empty()) {
      say("takeover: " + std::to_string(running->size()) +
          " anchored control connection(s) already running (" + std::to_string(adjusted) +
          " with a kernel sequence adjustment, " + std::to_string(verified) + " with a verified dialog, " +
          std::to_string(pending) + " with a pending expectation), handed to the engines");
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
    if (!resolver) {
      say("run: " + resolver.error());
      return ExitCode::Failed;
    }
    LiveVerdictSink sink = makeLiveVerdictSink(config, sources[i]->verdicts());
    workers.push_back(
        std::make_unique<Worker>(static_cast<std::uint16_t>(run.queueNum + i), std::move(sources[i]),
                                 std::move(sink), std::move(resolver.value()), std::move(sessionPorts[i]),
                                 std::move(backends[i]), std::move(ownerships[i]), config.engine, log));
  }

  // 3. Least privilege.
  if (auto dropped = dropPrivileges(run.user, queueRules && queueRules->needsNetRaw()); !dropped) {
    say("run: dropping privileges: " + dropped.error());
    return ExitCode::Failed;
  }

  // 4. Signals (blocked since the start, read from a signalfd here), workers.
  const int signalFd = ::signalfd(-1, &signals, SFD_CLOEXEC);
  if (signalFd < 0) {
    say(std::string("run: signalfd: ") + std::strerror(errno));
    return ExitCode::Failed;
  }
  for (auto& worker : workers) worker->start();

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
    say("running (" + std::string(mode) + "): queue " + std::to_string(run.queueNum) +
        (count > 1 ? "-" + std::to_string(run.queueNum + count - 1) : std::string()) + ", control port(s) " +
        ports + ", sequence owner " + (owner == SequenceOwner::Kernel ? "kernel (conntrack)" : "engine") +
        ", pinholes " + pinholes + ", " + (run.failOpen ? "fail-open" : "fail-closed") + ", queue rules " +
        (queueRules ? queueRules->description() : std::string("not installed (--no-queue-rules)")));
  }

  ExitCode status = ExitCode::Success;
  bool stop = false;
  while (!stop) {
    pollfd fd{signalFd, POLLIN, 0};
    const int ready = ::poll(&fd, 1, 500);
    for (auto& worker : workers) {
      if (worker->failed()) {
        say("run: the worker of queue " + std::to_string(worker->queue()) + " failed; stopping");
        status = ExitCode::Failed;
        stop = true;
      }
    }
    if (ready <= 0) continue;
    signalfd_siginfo info{};
    if (::read(signalFd, &info, sizeof info) != sizeof info) continue;
    switch (info.ssi_signo) {
      case SIGTERM:
      case SIGINT: stop = true; break;
      case SIGHUP:
        if (auto reopened = log.reopen(); !reopened)
          say("warning: SIGHUP: reopening the log: " + reopened.error());
        break;
      case SIGUSR1:
        collectStats(workers);
        log.recordStats(sumStats(workers));
        break;
      default: break;
    }
  }
  ::close(signalFd);

  // 5. Stop: rules first, then drain and shut the engines down, then the table.
  if (queueRules) {
    if (auto removed = queueRules->remove(); !removed) say("warning: " + removed.error());
  }
  for (auto& worker : workers) worker->drainAndStop();
  for (auto& worker : workers) worker->join();
  log.recordStats(sumStats(workers));
  reportLatency(workers);
  workers.clear();  // their backends write to the table: gone before it
  if (table) {
    if (auto removed = table->remove(); !removed) say("warning: " + removed.error());
  }
  log.flush();
  say(status == ExitCode::Success ? "stopped" : "stopped after an error");
  return status;
}

}  // namespace ftpalg::app
