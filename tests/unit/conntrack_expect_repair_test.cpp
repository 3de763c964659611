// The pure parts of the failover support (docs/ha.md): which replicated expectations lost their
// NAT, the expectation re-created in their place, and the takeover record of a connection met
// mid-stream. The expected values come from the kernel's rules stated in docs/design.md
// (#expectations-as-pinholes: nat-follow-master maps to the master's tuplehash[!dir]) and the
// lab's addresses, not from the code under test.
#include "io/conntrack_expect_repair.hpp"

#include <gtest/gtest.h>

#include "io/conntrack_takeover.hpp"

namespace ftpalg::io {
namespace {

Endpoint ep(const char* address, std::uint16_t port) { return Endpoint{*IpAddress::parse(address), port}; }

// Active mode behind SNAT: client 192.168.77.10 -> server 203.0.113.100:21, public 203.0.113.1.
ConntrackEntry snatMaster() {
  ConntrackEntry master;
  master.original = {ep("192.168.77.10", 40000), ep("203.0.113.100", 21)};
  master.reply = {ep("203.0.113.100", 21), ep("203.0.113.1", 40000)};
  master.status = ct_status::kSrcNat | ct_status::kHelper | ct_status::kSeqAdjust;
  master.mark = 0x00020000;
  master.helper = "sane";
  return master;
}

// Passive mode to a DNAT'd server: client 203.0.113.50 -> public 203.0.113.1:21 -> 192.168.77.20:21.
ConntrackEntry dnatMaster() {
  ConntrackEntry master;
  master.original = {ep("203.0.113.50", 41000), ep("203.0.113.1", 21)};
  master.reply = {ep("192.168.77.20", 21), ep("203.0.113.50", 41000)};
  master.status = ct_status::kDstNat | ct_status::kHelper;
  master.mark = 0x00020000;
  master.helper = "sane";
  return master;
}

ExpectationEntry replicated(const ConntrackEntry& master, const ConntrackTuple& tuple) {
  ExpectationEntry expectation;
  expectation.id = 7;
  expectation.master = master.original;
  expectation.tuple = tuple;
  expectation.timeoutSeconds = 297;
  return expectation;
}

TEST(ReplicatedExpectation, WithoutNatAndFunctionLacksNat) {
  ExpectationEntry expectation = replicated(snatMaster(), {ep("203.0.113.100", 0), ep("203.0.113.1", 50000)});
  EXPECT_TRUE(lacksNat(expectation));
  expectation.natDir = ConntrackDir::Reply;
  expectation.function = "nat-follow-master";
  EXPECT_FALSE(lacksNat(expectation));  // ftpalg's own: never touched
}

TEST(ReplicatedExpectation, PortPinholeForwardsToTheClientOnItsPublicPort) {
  const ConntrackEntry master = snatMaster();
  // The server dials the public address 203.0.113.1:50000 (PORT 203,0,113,1,195,80).
  const auto request =
      natRequestFor(replicated(master, {ep("203.0.113.100", 0), ep("203.0.113.1", 50000)}), master);
  ASSERT_TRUE(request) << request.error();
  EXPECT_EQ(request->master, master.original);
  EXPECT_EQ(request->tuple, (ConntrackTuple{ep("203.0.113.100", 0), ep("203.0.113.1", 50000)}));
  EXPECT_EQ(request->natDir, ConntrackDir::Reply);  // -> the master's ORIGINAL source, the client
  EXPECT_EQ(request->natPort, 50000);               // Q = P
  EXPECT_EQ(request->timeoutSeconds, 297u);
}

TEST(ReplicatedExpectation, PassivePinholeForwardsToTheDnatServer) {
  const ConntrackEntry master = dnatMaster();
  // The client dials the public address 203.0.113.1:30000 (227 ... 203,0,113,1,117,48).
  const auto request =
      natRequestFor(replicated(master, {ep("203.0.113.50", 0), ep("203.0.113.1", 30000)}), master);
  ASSERT_TRUE(request) << request.error();
  EXPECT_EQ(request->natDir, ConntrackDir::Original);  // -> the master's REPLY source, the server
  EXPECT_EQ(request->natPort, 30000);
}

TEST(ReplicatedExpectation, ATupleOfNeitherDirectionIsLost) {
  const ConntrackEntry master = snatMaster();
  const auto request =
      natRequestFor(replicated(master, {ep("198.51.100.9", 0), ep("203.0.113.1", 50000)}), master);
  ASSERT_FALSE(request);
  EXPECT_NE(request.error().find("neither direction"), std::string::npos) << request.error();
}

TEST(ReplicatedExpectation, AnotherMastersExpectationIsRefused) {
  const ConntrackEntry master = snatMaster();
  ExpectationEntry expectation = replicated(master, {ep("203.0.113.100", 0), ep("203.0.113.1", 50000)});
  expectation.master.src.port = 40001;
  EXPECT_FALSE(natRequestFor(expectation, master));
}

TEST(ReplicatedExpectation, AnExpiringTimerStaysPositive) {
  const ConntrackEntry master = snatMaster();
  ExpectationEntry expectation = replicated(master, {ep("203.0.113.100", 0), ep("203.0.113.1", 50000)});
  expectation.timeoutSeconds = 0;
  const auto request = natRequestFor(expectation, master);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->timeoutSeconds, 1u);
}

TEST(MidstreamTakeover, ReplicatedEntryCarriesItsOffsets) {
  ConntrackEntry master = snatMaster();
  master.seqAdjOriginal = SeqAdjRecord{1000, -2, -4};
  master.seqAdjReply = SeqAdjRecord{};
  const auto takeover = takeoverOf(master, TakeoverOptions{});
  ASSERT_TRUE(takeover);
  EXPECT_EQ(takeover->flow.key, (FlowKey{ep("192.168.77.10", 40000), ep("203.0.113.100", 21)}));
  EXPECT_EQ(takeover->clientToServer, (SeqAdjRecord{1000, -2, -4}));
  EXPECT_TRUE(takeover->flow.kernelSeqAdjust);
  EXPECT_EQ(takeover->flow.sequenceOwner, SequenceOwner::Kernel);
  master.helper = "ftp";  // the kernel's ftp helper: not ftpalg's anchor
  EXPECT_FALSE(takeoverOf(master, TakeoverOptions{}));
}

}  // namespace
}  // namespace ftpalg::io
