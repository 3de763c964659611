// Engine behaviour through simulated control connections (tests/support/session_sim.hpp):
// whole sessions, NAT cases, holding of split lines, seq/ack correctness, invariance.
#include "ftpalg/engine/engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "ftpalg/engine/static_flow_resolver.hpp"
#include "packet_builder.hpp"
#include "session_sim.hpp"

namespace ftpalg {
namespace {

using testing::ep;
using testing::ip;
using testing::Segmentation;
using testing::SessionSim;

// Client 192.168.77.10 masqueraded to 203.0.113.1; server 203.0.113.10
// (docs/adversarial-cases.md#example-network).
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

NatMapping v6Mapping() {
  return NatMapping{ep("[2001:db8:77::10]:40002"), ep("[2001:db8:77::10]:40002"), ep("[2001:db8:1::10]:21"),
                    ep("[2001:db8:1::10]:21")};
}
FlowKey v6Key() { return FlowKey{ep("[2001:db8:77::10]:40002"), ep("[2001:db8:1::10]:21")}; }

struct Harness {
  explicit Harness(FlowKey key, NatMapping nat, EngineConfig config = {})
      : resolver(key, nat),
        engine(config),
        sim(engine, resolver, key.client, key.server, 0x11223344u, 0xfffff000u) {}
  testing::FixedFlowResolver resolver;
  Engine engine;
  SessionSim sim;

  std::vector<Pinhole> opened() const {
    std::vector<Pinhole> result;
    for (const Action& action : sim.actions()) {
      if (const auto* open = std::get_if<OpenPinhole>(&action)) result.push_back(open->pinhole);
    }
    return result;
  }
  template <typename T>
  std::vector<T> observed() const {
    std::vector<T> result;
    for (const Observation& observation : sim.observations()) {
      if (const auto* body = std::get_if<T>(&observation.body)) result.push_back(*body);
    }
    return result;
  }
  void login() {
    sim.handshake();
    sim.serverSends("220 (vsFTPd 3.0.3)\r\n");
    sim.clientSends("USER anonymous\r\n");
    sim.serverSends("331 Please specify the password.\r\n");
    sim.clientSends("PASS secret-password\r\n");
    sim.serverSends("230 Login successful.\r\n");
  }
  // Every byte each peer sent arrived, every ACK a peer received covers exactly what it sent.
  void expectCleanTransport() const {
    EXPECT_EQ(sim.client().badChecksums, 0);
    EXPECT_EQ(sim.server().badChecksums, 0);
    EXPECT_FALSE(sim.client().ackBeyondSent);
    EXPECT_FALSE(sim.server().ackBeyondSent);
    EXPECT_EQ(sim.client().highestAckReceived, sim.client().sent + (sim.client().finSent ? 1 : 0));
    EXPECT_EQ(sim.server().highestAckReceived, sim.server().sent + (sim.server().finSent ? 1 : 0));
  }
};

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST(EngineActiveMode, PortThroughSnatIsRewrittenAndOpensOnePinhole) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  h.sim.serverSends("200 PORT command successful.\r\n");

  const auto rewrites = h.observed<Rewrite>();
  ASSERT_EQ(rewrites.size(), 1u);
  EXPECT_EQ(rewrites[0].before, "PORT 192,168,77,10,195,80");
  EXPECT_EQ(rewrites[0].after, "PORT 203,0,113,1,195,80");
  const auto pinholes = h.opened();
  ASSERT_EQ(pinholes.size(), 1u);
  EXPECT_EQ(pinholes[0].from, ip("203.0.113.10"));
  EXPECT_EQ(pinholes[0].to, ep("203.0.113.1:50000"));
  ASSERT_TRUE(pinholes[0].natTo.has_value());
  EXPECT_EQ(*pinholes[0].natTo, ep("192.168.77.10:50000"));
  EXPECT_EQ(pinholes[0].timeout, std::chrono::seconds(30));
  EXPECT_NE(h.sim.server().received.find("PORT 203,0,113,1,195,80\r\n"), std::string::npos);
  h.expectCleanTransport();
}

TEST(EngineActiveMode, WholeSessionKeepsSeqAndAckRightAfterLengthChangingRewrite) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  h.sim.serverSends("200 PORT command successful. Consider using PASV.\r\n");
  h.sim.clientSends("LIST\r\n");
  h.sim.serverSends("150 Here comes the directory listing.\r\n");
  h.sim.serverSends("226 Directory send OK.\r\n");
  h.sim.clientSends("EPRT |1|192.168.77.10|50001|\r\n");
  h.sim.serverSends("200 EPRT command successful.\r\n");
  h.sim.clientSends("RETR file.bin\r\n");
  h.sim.serverSends("150 Opening BINARY mode data connection for file.bin (1048576 bytes).\r\n");
  h.sim.serverSends("226 Transfer complete.\r\n");
  for (int i = 0; i < 50; ++i) {
    h.sim.clientSends("NOOP\r\n");
    h.sim.serverSends("200 NOOP ok.\r\n");
  }
  h.sim.clientSends("QUIT\r\n");
  h.sim.serverSends("221 Goodbye.\r\n");
  h.sim.close();

  std::string expectedAtServer = h.sim.client().sentStream;
  expectedAtServer = replaceAll(expectedAtServer, "PORT 192,168,77,10,195,80", "PORT 203,0,113,1,195,80");
  expectedAtServer = replaceAll(expectedAtServer, "|1|192.168.77.10|50001|", "|1|203.0.113.1|50001|");
  EXPECT_EQ(h.sim.server().received, expectedAtServer);
  EXPECT_EQ(h.sim.client().received, h.sim.server().sentStream);
  h.expectCleanTransport();
  ASSERT_EQ(h.opened().size(), 2u);
  EXPECT_EQ(h.opened()[1].to, ep("203.0.113.1:50001"));
  EXPECT_EQ(h.engine.stats().get(Stat::Rewrites), 2u);
  EXPECT_EQ(h.engine.stats().get(Stat::SessionsClosed), 1u);
  EXPECT_EQ(h.engine.pinholeCount(), 0u) << "pinholes are removed when the control connection closes";
}

TEST(EngineActiveMode, NewAnnouncementReplacesTheOutstandingPinhole) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  h.sim.serverSends("200 ok\r\n");
  h.sim.clientSends("PORT 192,168,77,10,195,81\r\n");
  h.sim.serverSends("200 ok\r\n");
  EXPECT_EQ(h.engine.pinholeCount(), 1u);
  int replaced = 0;
  for (const Action& action : h.sim.actions()) {
    if (const auto* close = std::get_if<ClosePinhole>(&action)) {
      EXPECT_EQ(close->reason, Reason::Replaced);
      EXPECT_EQ(close->pinhole.to, ep("203.0.113.1:50000"));
      ++replaced;
    }
  }
  EXPECT_EQ(replaced, 1);
}

TEST(EnginePassiveMode, Reply227FromDnatServerIsRewrittenToThePublicAddress) {
  Harness h(dnatKey(), dnatMapping());
  h.login();
  h.sim.clientSends("PASV\r\n");
  h.sim.serverSends("227 Entering Passive Mode (192,168,78,10,156,64).\r\n");
  h.sim.clientSends("RETR x\r\n");
  h.sim.serverSends("150 ok\r\n226 done\r\n");

  const auto rewrites = h.observed<Rewrite>();
  ASSERT_EQ(rewrites.size(), 1u);
  EXPECT_EQ(rewrites[0].dir, Direction::ServerToClient);
  EXPECT_EQ(rewrites[0].after, "227 Entering Passive Mode (203,0,113,1,156,64).");
  const auto pinholes = h.opened();
  ASSERT_EQ(pinholes.size(), 1u);
  EXPECT_EQ(pinholes[0].from, ip("198.51.100.20"));
  EXPECT_EQ(pinholes[0].to, ep("203.0.113.1:40000"));
  ASSERT_TRUE(pinholes[0].natTo);
  EXPECT_EQ(*pinholes[0].natTo, ep("192.168.78.10:40000"));
  EXPECT_EQ(h.sim.client().received,
            replaceAll(h.sim.server().sentStream, "(192,168,78,10,156,64)", "(203,0,113,1,156,64)"));
  h.expectCleanTransport();
}

TEST(EnginePassiveMode, EpsvToDnatServerOpensPinholeWithoutRewrite) {
  Harness h(dnatKey(), dnatMapping());
  h.login();
  h.sim.clientSends("EPSV\r\n");
  h.sim.serverSends("229 Entering Extended Passive Mode (|||40005|)\r\n");
  EXPECT_TRUE(h.observed<Rewrite>().empty());
  const auto pinholes = h.opened();
  ASSERT_EQ(pinholes.size(), 1u);
  EXPECT_EQ(pinholes[0].to, ep("203.0.113.1:40005"));
  EXPECT_EQ(*pinholes[0].natTo, ep("192.168.78.10:40005"));
  EXPECT_EQ(h.engine.stats().get(Stat::PacketsModified), 0u);
}

TEST(EngineIpv6, EprtAndEpsvOpenPinholesWithoutNatOrRewrite) {
  Harness h(v6Key(), v6Mapping());
  h.login();
  h.sim.clientSends("EPRT |2|2001:db8:77::10|50010|\r\n");
  h.sim.serverSends("200 EPRT command successful.\r\n");
  h.sim.clientSends("EPSV\r\n");
  h.sim.serverSends("229 Entering Extended Passive Mode (|||40010|)\r\n");
  const auto pinholes = h.opened();
  ASSERT_EQ(pinholes.size(), 2u);
  EXPECT_EQ(pinholes[0].from, ip("2001:db8:1::10"));
  EXPECT_EQ(pinholes[0].to, ep("[2001:db8:77::10]:50010"));
  EXPECT_FALSE(pinholes[0].natTo.has_value());
  EXPECT_EQ(pinholes[1].from, ip("2001:db8:77::10"));
  EXPECT_EQ(pinholes[1].to, ep("[2001:db8:1::10]:40010"));
  EXPECT_FALSE(pinholes[1].natTo.has_value());
  EXPECT_TRUE(h.observed<Rewrite>().empty());
  EXPECT_EQ(h.engine.stats().get(Stat::PacketsModified), 0u);
  h.expectCleanTransport();
}

TEST(EngineRefusals, BouncePortToThirdPartyOpensNothing) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 198,51,100,99,195,80\r\n");
  EXPECT_TRUE(h.opened().empty());
  const auto rejects = h.observed<Reject>();
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0].reason, Reason::AddressMismatch);
  EXPECT_EQ(h.sim.server().received.substr(h.sim.server().received.size() - 27),
            "PORT 198,51,100,99,195,80\r\n")
      << "a refused line passes unmodified";
}

TEST(EngineRefusals, PeerModeUsesThePeerAddressInsteadOfTheEmbeddedOne) {
  EngineConfig config;
  config.policy.antiBounce = AntiBounceMode::Peer;
  Harness h(snatKey(), snatMapping(), config);
  h.login();
  h.sim.clientSends("PORT 10,9,9,9,195,80\r\n");
  const auto pinholes = h.opened();
  ASSERT_EQ(pinholes.size(), 1u);
  EXPECT_EQ(*pinholes[0].natTo, ep("192.168.77.10:50000"));
  EXPECT_NE(h.sim.server().received.find("PORT 203,0,113,1,195,80\r\n"), std::string::npos);
}

TEST(EngineRefusals, DataPortBelowFloorAndPortZeroAreRefused) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,0,22\r\n");
  h.sim.clientSends("PORT 192,168,77,10,0,0\r\n");
  EXPECT_TRUE(h.opened().empty());
  const auto rejects = h.observed<Reject>();
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_EQ(rejects[0].reason, Reason::PortBelowFloor);
  EXPECT_EQ(rejects[1].reason, Reason::PortZero);
}

TEST(EngineRefusals, UnsolicitedReply227OpensNothing) {
  Harness h(dnatKey(), dnatMapping());
  h.login();
  h.sim.serverSends("227 Entering Passive Mode (192,168,78,10,156,64).\r\n");
  EXPECT_TRUE(h.opened().empty());
  ASSERT_EQ(h.observed<Reject>().size(), 1u);
  EXPECT_EQ(h.observed<Reject>()[0].reason, Reason::UnsolicitedReply);
}

// Found by fuzz_engine: a 227 whose first segment arrives while the PASV is still incomplete is
// not held (no reply can be an announcement yet), so its address leaves unrewritten. When the
// PASV then completes and the 227 line ends, rewriting it would shift every later byte (the
// client would lose two bytes of "200 OK.") and open a pinhole for an address already sent.
TEST(EngineRefusals, Reply227BegunBeforeItsPasvWasCompleteIsNeitherRewrittenNorOpened) {
  Harness h(dnatKey(), dnatMapping());
  h.login();
  h.sim.clientSends("PASV");
  h.sim.serverSends("227 Entering Passive Mode (192,168,78,10,156,64).");
  h.sim.clientSends("\r\n");
  h.sim.serverSends("\r\n200 OK.\r\n");
  EXPECT_TRUE(h.opened().empty());
  EXPECT_TRUE(h.observed<Rewrite>().empty());
  ASSERT_EQ(h.observed<Reject>().size(), 1u);
  EXPECT_EQ(h.observed<Reject>()[0].reason, Reason::AnnouncementNotHeld);
  EXPECT_EQ(h.sim.client().received, h.sim.server().sentStream);
  h.expectCleanTransport();
}

// The same order with the PASV complete first: the partial 227 is held and rewritten.
TEST(EngineRefusals, Reply227SplitAfterACompletePasvIsRewritten) {
  Harness h(dnatKey(), dnatMapping());
  h.login();
  h.sim.clientSends("PASV\r\n");
  h.sim.serverSends("227 Entering Passive Mode (192,168,78,10,156,64).");
  h.sim.serverSends("\r\n200 OK.\r\n");
  EXPECT_EQ(h.opened().size(), 1u);
  EXPECT_EQ(h.observed<Rewrite>().size(), 1u);
  EXPECT_TRUE(h.observed<Reject>().empty());
  EXPECT_NE(h.sim.client().received.find("227 Entering Passive Mode (203,0,113,1,156,64).\r\n200 OK.\r\n"),
            std::string::npos);
  h.expectCleanTransport();
}

TEST(EngineRefusals, ClientSpeakingBeforeGreetingIsNeverFtp) {
  Harness h(snatKey(), snatMapping());
  h.sim.handshake();
  h.sim.clientSends("POST / HTTP/1.1\r\nHost: x\r\n\r\nPORT 192,168,77,10,195,80\r\n");
  h.sim.serverSends("220 hello\r\n");
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  EXPECT_TRUE(h.opened().empty());
  const auto anomalies = h.observed<AnomalyObs>();
  ASSERT_FALSE(anomalies.empty());
  EXPECT_EQ(anomalies[0].reason, Reason::ClientSpokeFirst);
  EXPECT_TRUE(anomalies[0].inspectionStopped);
}

TEST(EngineRefusals, OverlongLineStopsInspection) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("SITE " + std::string(600, 'a') + "\r\n");
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  EXPECT_TRUE(h.opened().empty());
  const auto anomalies = h.observed<AnomalyObs>();
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(anomalies[0].reason, Reason::LineTooLong);
}

TEST(EngineTls, AuthTlsAnswered234MakesTheFlowOpaque) {
  Harness h(snatKey(), snatMapping());
  h.sim.handshake();
  h.sim.serverSends("220 hello\r\n");
  h.sim.clientSends("AUTH TLS\r\n");
  h.sim.serverSends("234 Proceed with negotiation.\r\n");
  // A TLS application-data record whose bytes happen to spell a PORT command.
  std::string record("\x17\x03\x03\x00\x1d", 5);
  record += "PORT 192,168,77,10,195,80\r\n\r\n";
  h.sim.clientSends(record);
  EXPECT_TRUE(h.opened().empty());
  const auto opaque = h.observed<OpaqueObs>();
  ASSERT_EQ(opaque.size(), 1u);
  EXPECT_EQ(opaque[0].reason, Reason::TlsNegotiated);
}

TEST(EngineStream, PortSplitAcrossSegmentsIsHeldThenRewrittenOnce) {
  Harness h(snatKey(), snatMapping());
  h.login();
  const std::string port = "PORT 192,168,77,10,195,80\r\n";
  h.sim.clientSends(port, Segmentation{{2, 11}});
  EXPECT_EQ(h.opened().size(), 1u);
  EXPECT_EQ(h.engine.stats().get(Stat::Rewrites), 1u);
  EXPECT_GE(h.engine.stats().get(Stat::PacketsHeld), 1u);
  EXPECT_EQ(h.sim.packetsHeldNow(), 0u);
  EXPECT_NE(h.sim.server().received.find("PORT 203,0,113,1,195,80\r\n"), std::string::npos);
  h.sim.serverSends("200 ok\r\n");
  h.expectCleanTransport();
}

// A pure ACK from the announcer whose seq lies past held announcement bytes (live: the server's
// tail loss probe re-sends its last reply while the first half of a PORT is held, and the client
// acknowledges it) releases no payload: it must not count as emitted, or the completed PORT is
// refused as announcement_not_held and leaves unrewritten.
TEST(EngineStream, PureAckPastHeldPortBytesDoesNotReleaseTheAnnouncement) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,7");
  EXPECT_EQ(h.sim.packetsHeldNow(), 1u);
  h.sim.serverSends("220-probe\r\n");  // the client answers it with a pure ACK (seq past the held bytes)
  h.sim.clientSends("7,10,195,80\r\n");
  EXPECT_TRUE(h.observed<Reject>().empty());
  EXPECT_EQ(h.engine.stats().get(Stat::Rewrites), 1u);
  EXPECT_EQ(h.opened().size(), 1u);
  EXPECT_NE(h.sim.server().received.find("PORT 203,0,113,1,195,80\r\n"), std::string::npos);
}

TEST(EngineStream, IncompleteAnnouncementIsReleasedUnmodifiedAfterHoldTimeout) {
  Harness h(snatKey(), snatMapping());
  h.login();
  // Send only the first part of a PORT line; the rest never comes.
  h.sim.clientSends("PORT 192,168,");
  EXPECT_EQ(h.sim.packetsHeldNow(), 1u);
  h.sim.advanceTime(std::chrono::seconds(5));
  h.sim.timer();
  EXPECT_EQ(h.sim.packetsHeldNow(), 0u);
  EXPECT_TRUE(h.opened().empty());
  const auto anomalies = h.observed<AnomalyObs>();
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(anomalies[0].reason, Reason::HoldTimeout);
}

TEST(EngineStream, RetransmittedRewrittenSegmentGetsIdenticalRewriteAndNoSecondPinhole) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n", Segmentation{{}, false, true});
  EXPECT_EQ(h.opened().size(), 1u);
  EXPECT_EQ(h.engine.stats().get(Stat::Rewrites), 1u);
  EXPECT_EQ(h.engine.stats().get(Stat::PacketsModified) >= 2u, true);
  h.sim.serverSends("200 ok\r\n");
  h.expectCleanTransport();
}

TEST(EngineStream, SequenceNumbersWrappingMidSessionStayCorrect) {
  EngineConfig config;
  testing::FixedFlowResolver resolver(snatKey(), snatMapping());
  Engine engine(config);
  SessionSim sim(engine, resolver, snatKey().client, snatKey().server, 0xffffff00u, 0xffffffe0u);
  sim.handshake();
  sim.serverSends("220 hi\r\n");
  for (int i = 0; i < 20; ++i) {
    sim.clientSends("PORT 192,168,77,10,195," + std::to_string(80 + i) + "\r\n");
    sim.serverSends("200 PORT command successful, and some padding to move the sequence.\r\n");
  }
  EXPECT_EQ(engine.stats().get(Stat::Rewrites), 20u);
  EXPECT_EQ(sim.client().highestAckReceived, sim.client().sent);
  EXPECT_FALSE(sim.client().ackBeyondSent);
  std::string expected = sim.client().sentStream;
  expected = replaceAll(expected, "PORT 192,168,77,10,", "PORT 203,0,113,1,");
  EXPECT_EQ(sim.server().received, expected);
}

// --- Segmentation invariance (docs/design.md#stream-not-packets: a property test) ---------------

struct Message {
  bool fromClient;
  std::string bytes;
};

std::vector<Message> referenceSession() {
  return {
      {false, "220 (vsFTPd 3.0.3)\r\n"},
      {true, "USER anonymous\r\n"},
      {false, "331 Please specify the password.\r\n"},
      {true, "PASS x\r\n"},
      {false, "230-Welcome\r\n227 not an announcement (1,2,3,4,5,6)\r\n230 Login successful.\r\n"},
      {true, "TYPE I\r\nPORT 192,168,77,10,195,80\r\nLIST\r\n"},
      {false, "200 Switching to Binary mode.\r\n200 PORT command successful.\r\n150 Here.\r\n226 Done.\r\n"},
      {true, "EPRT |1|192.168.77.10|50001|\r\n"},
      {false, "200 EPRT command successful.\r\n"},
      {true, "PASV\r\n"},
      {false, "227 Entering Passive Mode (203,0,113,10,156,64).\r\n"},
      {true, "QUIT\r\n"},
      {false, "221 Goodbye.\r\n"},
  };
}

struct RunResult {
  std::vector<std::string> decisions;
  std::vector<std::string> actions;
  std::string atServer;
  std::string atClient;
  bool cleanAcks = false;
};

RunResult runSession(const std::vector<Message>& messages,
                     const std::function<Segmentation(std::size_t, const Message&)>& plan) {
  testing::FixedFlowResolver resolver(snatKey(), snatMapping());
  EngineConfig config;
  config.limits.maxHeldPackets = 1024;  // one-byte segments sent twice: ~100 held per line
  Engine engine(config);
  SessionSim sim(engine, resolver, snatKey().client, snatKey().server, 0x01020304u, 0x0a0b0c0du);
  sim.handshake();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Segmentation segmentation = plan(i, messages[i]);
    if (messages[i].fromClient) {
      sim.clientSends(messages[i].bytes, segmentation);
    } else {
      sim.serverSends(messages[i].bytes, segmentation);
    }
  }
  RunResult result;
  result.decisions = testing::describe(sim.observations());
  for (const Action& action : sim.actions()) result.actions.push_back(testing::describe(action));
  result.atServer = sim.server().received;
  result.atClient = sim.client().received;
  result.cleanAcks = sim.client().highestAckReceived == sim.client().sent &&
                     sim.server().highestAckReceived == sim.server().sent && !sim.client().ackBeyondSent &&
                     !sim.server().ackBeyondSent && sim.client().badChecksums == 0 &&
                     sim.server().badChecksums == 0;
  return result;
}

TEST(EngineInvariance, ReferenceSessionHasTheExpectedDecisions) {
  const RunResult whole =
      runSession(referenceSession(), [](std::size_t, const Message&) { return Segmentation{}; });
  EXPECT_TRUE(whole.cleanAcks);
  EXPECT_EQ(whole.actions.size(), 5u);  // open (PORT), close + open (EPRT), close + open (227)
  EXPECT_NE(whole.atServer.find("PORT 203,0,113,1,195,80\r\n"), std::string::npos);
  EXPECT_NE(whole.atServer.find("EPRT |1|203.0.113.1|50001|\r\n"), std::string::npos);
}

TEST(EngineInvariance, SplittingAnyMessageAtAnyByteGivesIdenticalDecisionsAndStreams) {
  const auto messages = referenceSession();
  const RunResult reference =
      runSession(messages, [](std::size_t, const Message&) { return Segmentation{}; });
  for (std::size_t target = 0; target < messages.size(); ++target) {
    for (std::size_t cut = 1; cut < messages[target].bytes.size(); ++cut) {
      const RunResult split = runSession(messages, [&](std::size_t i, const Message&) {
        return i == target ? Segmentation{{cut}} : Segmentation{};
      });
      ASSERT_EQ(split.decisions, reference.decisions) << "message " << target << " cut at " << cut;
      ASSERT_EQ(split.actions, reference.actions) << "message " << target << " cut at " << cut;
      ASSERT_EQ(split.atServer, reference.atServer) << "message " << target << " cut at " << cut;
      ASSERT_EQ(split.atClient, reference.atClient) << "message " << target << " cut at " << cut;
      ASSERT_TRUE(split.cleanAcks) << "message " << target << " cut at " << cut;
    }
  }
}

TEST(EngineInvariance, OneByteSegmentsDuplicatesAndReorderingGiveIdenticalResults) {
  const auto messages = referenceSession();
  const RunResult reference =
      runSession(messages, [](std::size_t, const Message&) { return Segmentation{}; });
  const auto everyByte = [](const Message& m) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < m.bytes.size(); ++i) cuts.push_back(i);
    return cuts;
  };
  const std::vector<std::function<Segmentation(std::size_t, const Message&)>> plans = {
      [&](std::size_t, const Message& m) { return Segmentation{everyByte(m)}; },
      [&](std::size_t, const Message& m) {
        return Segmentation{everyByte(m), false, true};
      },
      [&](std::size_t, const Message& m) {
        return Segmentation{{m.bytes.size() / 2}, true, false};
      },
      [&](std::size_t, const Message& m) {
        return Segmentation{{m.bytes.size() / 3, 2 * m.bytes.size() / 3}, true, true};
      },
  };
  for (std::size_t p = 0; p < plans.size(); ++p) {
    const RunResult result = runSession(messages, plans[p]);
    EXPECT_EQ(result.decisions, reference.decisions) << "plan " << p;
    EXPECT_EQ(result.actions, reference.actions) << "plan " << p;
    EXPECT_EQ(result.atServer, reference.atServer) << "plan " << p;
    EXPECT_EQ(result.atClient, reference.atClient) << "plan " << p;
    EXPECT_TRUE(result.cleanAcks) << "plan " << p;
  }
}

TEST(EngineInvariance, RandomSegmentationsGiveIdenticalResults) {
  const auto messages = referenceSession();
  const RunResult reference =
      runSession(messages, [](std::size_t, const Message&) { return Segmentation{}; });
  std::mt19937 random(20261123);
  for (int round = 0; round < 200; ++round) {
    const RunResult result = runSession(messages, [&](std::size_t, const Message& m) {
      Segmentation s;
      const int pieces = static_cast<int>(random() % 5);
      for (int i = 0; i < pieces; ++i) s.cuts.push_back(1 + random() % (m.bytes.size() - 1));
      s.reverseOrder = random() % 4 == 0;
      s.duplicateEach = random() % 4 == 0;
      return s;
    });
    ASSERT_EQ(result.decisions, reference.decisions) << "round " << round;
    ASSERT_EQ(result.atServer, reference.atServer) << "round " << round;
    ASSERT_EQ(result.atClient, reference.atClient) << "round " << round;
    ASSERT_TRUE(result.cleanAcks) << "round " << round;
  }
}

}  // namespace
}  // namespace ftpalg

namespace ftpalg {
namespace {

TEST(EngineTime, IdleSessionClosesItsPinholeButKeepsTranslatingWhenItResumes) {
  EngineConfig config;
  config.limits.sessionIdleTimeout = std::chrono::seconds(10);
  config.policy.pinholeTimeout = std::chrono::seconds(300);
  Harness h(snatKey(), snatMapping(), config);
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");  // 2 bytes shorter after the rewrite
  h.sim.serverSends("200 ok\r\n");
  h.sim.advanceTime(std::chrono::seconds(60));
  h.sim.timer();
  EXPECT_EQ(h.engine.pinholeCount(), 0u);
  ASSERT_EQ(h.observed<SessionClosedObs>().size(), 1u);
  EXPECT_EQ(h.observed<SessionClosedObs>()[0].reason, Reason::IdleTimeout);
  EXPECT_EQ(h.engine.sessionCount(), 1u) << "the translation outlives the idle close";
  h.sim.clientSends("NOOP\r\n");
  h.sim.serverSends("200 NOOP ok\r\n");
  h.sim.clientSends("PORT 192,168,77,10,195,81\r\n");
  EXPECT_EQ(h.opened().size(), 1u) << "an idle-closed session is no longer inspected";
  EXPECT_EQ(h.sim.server().received,
            replaceAll(h.sim.client().sentStream, "PORT 192,168,77,10,195,80", "PORT 203,0,113,1,195,80"));
  h.expectCleanTransport();
}

TEST(EngineTime, IdleSessionWithoutTranslationIsForgotten) {
  EngineConfig config;
  config.limits.sessionIdleTimeout = std::chrono::seconds(10);
  Harness h(snatKey(), snatMapping(), config);
  h.login();
  h.sim.advanceTime(std::chrono::seconds(60));
  h.sim.timer();
  EXPECT_EQ(h.engine.sessionCount(), 0u);
  EXPECT_EQ(h.resolver.forgetCalls, 1);
}

// A table larger than one sweep slice is swept over several timer calls within the scan
// interval: no single call visits every session, and every session is visited (here: idle-closed
// and forgotten) exactly once within about one interval.
TEST(EngineTime, LargeTableIsSweptInSlicesThatTogetherVisitEverySession) {
  EngineConfig config;
  config.limits.sessionIdleTimeout = std::chrono::seconds(10);
  StaticFlowResolver resolver(StaticNatRules{});
  Engine engine(config);
  constexpr std::size_t kSessions = 20000;
  Timestamp now{1'000'000'000};
  Outcome out;
  for (std::size_t i = 0; i < kSessions; ++i) {
    testing::TcpPacketSpec syn;
    syn.src = Endpoint{ip("192.0.2.1"), static_cast<std::uint16_t>(1024 + i)};
    syn.dst = ep("198.51.100.10:21");
    syn.seq = static_cast<std::uint32_t>(i * 7919u);
    syn.flags = tcp_flags::kSyn;
    testing::submitPacket(engine, resolver, i + 1, testing::buildTcpPacket(syn), now, out);
  }
  ASSERT_EQ(engine.sessionCount(), kSessions);
  now = now + std::chrono::seconds(60);
  out.clear();
  engine.onTimer(now, out);
  const std::size_t afterFirstCall = engine.sessionCount();
  EXPECT_GT(afterFirstCall, 0u) << "one call swept the whole table";
  EXPECT_LT(afterFirstCall, kSessions) << "the first slice visited nothing";
  for (int step = 0; step < 110 && engine.sessionCount() > 0; ++step) {
    now = now + std::chrono::milliseconds(10);
    engine.onTimer(now, out);
  }
  EXPECT_EQ(engine.sessionCount(), 0u) << "a full interval of slices left sessions unvisited";
  std::size_t idleCloses = 0;
  for (const Observation& observation : out.observations) {
    if (const auto* closed = std::get_if<SessionClosedObs>(&observation.body)) {
      idleCloses += closed->reason == Reason::IdleTimeout ? 1 : 0;
    }
  }
  EXPECT_EQ(idleCloses, kSessions);
}

TEST(EngineTime, UnusedPinholeExpiresAfterItsTimeout) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  h.sim.advanceTime(std::chrono::seconds(29));
  h.sim.timer();
  EXPECT_EQ(h.engine.pinholeCount(), 1u);
  h.sim.advanceTime(std::chrono::seconds(2));
  h.sim.timer();
  EXPECT_EQ(h.engine.pinholeCount(), 0u);
  const auto closed = h.observed<PinholeClosed>();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].reason, Reason::Expired);
}

TEST(EngineRefusals, PortNamingTheRouterItselfIsRefused) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PORT 203,0,113,1,195,80\r\n");
  EXPECT_TRUE(h.opened().empty());
  ASSERT_EQ(h.observed<Reject>().size(), 1u);
  EXPECT_EQ(h.observed<Reject>()[0].reason, Reason::AddressMismatch);
}

// Engine::snapshot (ftpalg status): the session with its offsets, the pinhole, the counters.
TEST(EngineSnapshot, ShowsTheSessionItsOffsetsThePendingPassiveReplyAndThePinhole) {
  Harness h(snatKey(), snatMapping());
  h.login();
  h.sim.clientSends("PASV\r\n");
  EngineSnapshot pending = h.engine.snapshot(h.sim.now());
  ASSERT_EQ(pending.sessions.size(), 1u);
  EXPECT_EQ(pending.sessions[0].flow, snatKey());
  EXPECT_EQ(pending.sessions[0].channel, ChannelState::Inspecting);
  EXPECT_TRUE(pending.sessions[0].awaitingPassiveReply);
  EXPECT_TRUE(pending.pinholes.empty());
  // The client sent "USER anonymous\r\n" (16), "PASS secret-password\r\n" (22), "PASV\r\n" (6).
  EXPECT_EQ(pending.sessions[0].clientToServer.delivered, 16 + 22 + 6);
  EXPECT_EQ(pending.sessions[0].clientToServer.emitted, 16 + 22 + 6);

  h.sim.serverSends("227 Entering Passive Mode (203,0,113,10,195,80).\r\n");
  const EngineSnapshot open = h.engine.snapshot(h.sim.now());
  ASSERT_EQ(open.sessions.size(), 1u);
  EXPECT_FALSE(open.sessions[0].awaitingPassiveReply);
  ASSERT_EQ(open.pinholes.size(), 1u);
  EXPECT_EQ(open.sessions[0].pinholeId, std::optional<std::uint64_t>(open.pinholes[0].id));
  EXPECT_EQ(open.pinholes[0].from, ip("192.168.77.10"));
  EXPECT_EQ(open.pinholes[0].to, ep("203.0.113.10:50000"));
  EXPECT_EQ(open.stats.get(Stat::PinholesOpened), 1u);
  EXPECT_EQ(open.stats.get(Stat::SessionsOpened), 1u);
}

// Engine::reconfigure (SIGHUP): a lower --max-sessions refuses the next session, the running one
// stays and keeps working.
TEST(EngineReconfigure, NewLimitsApplyAndTheRunningSessionStays) {
  Harness h(snatKey(), snatMapping());
  h.login();
  Limits limits;
  limits.maxSessions = 1;
  Policy policy;
  policy.dataPortFloor = 2000;
  h.engine.reconfigure(policy, limits);
  EXPECT_EQ(h.engine.config().limits.maxSessions, 1u);
  EXPECT_EQ(h.engine.sessionCount(), 1u);
  // The new port floor applies to the running session: 1080 is now refused.
  h.sim.clientSends("PORT 192,168,77,10,4,56\r\n");
  EXPECT_TRUE(h.opened().empty());
  EXPECT_EQ(h.engine.stats().get(Stat::Rejects), 1u);
  h.sim.clientSends("PORT 192,168,77,10,195,80\r\n");
  EXPECT_EQ(h.opened().size(), 1u);
}

}  // namespace
}  // namespace ftpalg
