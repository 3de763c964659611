// Worker: see live_worker.hpp.
#include "live_worker.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "log/diagnostics.hpp"

namespace ftpalg::app {

using log::reportError;
using log::reportInfo;
using log::reportWarning;

void reportRepair(const std::string& line, bool lost) {
  if (lost) {
    reportWarning(line);
  } else {
    reportInfo(line);
  }
}

Worker::Worker(std::uint16_t queue, std::unique_ptr<io::PacketFeed> source, bool copies, LiveVerdictSink sink,
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

Worker::~Worker() {
  if (thread_.joinable()) thread_.join();
  if (wakeFd_ >= 0) ::close(wakeFd_);
}

std::chrono::steady_clock::time_point Worker::execute(const Outcome& out, std::optional<PacketId> current,
                                                      std::chrono::steady_clock::time_point start) {
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

void Worker::onPacket(const io::QueuedPacket& queued) {
  const auto start = std::chrono::steady_clock::now();
  out_.clear();
  if (!queued.packet.controlCandidate) {
    out_.verdicts.push_back(PacketVerdict{queued.packet.id, VerdictKind::Accept, {}});
    execute(out_, queued.packet.id, start);
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
  const auto released = execute(out_, queued.packet.id, start);
  // The takeover may have replaced a closed session of the same flow, whose forgetting erased
  // the flow from kernelFlows_ in execute(): the adopted session is the engine's now.
  if (adopted) kernelFlows_.insert(*adopted);
  if (announcement) {
    latency_.add(std::chrono::duration<double, std::micro>(released - start).count(),
                 std::chrono::duration<double, std::micro>(decided - start).count(), lastActionsUs_);
  }
}

void Worker::runTimers() {
  const Timestamp now = monotonicNow();
  const auto deadline = engine_->nextDeadline();
  if (deadline && *deadline > now) return;
  out_.clear();
  engine_->onTimer(now, out_);
  execute(out_);
}

void Worker::reinstallPinholes() {
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
  std::string message =
      label_ + ": " + std::to_string(added) + " pending pinhole(s) added again after the table was recreated";
  if (expired > 0) message += " (" + std::to_string(expired) + " expiring now left out)";
  if (failed > 0) {
    reportWarning(message + "; " + std::to_string(failed) + " failed: " + firstError);
  } else {
    reportInfo(message);
  }
}

void Worker::adoptTakeovers() {
  out_.clear();
  const Timestamp now = monotonicNow();
  for (const KernelTakeover& takeover : kernel_->takeovers) {
    kernelFlows_.insert(takeover.flow.key);
    engine_->adopt(takeover, now, out_);
  }
  kernel_->takeovers.clear();
  execute(out_);
}

bool Worker::ensureResyncNetlink() {
  if (resyncNetlink_) return true;
  auto opened = io::ConntrackNetlink::open();
  if (!opened) {
    reportWarning(label_ + ": " + opened.error());
    return false;
  }
  resyncNetlink_ = std::move(opened.value());
  return true;
}

bool Worker::readDestroyEvents() {
  auto read = kernel_->events->read([this](const FlowKey& flow, const io::ConntrackEntry& destroyed) {
    if (owns(flow) && !reusedByAnotherEntry(destroyed)) sessionEnded(flow);
  });
  if (!read) {
    reportError(label_ + ": " + read.error());
    return false;
  }
  if (!read->lost) return true;
  reportWarning(label_ +
                ": conntrack destroy events were lost (socket buffer full); resynchronising from a dump");
  if (!ensureResyncNetlink()) return true;
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

bool Worker::receive() {
  auto received = source_->receive([this](const io::QueuedPacket& queued) { onPacket(queued); });
  if (!received) {
    reportError(label_ + ": " + received.error());
    return false;
  }
  lastReceived_ = received.value();
  return true;
}

void Worker::run() {
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
    // Conntrack's news before the packets: a replicated expectation must not wait behind a burst
    // of queued packets, and a connection conntrack destroyed (and conntrackd may have re-created
    // at a takeover) must end its stale session before its next packet is handled.
    if ((fds[3].revents & POLLIN) && !repairExpectations()) {
      failed_.store(true);
      break;
    }
    if (kernel_ && (fds[2].revents & POLLIN) && !readDestroyEvents()) {
      failed_.store(true);
      break;
    }
    if ((fds[0].revents & POLLIN) && !receive()) {
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

void Worker::applyPendingConfig() {
  std::optional<EngineConfig> config;
  {
    std::lock_guard<std::mutex> lock(reconfigureMutex_);
    config.swap(pendingConfig_);
  }
  if (config) engine_->reconfigure(config->policy, config->limits);
}
bool Worker::adoptMidstream(const FlowContext& flow, Timestamp now) {
  if (!ensureResyncNetlink()) return false;
  auto takeover = io::takeoverOfConnection(*resyncNetlink_, flow.nat, kernel_->resync);
  if (!takeover) {
    reportWarning(label_ + ": " + takeover.error());
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

bool Worker::repairExpectations() {
  auto repaired = kernel_->repair->read(reportRepair);
  if (!repaired) {
    reportError(label_ + ": " + repaired.error());
    return false;
  }
  return true;
}

void Worker::sessionEnded(const FlowKey& flow) {
  kernelFlows_.erase(flow);
  out_.clear();
  engine_->onConntrackDestroyed(flow, monotonicNow(), out_);
  execute(out_);
}

bool Worker::reusedByAnotherEntry(const io::ConntrackEntry& destroyed) {
  if (destroyed.id == 0 || !ensureResyncNetlink()) return false;
  auto live = resyncNetlink_->get(destroyed.original, io::ConntrackDir::Original);
  if (!live || !live.value()) return false;
  const io::ConntrackEntry& entry = *live.value();
  // A new connection has no sequence adjustment before ftpalg makes one (its first rewrite comes
  // after the login, long after the old entry's event). An entry that already has one is the same
  // connection re-created from a peer's state (conntrackd at a fail-back, docs/ha.md): the stale
  // session ends, and the connection is taken over at its next payload.
  return entry.id != 0 && entry.id != destroyed.id && (entry.status & io::ct_status::kSeqAdjust) == 0;
}

}  // namespace ftpalg::app
