// TCP acceptability (include/ftpalg/tcp/tcp_window.hpp): each bound at its edge, the RST and FIN
// rules, and what a recorded segment moves. The engine-level behaviour is in engine_tcp_test.cpp.
#include "ftpalg/tcp/tcp_window.hpp"

#include <gtest/gtest.h>

namespace ftpalg {
namespace {

// A direction that sent 1000 bytes, of which its receiver acknowledged 900 and allowed up to
// 900 + 5000; the reverse direction sent 300, all acknowledged, with a window of 8000.
struct Connection {
  TcpDirectionWindow mine{1000, 900, 5900, 5000};
  TcpDirectionWindow theirs{300, 300, 8300, 8000};
};

TcpSegmentInfo data(std::int64_t seq, std::int64_t length, std::optional<std::int64_t> ack = 300) {
  TcpSegmentInfo segment;
  segment.seq = seq;
  segment.length = length;
  segment.ack = ack;
  if (ack) {
    segment.window = 8000;
    segment.windowEnd = *ack + 8000;
  }
  return segment;
}

TEST(TcpWindowPlausible, BoundIStopsAtTheReceiversRightEdge) {
  const Connection c;
  EXPECT_TRUE(tcpSegmentPlausible(data(5900, 10), c.mine, c.theirs));
  EXPECT_FALSE(tcpSegmentPlausible(data(5901, 10), c.mine, c.theirs));
}

TEST(TcpWindowPlausible, BoundIIStopsAWindowBeforeWhatWasSent) {
  const Connection c;  // sentEnd 1000, maxWindow 5000: the oldest plausible end is -4000
  EXPECT_TRUE(tcpSegmentPlausible(data(-4010, 10), c.mine, c.theirs));
  EXPECT_FALSE(tcpSegmentPlausible(data(-4011, 10), c.mine, c.theirs));
}

TEST(TcpWindowPlausible, BoundIIIRefusesAnAckOfUnsentData) {
  const Connection c;
  EXPECT_TRUE(tcpSegmentPlausible(data(1000, 0, 300), c.mine, c.theirs));
  EXPECT_FALSE(tcpSegmentPlausible(data(1000, 0, 301), c.mine, c.theirs));
}

TEST(TcpWindowPlausible, BoundIVAllowsTheLargerOfTheWindowAnd66000Behind) {
  Connection c;
  EXPECT_TRUE(tcpSegmentPlausible(data(1000, 0, 300 - 66000), c.mine, c.theirs));
  EXPECT_FALSE(tcpSegmentPlausible(data(1000, 0, 300 - 66001), c.mine, c.theirs));
  c.theirs.maxWindow = 100000;
  EXPECT_TRUE(tcpSegmentPlausible(data(1000, 0, 300 - 100000), c.mine, c.theirs));
  EXPECT_FALSE(tcpSegmentPlausible(data(1000, 0, 300 - 100001), c.mine, c.theirs));
}

TEST(TcpWindowPlausible, UnknownStateBoundsNothing) {
  const TcpDirectionWindow fresh;
  EXPECT_TRUE(tcpSegmentPlausible(data(123456789, 10, std::nullopt), fresh, fresh));
}

TEST(TcpWindowRecord, MovesOnlyForwardAndAdvertisesForTheOtherDirection) {
  Connection c;
  TcpSegmentInfo segment = data(1000, 50, 250);  // an older ACK
  segment.window = 9000;
  segment.windowEnd = 250 + 9000;
  tcpRecordSegment(segment, c.mine, c.theirs);
  EXPECT_EQ(c.mine.sentEnd, 1050);
  EXPECT_EQ(c.theirs.acked, 300) << "an older acknowledgement moved the acknowledged point back";
  EXPECT_EQ(c.theirs.windowEnd, 9250);
  EXPECT_EQ(c.theirs.maxWindow, 9000);
  tcpRecordSegment(data(10, 5, std::nullopt), c.mine, c.theirs);
  EXPECT_EQ(c.mine.sentEnd, 1050) << "a retransmission moved what was sent back";
  EXPECT_EQ(c.mine.acked, 900) << "a segment changed what its own receiver acknowledged";
}

TEST(TcpWindowReset, AcceptedFromTheAcknowledgedPointToWhatWasSent) {
  const Connection c;  // acked 900, sent 1000
  EXPECT_FALSE(tcpResetAcceptable(data(899, 0), c.mine, c.theirs));
  EXPECT_TRUE(tcpResetAcceptable(data(900, 0), c.mine, c.theirs));
  EXPECT_TRUE(tcpResetAcceptable(data(1000, 0), c.mine, c.theirs));
  EXPECT_FALSE(tcpResetAcceptable(data(1001, 0), c.mine, c.theirs));
  EXPECT_FALSE(tcpResetAcceptable(data(1000, 0, 301), c.mine, c.theirs)) << "bound III";
  EXPECT_TRUE(tcpResetAcceptable(data(1000, 0, std::nullopt), c.mine, c.theirs));
}

TEST(TcpWindowReset, AcknowledgedBeyondWhatWasSeenSentOnlyAtTheAcknowledgedPoint) {
  Connection c;
  c.mine.acked = 1200;  // the receiver acknowledged data the middlebox never saw sent
  EXPECT_TRUE(tcpResetAcceptable(data(1200, 0), c.mine, c.theirs));
  EXPECT_FALSE(tcpResetAcceptable(data(1000, 0), c.mine, c.theirs));
  EXPECT_FALSE(tcpResetAcceptable(data(1201, 0), c.mine, c.theirs));
}

// RFC 9293 §3.10.7.3: an RST answering a SYN is acceptable when it acknowledges exactly the SYN.
TEST(TcpWindowReset, BeforeAnyAcknowledgementOnlyOneAcknowledgingWhatTheReceiverSent) {
  TcpDirectionWindow mine;  // the server's direction: nothing acknowledged by the client yet
  TcpDirectionWindow theirs;
  theirs.sentEnd = 0;  // the client's SYN
  EXPECT_TRUE(tcpResetAcceptable(data(0, 0, 0), mine, theirs));
  EXPECT_FALSE(tcpResetAcceptable(data(0, 0, -1), mine, theirs));
  EXPECT_FALSE(tcpResetAcceptable(data(0, 0, 1), mine, theirs));
  EXPECT_FALSE(tcpResetAcceptable(data(0, 0, std::nullopt), mine, theirs));
}

TcpSegmentInfo fin(std::int64_t seq, std::int64_t payload = 0, std::optional<std::int64_t> ack = 300) {
  TcpSegmentInfo segment = data(seq, payload + 1, ack);
  segment.fin = true;
  return segment;
}

TEST(TcpWindowFin, InsideTheWindowAtOrAfterTheAcknowledgedPoint) {
  const Connection c;  // acked 900, right edge 5900
  EXPECT_TRUE(tcpFinAcceptable(fin(1000), c.mine, c.theirs));
  EXPECT_TRUE(tcpFinAcceptable(fin(5900), c.mine, c.theirs)) << "beyond a gap, inside the window";
  EXPECT_FALSE(tcpFinAcceptable(fin(5901), c.mine, c.theirs));
  EXPECT_TRUE(tcpFinAcceptable(fin(899), c.mine, c.theirs)) << "a retransmitted FIN already taken";
  EXPECT_FALSE(tcpFinAcceptable(fin(898), c.mine, c.theirs));
  EXPECT_TRUE(tcpFinAcceptable(fin(880, 20), c.mine, c.theirs)) << "its FIN lies at 900";
  EXPECT_FALSE(tcpFinAcceptable(fin(1000, 0, 301), c.mine, c.theirs)) << "bound III";
}

TEST(TcpWindowFin, NeverBeforeTheReceiverAcknowledgedAnythingNorWithoutTheFlag) {
  const Connection c;
  TcpDirectionWindow unacknowledged = c.mine;
  unacknowledged.acked.reset();
  EXPECT_FALSE(tcpFinAcceptable(fin(1000), unacknowledged, c.theirs));
  EXPECT_FALSE(tcpFinAcceptable(data(1000, 1), c.mine, c.theirs));
}

}  // namespace
}  // namespace ftpalg
