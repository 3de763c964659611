// `ftpalg replay` (see replay_runner.hpp): PcapSource -> parse + StaticFlowResolver -> Engine ->
// OutcomeExecutor (PcapVerdictSink -> PcapWriter, decision log).
//
// Per packet: the engine's timers run at each deadline up to the packet's timestamp; then the
// packet is parsed once and resolved once. Packets that are IPv4/IPv6 TCP and claimed by the
// resolver (control traffic, as the live queue rules would select) go to Engine::onPacket with
// that parse and that flow; everything else is written unchanged at once. Verdicts are written in
// the order the engine emits them: a held packet is written when released, with its own timestamp
// and link header; Drop writes nothing. Only held packets are remembered (a copy each, bounded by
// the engine's hold limits), so memory stays at the control-flow state whatever the size of the
// capture.
//
// --kernel-seqadj (docs/replay.md#the-conntrack-owned-mode): every control flow resolves as
// kernel-owned (with the seqadj extension when the static NAT changes its tuple, as the kernel
// adds it), the engine leaves sequence numbers alone and reports AdjustKernelSequence, and a
// KernelSeqAdjModel per flow, fed by those actions, shifts the seq of every control packet
// written, as conntrack would after the verdict. ACKs stay: the capture's peers acknowledge the
// original stream.
#include "replay_runner.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <vector>

#include "../io/pcap_source.hpp"
#include "../io/pcap_writer.hpp"
#include "ftpalg/engine/engine.hpp"
#include "ftpalg/engine/kernel_seqadj_model.hpp"
#include "log/diagnostics.hpp"
#include "outcome_executor.hpp"
#include "wiring.hpp"

namespace ftpalg::app {

namespace {

using log::reportError;
using log::reportWarning;

struct ReplayCounters {
  std::uint64_t read = 0;
  std::uint64_t toEngine = 0;
  std::uint64_t passedUninspected = 0;  // not IPv4/IPv6 TCP, or not claimed by the resolver
  std::uint64_t truncated = 0;          // caplen < len: passed unchanged
  std::uint64_t written = 0;
  std::uint64_t modified = 0;
  std::uint64_t dropped = 0;
  std::uint64_t unknownVerdicts = 0;  // a verdict for a packet id we never gave (engine bug)
};

// --kernel-seqadj: the static resolver's flows, kernel-owned.
class KernelOwnedResolver final : public FlowResolver {
 public:
  explicit KernelOwnedResolver(std::unique_ptr<FlowResolver> inner) : inner_(std::move(inner)) {}
  std::optional<FlowContext> resolve(const PacketView& packet) override {
    std::optional<FlowContext> flow = inner_->resolve(packet);
    if (flow) {
      flow->sequenceOwner = SequenceOwner::Kernel;
      // The kernel adds seqadj only when NAT changes the tuple (nf_nat_setup_info).
      flow->kernelSeqAdjust = flow->nat.clientReal != flow->nat.clientSeenByServer ||
                              flow->nat.serverReal != flow->nat.serverSeenByClient;
    }
    return flow;
  }
  void forget(const FlowKey& key) override { inner_->forget(key); }

 private:
  std::unique_ptr<FlowResolver> inner_;
};

// --kernel-seqadj: conntrack's records of each flow, as a model (the kernel session port).
class ModelSessionPort final : public KernelSessionPort {
 public:
  Status<> adjustSequence(const AdjustKernelSequence& adjust) override {
    models_[adjust.control].apply(adjust);
    return okStatus();
  }
  Status<> markDialogVerified(const MarkDialogVerified& /*mark*/) override { return okStatus(); }
  // The packet as conntrack would let it leave (seq only), or nullopt when unchanged.
  std::optional<std::vector<std::uint8_t>> adjust(std::span<const std::uint8_t> bytes,
                                                  FlowResolver& resolver) const {
    const auto view = PacketView::parse(bytes);
    if (!view) return std::nullopt;
    const auto flow = resolver.resolve(*view);
    if (!flow) return std::nullopt;
    const auto model = models_.find(flow->key);
    if (model == models_.end()) return std::nullopt;
    return model->second.adjustSequence(*view, flow->direction);
  }

 private:
  std::map<FlowKey, KernelSeqAdjModel> models_;
};

// Replay's verdict sink: writes each verdict's packet to --out (when given) with the packet's own
// timestamp and link header. The packet being processed is named by begin(); when the engine
// holds it (no verdict by end()), a copy is kept until its verdict comes, because the source's
// buffer is reused by the next read.
class PcapVerdictSink final : public VerdictSink {
 public:
  PcapVerdictSink(io::PcapWriter* writer, ReplayCounters& counters) : writer_(writer), counters_(counters) {}

  // --kernel-seqadj: every verdict's packet goes through conntrack's model first.
  void modelKernel(const ModelSessionPort* port, FlowResolver* resolver) {
    kernelPort_ = port;
    resolver_ = resolver;
  }

  // The packet about to be given to the engine (its spans must stay valid until end()).
  void begin(const SourcePacket& packet) {
    current_ = &packet;
    currentDecided_ = false;
  }
  // After its Outcome was executed: keeps a copy of the current packet when it is held.
  void end() {
    if (current_ != nullptr && !currentDecided_) {
      held_[current_->id] = HeldRecord{current_->ts,
                                       {current_->linkHeader.begin(), current_->linkHeader.end()},
                                       {current_->ipPacket.begin(), current_->ipPacket.end()}};
    }
    current_ = nullptr;
  }

  // A verdict for the current packet or for a held one. A verdict for a packet never given to the
  // engine (an engine bug) is counted and reported in the summary.
  Status<> deliver(const PacketVerdict& verdict) override {
    if (current_ != nullptr && verdict.id == current_->id) {
      currentDecided_ = true;
      emit(verdict, current_->ts, current_->linkHeader, current_->ipPacket);
      return okStatus();
    }
    const auto held = held_.find(verdict.id);
    if (held == held_.end()) {
      ++counters_.unknownVerdicts;
      return okStatus();
    }
    emit(verdict, held->second.ts, held->second.linkHeader, held->second.networkBytes);
    held_.erase(held);
    return okStatus();
  }

  // Writes a packet the engine never sees.
  void passThrough(const SourcePacket& packet, std::uint32_t originalLength) {
    write(packet.ts, packet.linkHeader, packet.ipPacket, originalLength);
  }

  // Packets the engine still holds after shutdown (it should release every one): written
  // unchanged so the output loses nothing. Returns how many.
  std::size_t flushLeftovers() {
    const std::size_t count = held_.size();
    for (const auto& [id, record] : held_) write(record.ts, record.linkHeader, record.networkBytes, 0);
    held_.clear();
    return count;
  }

 private:
  // A packet whose verdict the engine postponed: everything needed to write it later.
  struct HeldRecord {
    Timestamp ts;
    std::vector<std::uint8_t> linkHeader;
    std::vector<std::uint8_t> networkBytes;
  };

  void emit(const PacketVerdict& verdict, Timestamp ts, std::span<const std::uint8_t> linkHeader,
            std::span<const std::uint8_t> original) {
    std::span<const std::uint8_t> bytes =
        verdict.kind == VerdictKind::AcceptModified ? std::span<const std::uint8_t>(verdict.bytes) : original;
    std::optional<std::vector<std::uint8_t>> adjusted;
    if (kernelPort_ != nullptr && verdict.kind != VerdictKind::Drop) {
      adjusted = kernelPort_->adjust(bytes, *resolver_);
      if (adjusted) bytes = *adjusted;
    }
    switch (verdict.kind) {
      case VerdictKind::Accept: write(ts, linkHeader, bytes, 0); break;
      case VerdictKind::AcceptModified:
        ++counters_.modified;
        write(ts, linkHeader, bytes, 0);
        break;
      case VerdictKind::Drop: ++counters_.dropped; break;
    }
  }

  void write(Timestamp ts, std::span<const std::uint8_t> linkHeader,
             std::span<const std::uint8_t> networkBytes, std::uint32_t originalLength) {
    ++counters_.written;
    if (writer_ != nullptr) writer_->write(ts, linkHeader, networkBytes, originalLength);
  }

  io::PcapWriter* writer_;
  ReplayCounters& counters_;
  const ModelSessionPort* kernelPort_ = nullptr;
  FlowResolver* resolver_ = nullptr;
  const SourcePacket* current_ = nullptr;
  bool currentDecided_ = false;
  std::map<PacketId, HeldRecord> held_;
};

void printSummary(const std::string& input, const ReplayCounters& counters, std::size_t leftovers) {
  std::cerr << "ftpalg replay: " << input << ": " << counters.read << " packets read, " << counters.toEngine
            << " inspected as FTP control traffic, " << counters.written << " written (" << counters.modified
            << " modified), " << counters.dropped << " dropped";
  if (counters.truncated != 0) {
    std::cerr << "; " << counters.truncated
              << " truncated by the capture's snap length passed unchanged (their control streams "
                 "cannot be inspected)";
  }
  std::cerr << '\n';
  if (counters.unknownVerdicts != 0 || leftovers != 0) {
    std::cerr << "ftpalg replay: internal inconsistency: " << counters.unknownVerdicts
              << " verdicts for unknown packets, " << leftovers
              << " packets still held after shutdown (written unchanged)\n";
  }
}

// Runs the engine's timers as live mode would: for every deadline up to a packet's time, each at
// its own time, then at the packet's time when something is due, so a hold timeout or a pinhole
// expiry is decided (and logged) when live mode would decide it, not only when the next packet of
// the capture happens to arrive. Engine::nextDeadline() changes only inside engine calls, so it is
// read after each one: a packet with nothing due costs one comparison and touches no engine state
// (most packets of a capture are not control traffic).
class EngineTimers {
 public:
  EngineTimers(Engine& engine, Outcome& outcome, OutcomeExecutor& executor)
      : engine_(engine), outcome_(outcome), executor_(executor) {}

  void runUntil(Timestamp now) {
    // Engine::onTimer has no work before nextDeadline(); with no deadline yet, its first sweep is due.
    if (deadline_ && *deadline_ > now) return;
    // Bounded: each round must move the deadline forward; an engine that reports the same
    // deadline again is simply run at `now` below.
    for (int round = 0; round < 1000; ++round) {
      const auto deadline = engine_.nextDeadline();
      if (!deadline || *deadline >= now) break;
      run(*deadline);
      const auto after = engine_.nextDeadline();
      if (after && *after <= *deadline) break;
    }
    if (const auto deadline = engine_.nextDeadline(); !deadline || *deadline <= now) run(now);
    engineCalled();
  }

  // The engine was called (onPacket): its deadline may have moved.
  void engineCalled() { deadline_ = engine_.nextDeadline(); }

 private:
  void run(Timestamp at) {
    outcome_.clear();
    engine_.onTimer(at, outcome_);
    executor_.execute(outcome_);
  }

  Engine& engine_;
  Outcome& outcome_;
  OutcomeExecutor& executor_;
  std::optional<Timestamp> deadline_;  // Engine::nextDeadline() after the last engine call
};

// A file's identity: what two names (paths, symbolic or hard links, standard input) share when
// they are one file.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

// The identity of `path` ("-": standard input) when it is a regular file; none when it does
// not exist (yet) or is not a regular file (/dev/null as --out and --log is fine).
std::optional<FileIdentity> identityOf(const std::string& path) {
  struct stat info {};
  const int status = path == "-" ? ::fstat(STDIN_FILENO, &info) : ::stat(path.c_str(), &info);
  if (status != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  return FileIdentity{info.st_dev, info.st_ino};
}

// Refuses an output (`option` names it: "--out", "--log") that is one of the files already in use
// (`inUse`: the option and its identity), before the output is opened, which truncates it.
// Standard output ("-") is not checked: the shell opened it before ftpalg ran.
Status<> refuseInputAsOutput(std::string_view option, const std::string& path,
                             const std::vector<std::pair<std::string, std::optional<FileIdentity>>>& inUse) {
  if (path == "-") return okStatus();
  const auto identity = identityOf(path);
  if (!identity) return okStatus();
  for (const auto& [other, otherIdentity] : inUse) {
    if (otherIdentity && *otherIdentity == *identity) {
      return Err{std::string(option) + ": \"" + path + "\" is the same file as " + other +
                 " (refusing to overwrite it)"};
    }
  }
  return okStatus();
}

}  // namespace

ExitCode runReplay(const AppConfig& config) {
  const ReplayConfig& replay = config.replay;
  auto source = io::PcapSource::open(replay.inputPath);
  if (!source) {
    reportError("--in: " + source.error());
    return ExitCode::BadOptions;
  }
  // --in's identity, taken after opening it (so it is the file being read); then each output is
  // compared with every file before it, just before it is opened (so --out and --log naming one
  // new file are caught too: --out exists by then).
  std::vector<std::pair<std::string, std::optional<FileIdentity>>> inUse{
      {"--in \"" + replay.inputPath + "\"", identityOf(replay.inputPath)}};
  std::unique_ptr<io::PcapWriter> writer;
  if (replay.outputPath) {
    if (auto refused = refuseInputAsOutput("--out", *replay.outputPath, inUse); !refused) {
      reportError(refused.error());
      return ExitCode::BadOptions;
    }
    auto created =
        io::PcapWriter::create(*replay.outputPath, source.value()->linkType(), source.value()->precision());
    if (!created) {
      reportError("--out: " + created.error());
      return ExitCode::BadOptions;
    }
    writer = std::move(created.value());
    inUse.emplace_back("--out \"" + *replay.outputPath + "\"", identityOf(*replay.outputPath));
  }
  if (auto refused = refuseInputAsOutput("--log", config.logPath, inUse); !refused) {
    reportError(refused.error());
    return ExitCode::BadOptions;
  }
  auto eventLog = openEventLog(config, kModeReplay);
  if (!eventLog) {
    reportError(eventLog.error());
    return ExitCode::BadOptions;
  }
  EventLog& log = *eventLog.value();

  std::unique_ptr<FlowResolver> resolver = makeReplayResolver(config);
  const auto pinholes = makeReplayPinholeBackend(config);
  std::unique_ptr<KernelSessionPort> kernel;
  const ModelSessionPort* kernelModel = nullptr;
  if (replay.kernelSeqAdjust) {
    resolver = std::make_unique<KernelOwnedResolver>(std::move(resolver));
    auto model = std::make_unique<ModelSessionPort>();
    kernelModel = model.get();
    kernel = std::move(model);
  } else {
    kernel = makeReplayKernelSessionPort(config);
  }
  // The capture's peers acknowledge the stream they really received, which no ALG rewrote.
  EngineConfig engineConfig = config.engine;
  engineConfig.ackSpace = AckSpace::Original;
  Engine engine(engineConfig);
  ReplayCounters counters;
  PcapVerdictSink sink(writer.get(), counters);
  if (kernelModel != nullptr) sink.modelKernel(kernelModel, resolver.get());
  OutcomeExecutor executor(OutcomePorts{*kernel, *pinholes, sink, log, *resolver},
                           [](const std::string& message) { reportWarning("replay: " + message); });
  io::PcapSource& input = *source.value();

  ExitCode status = ExitCode::Success;
  bool clockStarted = false;
  Timestamp now;
  Outcome outcome;
  EngineTimers timers(engine, outcome, executor);
  for (;;) {
    auto next = input.next();
    if (!next) {
      reportError(replay.inputPath + ": " + next.error() +
                  "; processing stopped, packets before it were written");
      status = ExitCode::Failed;
      break;
    }
    if (!next.value()) break;  // end of capture
    const SourcePacket& packet = *next.value();
    ++counters.read;
    // The engine's clock never goes backwards, even in a capture merged out of order; packets
    // keep their own timestamps in the output.
    if (!clockStarted || packet.ts > now) now = packet.ts;
    clockStarted = true;

    timers.runUntil(now);

    if (input.lastRecord().truncated()) ++counters.truncated;
    // Parsed once and resolved once, here (each built in place); the engine gets both.
    const auto view =
        packet.controlCandidate ? PacketView::parse(packet.ipPacket) : std::optional<PacketView>();
    const auto flow = view ? resolver->resolve(*view) : std::optional<FlowContext>();
    if (!flow) {
      ++counters.passedUninspected;
      sink.passThrough(packet, input.lastRecord().originalLength);
      continue;
    }
    ++counters.toEngine;
    outcome.clear();
    engine.onPacket(PacketMeta{packet.id}, packet.ipPacket, *view, *flow, now, outcome);
    timers.engineCalled();
    sink.begin(packet);
    executor.execute(outcome);
    sink.end();
  }

  outcome.clear();
  engine.shutdown(now, outcome);
  executor.execute(outcome);
  const std::size_t leftovers = sink.flushLeftovers();
  log.recordStats(now, engine.stats());
  log.flush();
  if (const auto lost = log.writeError()) {
    reportError("--log: " + *lost + "; the decision log is incomplete");
    status = ExitCode::Failed;
  }

  if (writer) {
    if (auto flushed = writer->flush(); !flushed) {
      reportError("--out: " + flushed.error());
      status = ExitCode::Failed;
    }
  }
  printSummary(replay.inputPath, counters, leftovers);
  return status;
}

}  // namespace ftpalg::app
