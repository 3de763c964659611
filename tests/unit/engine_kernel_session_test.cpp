// The engine's entry points of the conntrack-owned mode (docs/design.md#conntrack-owned-mode):
// sessions ended by conntrack (Engine::onConntrackDestroyed), connections taken over at start-up
// (Engine::adopt), and what a pinhole tells a conntrack-expectation backend (Pinhole::controlNat,
// Pinhole::announcedBy).
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "ftpalg/engine/engine.hpp"
#include "packet_builder.hpp"
#include "session_sim.hpp"

namespace ftpalg {
namespace {

using testing::ep;
using testing::SessionSim;

// Client 192.168.77.10 masqueraded to 203.0.113.1; server 203.0.113.10.
NatMapping snatMapping() {
  return NatMapping{ep("192.168.77.10:40000"), ep("203.0.113.1:40000"), ep("203.0.113.10:21"),
                    ep("203.0.113.10:21")};
}
FlowKey snatKey() { return FlowKey{ep("192.168.77.10:40000"), ep("203.0.113.10:21")}; }

// Client 198.51.100.20 outside; server 192.168.78.10 port-forwarded from 203.0.113.1:21.
NatMapping dnatMapping() {
  return NatMapping{ep("198.51.100.20:40001"), ep("198.51.100.20:40001"), ep("192.168.78.10:21"),
                    ep("203.0.113.1:21")};
}
FlowKey dnatKey() { return FlowKey{ep("198.51.100.20:40001"), ep("192.168.78.10:21")}; }

struct Harness {
  Harness(FlowKey key, NatMapping nat, EngineConfig config = {})
      : resolver(key, nat), engine(config), sim(engine, resolver, key.client, key.server, 1000u, 5000u) {}
  testing::FixedFlowResolver resolver;
  Engine engine;
  SessionSim sim;

  void login() {
    sim.handshake();
    sim.serverSends("220 (vsFTPd 3.0.3)\r\n");
    sim.clientSends("USER anonymous\r\n");
    sim.serverSends("331 Please specify the password.\r\n");
    sim.clientSends("PASS secret\r\n");
    sim.serverSends("230 Login successful.\r\n");
  }
  std::vector<Pinhole> opened() const {
    std::vector<Pinhole> result;
    for (const Action& action : sim.actions()) {
      if (const auto* open = std::get_if<OpenPinhole>(&action)) result.push_back(open->pinhole);
    }
    return result;
  }
};

template <typename T>
std::vector<T> bodies(const std::vector<Observation>& observations) {
  std::vector<T> result;
  for (const Observation& observation : observations) {
    if (const auto* body = std::get_if<T>(&observation.body)) result.push_back(*body);
  }
  return result;
}

KernelTakeover takeoverOf(const FlowKey& key, const NatMapping& nat) {
  KernelTakeover takeover;
  takeover.flow.key = key;
  takeover.flow.nat = nat;
  takeover.flow.sequenceOwner = SequenceOwner::Kernel;
  takeover.flow.kernelSeqAdjust = true;
  takeover.clientToServer = SeqAdjRecord{3644300219u, -9, -12};
  takeover.dialogVerified = true;
  return takeover;
}

TEST(EnginePinholeForConntrack, PortPinholeCarriesTheControlNatAndTheClientAsAnnouncer) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  const auto pinholes = h.opened();
  ASSERT_EQ(pinholes.size(), 1u);
  EXPECT_EQ(pinholes[0].controlNat, snatMapping());
  EXPECT_EQ(pinholes[0].announcedBy, Direction::ClientToServer);
}

TEST(EnginePinholeForConntrack, PassivePinholeCarriesTheControlNatAndTheServerAsAnnouncer) {
  Harness h(dnatKey(), dnatMapping());
  h.login();
  h.sim.clientSends("PASV\r\n");
  h.sim.serverSends("227 Entering Passive Mode (192,168,78,10,156,64).\r\n");
  const auto pinholes = h.opened();
  ASSERT_EQ(pinholes.size(), 1u);
  EXPECT_EQ(pinholes[0].controlNat, dnatMapping());
  EXPECT_EQ(pinholes[0].announcedBy, Direction::ServerToClient);
}

TEST(EngineConntrackDestroyed, ClosesTheSessionAndItsPinholeThenForgetsIt) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  ASSERT_EQ(h.opened().size(), 1u);

  Outcome out;
  h.engine.onConntrackDestroyed(snatKey(), h.sim.now(), out);
  const auto closedPinholes = bodies<PinholeClosed>(out.observations);
  ASSERT_EQ(closedPinholes.size(), 1u);
  EXPECT_EQ(closedPinholes[0].reason, Reason::SessionClosed);
  const auto closedSessions = bodies<SessionClosedObs>(out.observations);
  ASSERT_EQ(closedSessions.size(), 1u);
  EXPECT_EQ(closedSessions[0].reason, Reason::ConntrackDestroyed);
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ClosePinhole>(out.actions[0]));
  EXPECT_EQ(h.engine.pinholeCount(), 0u);

  // A second event for the same flow changes nothing.
  out.clear();
  h.engine.onConntrackDestroyed(snatKey(), h.sim.now(), out);
  EXPECT_TRUE(out.observations.empty());
  EXPECT_TRUE(out.actions.empty());

  // The closed session lingers (Limits::closedSessionLinger), then the flow is forgotten.
  out.clear();
  h.engine.onTimer(h.sim.now() + Limits{}.closedSessionLinger + std::chrono::seconds(2), out);
  ASSERT_EQ(out.forgottenFlows.size(), 1u);
  EXPECT_EQ(out.forgottenFlows[0], snatKey());
  EXPECT_EQ(h.engine.sessionCount(), 0u);
}

TEST(EngineConntrackDestroyed, AFlowWithoutSessionIsIgnored) {
  Engine engine(EngineConfig{});
  Outcome out;
  engine.onConntrackDestroyed(snatKey(), Timestamp::fromSeconds(10), out);
  EXPECT_TRUE(out.observations.empty());
  EXPECT_TRUE(out.actions.empty());
  EXPECT_TRUE(out.forgottenFlows.empty());
  EXPECT_EQ(engine.stats().get(Stat::SessionsClosed), 0u);
}

TEST(EngineAdopt, ATakenOverConnectionIsAMidstreamSessionNeverInspected) {
  testing::FixedFlowResolver resolver(snatKey(), snatMapping());
  Engine engine(EngineConfig{});
  Outcome out;
  engine.adopt(takeoverOf(snatKey(), snatMapping()), Timestamp::fromSeconds(1), out);
  EXPECT_EQ(engine.sessionCount(), 1u);
  EXPECT_EQ(engine.stats().get(Stat::SessionsOpened), 1u);
  ASSERT_EQ(bodies<SessionOpened>(out.observations).size(), 1u);
  const auto anomalies = bodies<AnomalyObs>(out.observations);
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(anomalies[0].reason, Reason::MidstreamPickup);
  EXPECT_TRUE(anomalies[0].inspectionStopped);
  EXPECT_TRUE(out.actions.empty());

  // The connection goes on (mid-stream; the simulated peers need a handshake to know each
  // other's ISN, which changes nothing for the adopted session): its next PORT passes unchanged
  // and opens nothing.
  SessionSim sim(engine, resolver, snatKey().client, snatKey().server, 777u, 888u);
  sim.handshake();
  sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  sim.serverSends("200 PORT command successful.\r\n");
  EXPECT_EQ(sim.server().received, "PORT 192,168,77,10,195,80\r\n");
  EXPECT_EQ(sim.client().received, "200 PORT command successful.\r\n");
  EXPECT_EQ(sim.packetsModified(), 0u);
  EXPECT_TRUE(sim.actions().empty());
  EXPECT_EQ(engine.stats().get(Stat::Rewrites), 0u);
  EXPECT_EQ(engine.sessionCount(), 1u);
}

TEST(EngineAdopt, AFlowThatAlreadyHasASessionKeepsIt) {
  Harness h(snatKey(), snatMapping());
  h.login();
  Outcome out;
  h.engine.adopt(takeoverOf(snatKey(), snatMapping()), h.sim.now(), out);
  EXPECT_TRUE(out.observations.empty());
  EXPECT_EQ(h.engine.stats().get(Stat::SessionsOpened), 1u);
  // Still inspected: a PORT is rewritten.
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  EXPECT_EQ(h.opened().size(), 1u);
}

TEST(EngineAdopt, AtTheSessionLimitTheConnectionIsRefused) {
  EngineConfig config;
  config.limits.maxSessions = 1;
  Engine engine(config);
  Outcome out;
  engine.adopt(takeoverOf(snatKey(), snatMapping()), Timestamp::fromSeconds(1), out);
  out.clear();
  engine.adopt(takeoverOf(dnatKey(), dnatMapping()), Timestamp::fromSeconds(1), out);
  EXPECT_EQ(engine.sessionCount(), 1u);
  EXPECT_EQ(engine.stats().get(Stat::SessionsRefusedAtLimit), 1u);
  const auto anomalies = bodies<AnomalyObs>(out.observations);
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(anomalies[0].reason, Reason::SessionLimit);
}

}  // namespace
}  // namespace ftpalg
