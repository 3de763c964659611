// `ftpalg replay` (see replay_runner.hpp): PcapSource -> StaticFlowResolver -> Engine ->
// PcapWriter + decision log.
//
// Per packet: the engine's timers run at each deadline up to the packet's timestamp, then the
// packet is parsed once and resolved once: packets that are IPv4/IPv6 TCP and claimed by the
// resolver (control traffic, as the live queue rules would select) go to Engine::onPacket with
// that parse and that flow; everything else is written unchanged at once. Verdicts are written
// in the order the engine emits them: a held packet is written when released, with its own
// timestamp and link header; Drop writes nothing. Only held packets are remembered (a copy
// each, bounded by the engine's hold limits), so memory stays at the control-flow state
// whatever the size of the capture.
#include "replay_runner.hpp"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <vector>

#include "../io/pcap_source.hpp"
#include "../io/pcap_writer.hpp"
#include "ftpalg/engine/static_flow_resolver.hpp"
#include "wiring.hpp"

namespace ftpalg::app {

namespace {

struct ReplayCounters {
  std::uint64_t read = 0;
  std::uint64_t toEngine = 0;
  std::uint64_t passedUninspected = 0;  // not IPv4/IPv6 TCP, or not claimed by the resolver
  std::uint64_t truncated = 0;          // caplen < len: passed unchanged
  std::uint64_t written = 0;
  std::uint64_t modified = 0;
  std::uint64_t dropped = 0;
  std::uint64_t pinholeActions = 0;
  std::uint64_t unknownVerdicts = 0;    // a verdict for a packet id we never gave (engine bug)
};

// A packet whose verdict the engine postponed: everything needed to write it later.
struct HeldRecord {
  Timestamp ts;
  std::vector<std::uint8_t> linkHeader;
  std::vector<std::uint8_t> networkBytes;
};

// Executes Outcomes in the order outcome.hpp prescribes: actions, verdicts, observations,
// forgotten flows.
class ReplayEmitter {
 public:
  ReplayEmitter(io::PcapWriter* writer, EventLog& log, FlowResolver& resolver, ReplayCounters& counters)
      : writer_(writer), log_(log), resolver_(resolver), counters_(counters) {}

  // Writes a packet the engine never sees.
  void passThrough(const SourcePacket& packet, std::uint32_t originalLength) {
    write(packet.ts, packet.linkHeader, packet.ipPacket, originalLength);
  }

  // Applies an Outcome of onPacket (`current` is the packet just processed) or of
  // onTimer/shutdown (`current` == nullptr).
  void apply(const Outcome& outcome, const SourcePacket* current) {
    counters_.pinholeActions += outcome.actions.size();  // replay installs nothing; logged below
    bool currentDecided = false;
    for (const PacketVerdict& verdict : outcome.verdicts) {
      if (current != nullptr && verdict.id == current->id) currentDecided = true;
    }
    if (current != nullptr && !currentDecided) {
      // Held: keep a copy, the source's buffer is reused by the next read.
      held_[current->id] = HeldRecord{current->ts,
                                      {current->linkHeader.begin(), current->linkHeader.end()},
                                      {current->ipPacket.begin(), current->ipPacket.end()}};
    }
    for (const PacketVerdict& verdict : outcome.verdicts) {
      if (current != nullptr && verdict.id == current->id) {
        emit(verdict, current->ts, current->linkHeader, current->ipPacket);
        continue;
      }
      const auto held = held_.find(verdict.id);
      if (held == held_.end()) {
        ++counters_.unknownVerdicts;
        continue;
      }
      emit(verdict, held->second.ts, held->second.linkHeader, held->second.networkBytes);
      held_.erase(held);
    }
    for (const Observation& observation : outcome.observations) log_.record(observation);
    for (const FlowKey& flow : outcome.forgottenFlows) resolver_.forget(flow);
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
  void emit(const PacketVerdict& verdict, Timestamp ts, std::span<const std::uint8_t> linkHeader,
            std::span<const std::uint8_t> original) {
    switch (verdict.kind) {
      case VerdictKind::Accept:
        write(ts, linkHeader, original, 0);
        break;
      case VerdictKind::AcceptModified:
        ++counters_.modified;
        write(ts, linkHeader, verdict.bytes, 0);
        break;
      case VerdictKind::Drop:
        ++counters_.dropped;
        break;
    }
  }

  void write(Timestamp ts, std::span<const std::uint8_t> linkHeader,
             std::span<const std::uint8_t> networkBytes, std::uint32_t originalLength) {
    ++counters_.written;
    if (writer_ != nullptr) writer_->write(ts, linkHeader, networkBytes, originalLength);
  }

  io::PcapWriter* writer_;
  EventLog& log_;
  FlowResolver& resolver_;
  ReplayCounters& counters_;
  std::map<PacketId, HeldRecord> held_;
};

void printSummary(const std::string& input, const ReplayCounters& counters, std::size_t leftovers) {
  std::cerr << "ftpalg replay: " << input << ": " << counters.read << " packets read, " << counters.toEngine
            << " inspected as FTP control traffic, " << counters.written << " written ("
            << counters.modified << " modified), " << counters.dropped << " dropped";
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

// Runs the engine's timers for every deadline up to `now`, each at its own time, then once at
// `now`: a hold timeout or a pinhole expiry is decided (and logged) at the moment live mode would
// decide it, not only when the next packet of the capture happens to arrive.
void runTimersUntil(Engine& engine, Timestamp now, Outcome& outcome, ReplayEmitter& emitter) {
  // Bounded: each round must move the deadline forward; an engine that reports the same deadline
  // again is simply run at `now` below.
  for (int round = 0; round < 1000; ++round) {
    const auto deadline = engine.nextDeadline();
    if (!deadline || *deadline >= now) break;
    outcome.clear();
    engine.onTimer(*deadline, outcome);
    emitter.apply(outcome, nullptr);
    const auto after = engine.nextDeadline();
    if (after && *after <= *deadline) break;
  }
  outcome.clear();
  engine.onTimer(now, outcome);
  emitter.apply(outcome, nullptr);
}

}  // namespace

int runReplay(const AppConfig& config) {
  const ReplayConfig& replay = config.replay;
  auto source = io::PcapSource::open(replay.inputPath);
  if (!source) {
    std::cerr << "ftpalg: --in: " << source.error() << '\n';
    return 2;
  }
  std::unique_ptr<io::PcapWriter> writer;
  if (replay.outputPath) {
    auto created = io::PcapWriter::create(*replay.outputPath, source.value()->linkType(),
                                          source.value()->precision());
    if (!created) {
      std::cerr << "ftpalg: --out: " << created.error() << '\n';
      return 2;
    }
    writer = std::move(created.value());
  }
  auto eventLog = openEventLog(config, kModeReplay);
  if (!eventLog) {
    std::cerr << "ftpalg: " << eventLog.error() << '\n';
    return 2;
  }
  EventLog& log = *eventLog.value();

  StaticFlowResolver resolver(replayNatRules(config));
  // The capture's peers acknowledge the stream they really received, which no ALG rewrote.
  EngineConfig engineConfig = config.engine;
  engineConfig.ackSpace = AckSpace::Original;
  Engine engine(engineConfig);
  ReplayCounters counters;
  ReplayEmitter emitter(writer.get(), log, resolver, counters);
  io::PcapSource& input = *source.value();

  int status = 0;
  bool clockStarted = false;
  Timestamp now;
  Outcome outcome;
  for (;;) {
    auto next = input.next();
    if (!next) {
      std::cerr << "ftpalg: " << replay.inputPath << ": " << next.error()
                << "; processing stopped, packets before it were written\n";
      status = 1;
      break;
    }
    if (!next.value()) break;  // end of capture
    const SourcePacket& packet = *next.value();
    ++counters.read;
    // The engine's clock never goes backwards, even in a capture merged out of order; packets
    // keep their own timestamps in the output.
    if (!clockStarted || packet.ts > now) now = packet.ts;
    clockStarted = true;

    runTimersUntil(engine, now, outcome, emitter);

    if (input.lastRecord().truncated()) ++counters.truncated;
    // Parsed once and resolved once, here; the engine gets both.
    std::optional<PacketView> view;
    std::optional<FlowContext> flow;
    if (packet.controlCandidate) view = PacketView::parse(packet.ipPacket);
    if (view) flow = resolver.resolve(*view);
    if (!flow) {
      ++counters.passedUninspected;
      emitter.passThrough(packet, input.lastRecord().originalLength);
      continue;
    }
    ++counters.toEngine;
    outcome.clear();
    engine.onPacket(PacketMeta{packet.id}, packet.ipPacket, *view, *flow, now, outcome);
    emitter.apply(outcome, &packet);
  }

  outcome.clear();
  engine.shutdown(now, outcome);
  emitter.apply(outcome, nullptr);
  const std::size_t leftovers = emitter.flushLeftovers();
  log.recordStats(now, engine.stats());
  log.flush();

  if (writer) {
    if (auto flushed = writer->flush(); !flushed) {
      std::cerr << "ftpalg: --out: " << flushed.error() << '\n';
      status = 1;
    }
  }
  printSummary(replay.inputPath, counters, leftovers);
  return status;
}

}  // namespace ftpalg::app
