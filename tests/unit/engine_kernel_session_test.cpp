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

TEST(EngineAdopt, AConnectionWithoutAVerifiedDialogIsAMidstreamSessionNeverInspected) {
  testing::FixedFlowResolver resolver(snatKey(), snatMapping());
  resolver.sequenceOwner = SequenceOwner::Kernel;
  resolver.kernelSeqAdjust = true;
  Engine engine(EngineConfig{});
  Outcome out;
  KernelTakeover takeover = takeoverOf(snatKey(), snatMapping());
  takeover.dialogVerified = false;
  engine.adopt(takeover, Timestamp::fromSeconds(1), out);
  EXPECT_EQ(engine.sessionCount(), 1u);
  EXPECT_EQ(engine.stats().get(Stat::SessionsOpened), 1u);
  ASSERT_EQ(bodies<SessionOpened>(out.observations).size(), 1u);
  const auto anomalies = bodies<AnomalyObs>(out.observations);
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(anomalies[0].reason, Reason::MidstreamPickup);
  EXPECT_TRUE(anomalies[0].inspectionStopped);
  EXPECT_TRUE(out.actions.empty());

  SessionSim sim(engine, resolver, snatKey().client, snatKey().server, 777u, 888u);
  sim.kernelOwned(true);
  sim.primeKernel(Direction::ClientToServer, SeqAdjRecord{777u - 1000u, -9, -12});
  sim.handshake();
  sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  sim.serverSends("200 PORT command successful.\r\n");
  EXPECT_EQ(sim.server().received, "PORT 192,168,77,10,195,80\r\n");
  EXPECT_EQ(sim.client().received, "200 PORT command successful.\r\n");
  EXPECT_EQ(sim.packetsModified(), 0u);
  EXPECT_TRUE(sim.actions().empty());
  EXPECT_EQ(engine.stats().get(Stat::Rewrites), 0u);
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

// ---------------------------------------------------------------------------------------------
// Kernel-owned flows: the engine rewrites payload only and reports each length change.

struct KernelHarness {
  KernelHarness(FlowKey key, NatMapping nat, std::uint32_t clientIsn = 1000u, std::uint32_t serverIsn = 5000u,
                bool seqAdjust = true)
      : resolver(key, nat),
        engine(EngineConfig{}),
        sim(engine, resolver, key.client, key.server, clientIsn, serverIsn) {
    resolver.sequenceOwner = SequenceOwner::Kernel;
    resolver.kernelSeqAdjust = seqAdjust;
    sim.kernelOwned(true);
  }
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
  std::vector<AdjustKernelSequence> adjustments() const {
    std::vector<AdjustKernelSequence> result;
    for (const Action& action : sim.actions()) {
      if (const auto* adjust = std::get_if<AdjustKernelSequence>(&action)) result.push_back(*adjust);
    }
    return result;
  }
  std::size_t count(const std::string& prefix) const {
    std::size_t n = 0;
    for (const Action& action : sim.actions()) n += testing::describe(action).starts_with(prefix) ? 1 : 0;
    return n;
  }
  // Both peers saw a consistent stream: every ACK within what was sent, everything delivered.
  void expectConsistent() const {
    EXPECT_FALSE(sim.client().ackBeyondSent);
    EXPECT_FALSE(sim.server().ackBeyondSent);
    EXPECT_EQ(sim.client().highestAckReceived, sim.client().sent);
    EXPECT_EQ(sim.server().highestAckReceived, sim.server().sent);
    EXPECT_TRUE(sim.client().outOfOrder.empty());
    EXPECT_TRUE(sim.server().outOfOrder.empty());
    EXPECT_EQ(sim.client().badChecksums, 0);
    EXPECT_EQ(sim.server().badChecksums, 0);
  }
};

// Raw sequence number of the client's (server's) next byte.
std::uint32_t nextRaw(const testing::PeerState& peer) {
  return static_cast<std::uint32_t>(peer.isn + 1 + peer.sent);
}

TEST(EngineKernelOwned, PortRewriteReportsItsAdjustmentAndLeavesSequenceNumbersToTheKernel) {
  KernelHarness h(snatKey(), snatMapping());
  h.login();
  // The greeting was verified: recorded in conntrack once.
  EXPECT_EQ(h.count("mark_verified"), 1u);
  ASSERT_TRUE(std::holds_alternative<MarkDialogVerified>(h.sim.actions().front()));

  const std::uint32_t first = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");  // 13 -> 11 bytes: -2
  h.sim.serverSends("200 PORT command successful.\r\n");
  const std::uint32_t second = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,81\r\n");
  h.sim.serverSends("200 PORT command successful.\r\n");
  h.sim.clientSends("NOOP\r\n");
  h.sim.serverSends("200 NOOP ok.\r\n");

  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 2u);
  EXPECT_EQ(adjustments[0].direction, Direction::ClientToServer);
  EXPECT_EQ(adjustments[0].control, snatKey());
  EXPECT_EQ(adjustments[0].nat, snatMapping());
  EXPECT_EQ(adjustments[0].record, (SeqAdjRecord{first, 0, -2}));
  EXPECT_EQ(adjustments[1].record, (SeqAdjRecord{second, -2, -4}));
  EXPECT_EQ(
      h.sim.server().received,
      "USER anonymous\r\nPASS secret\r\nPORT 203,0,113,1,195,80\r\nPORT 203,0,113,1,195,81\r\nNOOP\r\n");
  h.expectConsistent();
  EXPECT_EQ(h.count("mark_verified"), 1u);
  EXPECT_EQ(h.engine.stats().get(Stat::PacketsDropped), 0u);
  EXPECT_EQ(h.engine.stats().get(Stat::PinholesOpened), 2u);
}

TEST(EngineKernelOwned, AGrowingPortRewriteReportsAPositiveDelta) {
  // Client 10.0.0.1 masqueraded to 203.0.113.1: "10,0,0,1" (8) -> "203,0,113,1" (11): +3.
  const FlowKey key{ep("10.0.0.1:40000"), ep("203.0.113.10:21")};
  const NatMapping nat{ep("10.0.0.1:40000"), ep("203.0.113.1:40000"), ep("203.0.113.10:21"),
                       ep("203.0.113.10:21")};
  KernelHarness h(key, nat);
  h.login();
  const std::uint32_t first = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 10,0,0,1,195,80\r\n");
  h.sim.serverSends("200 PORT command successful.\r\n");
  h.sim.clientSends("LIST\r\n");
  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 1u);
  EXPECT_EQ(adjustments[0].record, (SeqAdjRecord{first, 0, 3}));
  EXPECT_EQ(h.sim.server().received, "USER anonymous\r\nPASS secret\r\nPORT 203,0,113,1,195,80\r\nLIST\r\n");
  h.expectConsistent();
}

TEST(EngineKernelOwned, PassiveReplyRewriteIsReportedForTheServerDirection) {
  KernelHarness h(dnatKey(), dnatMapping(), 1000u, 0xFFFFFF00u);  // server ISN wraps during the session
  h.login();
  h.sim.clientSends("PASV\r\n");
  const std::uint32_t first = nextRaw(h.sim.server());
  h.sim.serverSends("227 Entering Passive Mode (192,168,78,10,156,64).\r\n");  // -2
  h.sim.clientSends("LIST\r\n");
  h.sim.serverSends("150 Here comes the directory listing.\r\n");
  h.sim.serverSends("226 Directory send OK.\r\n");
  h.sim.clientSends("PASV\r\n");
  const std::uint32_t second = nextRaw(h.sim.server());
  h.sim.serverSends("227 Entering Passive Mode (192,168,78,10,156,65).\r\n");
  h.sim.clientSends("NOOP\r\n");
  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 2u);
  EXPECT_EQ(adjustments[0].direction, Direction::ServerToClient);
  EXPECT_EQ(adjustments[0].record, (SeqAdjRecord{first, 0, -2}));
  EXPECT_EQ(adjustments[1].record, (SeqAdjRecord{second, -2, -4}));
  EXPECT_NE(h.sim.client().received.find("227 Entering Passive Mode (203,0,113,1,156,64).\r\n"),
            std::string::npos);
  EXPECT_NE(h.sim.client().received.find("227 Entering Passive Mode (203,0,113,1,156,65).\r\n"),
            std::string::npos);
  h.expectConsistent();
}

TEST(EngineKernelOwned, ASecondEditWhileTheFirstIsUnacknowledgedIsDroppedUntilTheAckArrives) {
  KernelHarness h(snatKey(), snatMapping());
  h.login();
  const std::uint32_t first = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  // The server's pure ACK is not queued: the engine has not seen the first edit acknowledged.
  const std::uint64_t secondOffset = h.sim.client().sent;
  const std::uint32_t second = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,81\r\n");
  EXPECT_EQ(h.sim.packetsDropped(), 1u);
  EXPECT_EQ(h.engine.stats().get(Stat::PacketsDropped), 1u);
  const auto anomalies = bodies<AnomalyObs>(h.sim.observations());
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(anomalies[0].reason, Reason::EditUnacknowledged);
  EXPECT_FALSE(anomalies[0].inspectionStopped);
  ASSERT_EQ(h.adjustments().size(), 1u);

  // The server answers the first PORT (its ACK covers it); the client retransmits the second.
  h.sim.serverSends("200 PORT command successful.\r\n");
  h.sim.resend(true, secondOffset, 27);
  h.sim.serverSends("200 PORT command successful.\r\n");
  h.sim.clientSends("NOOP\r\n");
  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 2u);
  EXPECT_EQ(adjustments[0].record, (SeqAdjRecord{first, 0, -2}));
  EXPECT_EQ(adjustments[1].record, (SeqAdjRecord{second, -2, -4}));
  EXPECT_EQ(
      h.sim.server().received,
      "USER anonymous\r\nPASS secret\r\nPORT 203,0,113,1,195,80\r\nPORT 203,0,113,1,195,81\r\nNOOP\r\n");
  h.expectConsistent();
}

TEST(EngineKernelOwned, ACollapsedRetransmissionCarryingBothEditsMovesTheSameCorrectionPoint) {
  KernelHarness h(snatKey(), snatMapping());
  h.login();
  const std::uint64_t firstOffset = h.sim.client().sent;
  const std::uint32_t first = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  h.sim.clientSends("PORT 192,168,77,10,195,81\r\n");  // dropped: the first is unacknowledged
  ASSERT_EQ(h.sim.packetsDropped(), 1u);
  // Linux retransmits from the first unacknowledged byte, both lines in one segment.
  h.sim.resend(true, firstOffset, 54);
  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 2u);
  EXPECT_EQ(adjustments[0].record, (SeqAdjRecord{first, 0, -2}));
  EXPECT_EQ(adjustments[1].record, (SeqAdjRecord{first, 0, -4}));
  h.sim.serverSends("200 PORT command successful.\r\n200 PORT command successful.\r\n");
  h.sim.clientSends("NOOP\r\n");
  EXPECT_EQ(
      h.sim.server().received,
      "USER anonymous\r\nPASS secret\r\nPORT 203,0,113,1,195,80\r\nPORT 203,0,113,1,195,81\r\nNOOP\r\n");
  h.expectConsistent();
}

TEST(EngineKernelOwned, ARetransmissionOfTheEditedSegmentGetsTheIdenticalRewriteAndNoNewAdjustment) {
  KernelHarness h(snatKey(), snatMapping());
  h.login();
  const std::uint64_t offset = h.sim.client().sent;
  const std::uint32_t raw = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  ASSERT_EQ(h.adjustments().size(), 1u);

  // The retransmission, submitted directly to see its verdict.
  testing::TcpPacketSpec spec;
  spec.src = snatKey().client;
  spec.dst = snatKey().server;
  spec.seq = raw;
  spec.ack = static_cast<std::uint32_t>(5000u + 1 + h.sim.client().received.size());
  spec.flags = tcp_flags::kAck | tcp_flags::kPsh;
  spec.payload = h.sim.client().sentStream.substr(static_cast<std::size_t>(offset));
  const std::vector<std::uint8_t> bytes = testing::buildTcpPacket(spec);
  Outcome out;
  testing::submitPacket(h.engine, h.resolver, 9999, bytes, h.sim.now(), out);
  EXPECT_TRUE(out.actions.empty());
  ASSERT_EQ(out.verdicts.size(), 1u);
  ASSERT_EQ(out.verdicts[0].kind, VerdictKind::AcceptModified);
  const auto view = PacketView::parse(out.verdicts[0].bytes);
  ASSERT_TRUE(view);
  EXPECT_EQ(std::string(view->payload().begin(), view->payload().end()), "PORT 203,0,113,1,195,80\r\n");
  EXPECT_EQ(view->seq().raw(), raw);  // the kernel places it (offsetBefore again)
  EXPECT_EQ(h.adjustments().size(), 1u);
  EXPECT_EQ(h.engine.stats().get(Stat::Rewrites), 1u);
}

TEST(EngineKernelOwned, ALineSplitInsideTheAddressIsReportedAtTheFirstSegment) {
  KernelHarness h(snatKey(), snatMapping());
  h.login();
  const std::uint32_t first = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n", testing::Segmentation{{9}});
  h.sim.serverSends("200 PORT command successful.\r\n");
  h.sim.clientSends("NOOP\r\n");
  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 1u);
  EXPECT_EQ(adjustments[0].record, (SeqAdjRecord{first, 0, -2}));
  EXPECT_EQ(h.sim.server().received, "USER anonymous\r\nPASS secret\r\nPORT 203,0,113,1,195,80\r\nNOOP\r\n");
  h.expectConsistent();
}

TEST(EngineKernelOwned, WithoutTheSeqadjExtensionALengthChangeIsRefused) {
  // Anchored but not NAT'ed: --anti-bounce peer would rewrite a foreign address to the client's.
  EngineConfig config;
  config.policy.antiBounce = AntiBounceMode::Peer;
  const FlowKey key{ep("198.51.100.20:40000"), ep("203.0.113.10:21")};
  const NatMapping nat{key.client, key.client, key.server, key.server};
  testing::FixedFlowResolver resolver(key, nat);
  resolver.sequenceOwner = SequenceOwner::Kernel;
  resolver.kernelSeqAdjust = false;
  Engine engine(config);
  SessionSim sim(engine, resolver, key.client, key.server, 1000u, 5000u);
  sim.kernelOwned(true);
  sim.handshake();
  sim.serverSends("220 hi\r\n");
  sim.clientSends("PORT 198,51,100,2,195,80\r\n");
  sim.serverSends("200 ok\r\n");
  EXPECT_EQ(sim.server().received, "PORT 198,51,100,2,195,80\r\n");
  const auto rejects = bodies<Reject>(sim.observations());
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0].reason, Reason::NoKernelSeqAdjust);
  EXPECT_EQ(engine.pinholeCount(), 0u);
  for (const Action& action : sim.actions())
    EXPECT_FALSE(std::holds_alternative<AdjustKernelSequence>(action));

  // An announcement that needs no change still gets its pinhole.
  sim.clientSends("PORT 198,51,100,20,195,81\r\n");
  EXPECT_EQ(engine.pinholeCount(), 1u);
}

TEST(EngineKernelOwned, FinAndRstDoNotEndTheSessionConntrackDestroyDoes) {
  KernelHarness h(snatKey(), snatMapping());
  h.login();
  h.sim.close();
  EXPECT_EQ(h.engine.stats().get(Stat::SessionsClosed), 0u);
  Outcome out;
  h.engine.onConntrackDestroyed(snatKey(), h.sim.now(), out);
  const auto closed = bodies<SessionClosedObs>(out.observations);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].reason, Reason::ConntrackDestroyed);
}

// The model that SessionSim, replay and fuzz_engine use for conntrack (nf_ct_seq_adjust), checked
// against the kernel's rules computed by hand: seq gets offsetAfter when after(seq, pos), else
// offsetBefore; the peer's ACK loses offsetAfter when after(ack - offsetBefore, pos), else
// offsetBefore.
TEST(KernelSeqAdjModel, AppliesOneCorrectionPointPerDirection) {
  KernelSeqAdjModel model;
  const auto packet = [](std::uint32_t seq, std::uint32_t ack, bool fromClient) {
    testing::TcpPacketSpec spec;
    spec.src = fromClient ? snatKey().client : snatKey().server;
    spec.dst = fromClient ? snatKey().server : snatKey().client;
    spec.seq = seq;
    spec.ack = ack;
    spec.flags = tcp_flags::kAck;
    spec.payload = "x";
    return testing::buildTcpPacket(spec);
  };
  const auto adjusted = [&](std::uint32_t seq, std::uint32_t ack, bool fromClient) {
    const std::vector<std::uint8_t> bytes = packet(seq, ack, fromClient);
    const auto view = PacketView::parse(bytes);
    const auto out = model.adjust(*view, fromClient ? Direction::ClientToServer : Direction::ServerToClient);
    const auto result = PacketView::parse(out ? *out : bytes);
    return std::pair<std::uint32_t, std::uint32_t>{result->seq().raw(), result->ack().raw()};
  };
  // Nothing written yet: unchanged.
  EXPECT_EQ(adjusted(1000, 7000, true), (std::pair<std::uint32_t, std::uint32_t>{1000, 7000}));
  model.update(Direction::ClientToServer, SeqAdjRecord{1000, -2, -4});
  EXPECT_EQ(adjusted(1000, 7000, true).first, 998u);  // the edited segment itself: offsetBefore
  EXPECT_EQ(adjusted(999, 7000, true).first, 997u);
  EXPECT_EQ(adjusted(1001, 7000, true).first, 997u);  // after it: offsetAfter
  // The server acknowledges the client's stream (output space).
  EXPECT_EQ(adjusted(7000, 997, false).second, 999u);   // 997 + 2 = 999, not after 1000
  EXPECT_EQ(adjusted(7000, 998, false).second, 1000u);  // 1000, not after 1000
  EXPECT_EQ(adjusted(7000, 999, false).second, 1003u);  // 1001 after 1000: + 4
  EXPECT_EQ(adjusted(7000, 1020, false).second, 1024u);
  // The other direction is untouched by this record.
  EXPECT_EQ(adjusted(7000, 1020, false).first, 7000u);
}

TEST(EngineAdopt, ATakenOverConnectionResumesAtTheNextLineStartFromTheKernelOffsets) {
  KernelHarness h(snatKey(), snatMapping(), 777u, 888u);
  KernelTakeover takeover = takeoverOf(snatKey(), snatMapping());
  takeover.clientToServer = SeqAdjRecord{777u - 1000u, -9, -12};
  // The previous instance's pinhole, still pending in the kernel.
  takeover.pending = PendingExpectation{ep("203.0.113.10:0").address, ep("203.0.113.1:50000"),
                                        ep("192.168.77.10:50000"), std::chrono::seconds(200)};
  Outcome out;
  h.engine.adopt(takeover, h.sim.now(), out);
  EXPECT_TRUE(out.actions.empty());  // the pending expectation is already in the kernel
  EXPECT_TRUE(bodies<AnomalyObs>(out.observations).empty());
  EXPECT_EQ(h.engine.pinholeCount(), 1u);

  // The connection as it goes on: the kernel already shifts the client's stream by -12.
  h.sim.primeKernel(Direction::ClientToServer, takeover.clientToServer);
  h.sim.handshake();
  h.sim.clientSends("ST /pub\r\n");  // the tail of a line sent before the takeover: skipped
  h.sim.serverSends("226 Directory send OK.\r\n");
  const std::uint32_t raw = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  h.sim.serverSends("200 PORT command successful.\r\n");
  h.sim.clientSends("LIST\r\n");

  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 1u);
  EXPECT_EQ(adjustments[0].record, (SeqAdjRecord{raw, -12, -14}));
  EXPECT_EQ(h.sim.server().received, "ST /pub\r\nPORT 203,0,113,1,195,80\r\nLIST\r\n");
  h.expectConsistent();
  // The new pinhole replaced the adopted one (closed through the backend, as any replaced one).
  EXPECT_EQ(h.count("close"), 1u);
  EXPECT_EQ(h.count("open"), 1u);
  EXPECT_EQ(h.engine.pinholeCount(), 1u);
  EXPECT_EQ(h.count("mark_verified"), 0u);  // known from the takeover
}

// A fail-back (docs/ha.md): the returning router's conntrackd deletes its stale entry (DESTROY:
// the session closes and lingers) and creates it again from the peer's state; the connection's next
// payload brings the takeover, which replaces the closed session and continues from the offsets.
TEST(EngineAdopt, AConnectionConntrackDestroyedAndCreatedAgainIsTakenOverAnew) {
  KernelHarness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  h.sim.serverSends("200 PORT command successful.\r\n");
  ASSERT_EQ(h.adjustments().size(), 1u);
  const SeqAdjRecord kernel = h.adjustments()[0].record;
  ASSERT_EQ(kernel.offsetAfter, -2);  // 192,168,77,10 -> 203,0,113,1

  Outcome out;
  h.engine.onConntrackDestroyed(snatKey(), h.sim.now(), out);
  ASSERT_EQ(bodies<SessionClosedObs>(out.observations).size(), 1u);
  out.clear();
  KernelTakeover takeover = takeoverOf(snatKey(), snatMapping());
  takeover.clientToServer = kernel;  // the same offsets, now from the peer's replicated entry
  h.engine.adopt(takeover, h.sim.now(), out);
  ASSERT_EQ(out.forgottenFlows.size(), 1u);  // the closed session's flow
  EXPECT_EQ(out.forgottenFlows[0], snatKey());
  EXPECT_EQ(bodies<SessionOpened>(out.observations).size(), 1u);
  EXPECT_EQ(h.engine.sessionCount(), 1u);
  EXPECT_EQ(h.engine.stats().get(Stat::SessionsOpened), 2u);

  h.sim.clientSends("NOOP\r\n");  // the first segment after a takeover may be a line's tail: skipped
  h.sim.serverSends("200 NOOP ok.\r\n");
  const std::uint32_t raw = nextRaw(h.sim.client());
  h.sim.clientSends("PORT 192,168,77,10,195,81\r\n");
  h.sim.serverSends("200 PORT command successful.\r\n");
  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 2u);
  EXPECT_EQ(adjustments[1].record, (SeqAdjRecord{raw, -2, -4}));
  EXPECT_TRUE(h.sim.server().received.ends_with("NOOP\r\nPORT 203,0,113,1,195,81\r\n"))
      << h.sim.server().received;
  h.expectConsistent();
}

// A session conntrack has not ended keeps its state: the takeover of the same key changes nothing
// (AFlowThatAlreadyHasASessionKeepsIt covers the engine-owned session; this one a kernel-owned one).
TEST(EngineAdopt, ALiveKernelOwnedSessionIsNotReplaced) {
  KernelHarness h(snatKey(), snatMapping());
  h.login();
  Outcome out;
  h.engine.adopt(takeoverOf(snatKey(), snatMapping()), h.sim.now(), out);
  EXPECT_TRUE(out.observations.empty());
  EXPECT_TRUE(out.forgottenFlows.empty());
  EXPECT_EQ(h.engine.stats().get(Stat::SessionsOpened), 1u);
}

TEST(EngineAdopt, ATakenOverPassiveSessionRewritesTheNext227) {
  KernelHarness h(dnatKey(), dnatMapping(), 777u, 888u);
  KernelTakeover takeover = takeoverOf(dnatKey(), dnatMapping());
  takeover.clientToServer = {};
  takeover.serverToClient = SeqAdjRecord{888u - 5000u, -16, -18};
  Outcome out;
  h.engine.adopt(takeover, h.sim.now(), out);
  h.sim.primeKernel(Direction::ServerToClient, takeover.serverToClient);
  h.sim.handshake();
  h.sim.clientSends("PASV\r\n");
  const std::uint32_t raw = nextRaw(h.sim.server());
  h.sim.serverSends("227 Entering Passive Mode (192,168,78,10,156,64).\r\n");
  h.sim.clientSends("LIST\r\n");
  const auto adjustments = h.adjustments();
  ASSERT_EQ(adjustments.size(), 1u);
  EXPECT_EQ(adjustments[0].direction, Direction::ServerToClient);
  EXPECT_EQ(adjustments[0].record, (SeqAdjRecord{raw, -18, -20}));
  EXPECT_EQ(h.sim.client().received, "227 Entering Passive Mode (203,0,113,1,156,64).\r\n");
  h.expectConsistent();
  EXPECT_EQ(h.engine.pinholeCount(), 1u);
}

}  // namespace
}  // namespace ftpalg
