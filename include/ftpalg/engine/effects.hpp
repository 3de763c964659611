// Effects: where one engine call (Engine::onPacket, onTimer, shutdown) records what it decided.
// Every part of the engine writes its verdicts, pinhole actions, observations, flows to forget and
// counters through it, stamped with the call's time; none of them touches the Outcome otherwise
// (docs/architecture.md "Effects are data").
#pragma once

#include <cstdint>
#include <utility>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/engine/reasons.hpp"

namespace ftpalg {

class Effects {
 public:
  Effects(Outcome& out, Stats& stats, Timestamp now) : out_(out), stats_(stats), now_(now) {}

  Timestamp now() const { return now_; }

  void count(Stat stat, std::uint64_t n = 1) { stats_.add(stat, n); }
  void observe(const FlowKey& flow, ObservationBody body) {
    out_.observations.push_back(Observation{now_, flow, std::move(body)});
  }
  // Release the packet's original bytes.
  void accept(PacketId id) { out_.verdicts.push_back(PacketVerdict{id, VerdictKind::Accept, {}}); }
  // Release `bytes` (the whole rewritten IP packet) instead of the original.
  void acceptModified(PacketId id, std::vector<std::uint8_t> bytes) {
    out_.verdicts.push_back(PacketVerdict{id, VerdictKind::AcceptModified, std::move(bytes)});
  }
  // Drop the packet (conntrack-owned mode only: the sender retransmits it, packet_emitter.hpp).
  void drop(PacketId id) { out_.verdicts.push_back(PacketVerdict{id, VerdictKind::Drop, {}}); }
  void act(Action action) { out_.actions.push_back(std::move(action)); }
  // The engine no longer tracks `flow`: the shell's FlowResolver may drop it from its cache.
  void forget(const FlowKey& flow) { out_.forgottenFlows.push_back(flow); }

 private:
  Outcome& out_;
  Stats& stats_;
  Timestamp now_;
};

}  // namespace ftpalg
