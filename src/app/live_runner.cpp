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
// The workers (one per queue: packets, destroy events, mailboxes) are live_worker.hpp's.
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
#include "io/conntrack_expect_repair.hpp"
#include "io/conntrack_resolver.hpp"
#include "io/conntrack_takeover.hpp"
#include "io/nflog_source.hpp"
#include "io/nfqueue_source.hpp"
#include "live_clock.hpp"
#include "live_log.hpp"
#include "live_stats.hpp"
#include "live_status.hpp"
#include "live_system.hpp"
#include "live_worker.hpp"
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

  // Copies are what the peers saw unchanged: their ACKs are in the original space.
  const EngineConfig engineConfig = liveEngineConfig(config);  // wiring.hpp: the ACK space
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::uint16_t i = 0; i < count; ++i) {
    io::ConntrackResolverOptions resolverOptions;
    resolverOptions.controlPorts = config.controlPorts;
    resolverOptions.maxFlows = std::max<std::size_t>(1024, config.engine.limits.maxSessions);
    resolverOptions.conntrackOwned = owner == SequenceOwner::Kernel;
    resolverOptions.controlMark = run.controlMark;
    resolverOptions.observeHelperFlows = copies;
    resolverOptions.readsLateCopies = copies;
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
