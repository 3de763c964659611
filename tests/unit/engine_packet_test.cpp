// Engine behaviour on packets built by hand (tests/support/packet_builder.hpp), given to the engine
// one at a time as live mode gives them (AckSpace::Output: every ACK and SACK edge is in the
// receiver's space), each verdict checked field by field: checksums verified before inspection,
// the MSS cap, out-of-order segments and SACK edges.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ftpalg/engine/engine.hpp"
#include "ftpalg/packet/packet_view.hpp"
#include "packet_builder.hpp"
#include "session_sim.hpp"

namespace ftpalg {
namespace {

using testing::ep;
using testing::TcpPacketSpec;

// One control connection driven packet by packet. Offsets are stream offsets (ISN + 1 + offset):
// a peer's seq is always in its own ORIGINAL space (what it sent), its ACK in its receive space
// (the other direction's OUTPUT space), as real endpoints behind the gateway do.
class Wire {
 public:
  static constexpr std::uint32_t kClientIsn = 0x11223344;
  static constexpr std::uint32_t kServerIsn = 0xfffff000;  // wraps after 4 KiB of server data

  Wire(FlowKey key, NatMapping nat, EngineConfig config = {})
      : key_(key), resolver_(key, nat), engine_(config) {}

  Engine& engine() { return engine_; }
  std::uint64_t stat(Stat stat) const { return engine_.stats().get(stat); }

  // A segment of the client (fromClient) or the server with `payload` at stream offset `offset`,
  // acknowledging `ack` bytes of the other side; flags ACK|PSH (just ACK without payload).
  TcpPacketSpec segment(bool fromClient, std::uint32_t offset, std::string payload, std::uint32_t ack) const {
    TcpPacketSpec spec;
    spec.src = fromClient ? key_.client : key_.server;
    spec.dst = fromClient ? key_.server : key_.client;
    spec.seq = (fromClient ? kClientIsn : kServerIsn) + 1 + offset;
    spec.ack = (fromClient ? kServerIsn : kClientIsn) + 1 + ack;
    spec.flags = payload.empty() ? tcp_flags::kAck : tcp_flags::kAck | tcp_flags::kPsh;
    spec.payload = std::move(payload);
    return spec;
  }

  // Gives the engine one packet; returns what it decided in that call.
  Outcome submit(const std::vector<std::uint8_t>& bytes) {
    Outcome out;
    testing::submitPacket(engine_, resolver_, nextId_++, bytes, now_, out);
    for (const Action& action : out.actions) actions_.push_back(action);
    for (const Observation& observation : out.observations) observations_.push_back(observation);
    return out;
  }
  Outcome submit(const TcpPacketSpec& spec) { return submit(testing::buildTcpPacket(spec)); }
  PacketId lastId() const { return nextId_ - 1; }
  // Lets `elapsed` pass and runs the engine's timers.
  Outcome timer(Duration elapsed) {
    now_ = now_ + elapsed;
    Outcome out;
    engine_.onTimer(now_, out);
    for (const Observation& observation : out.observations) observations_.push_back(observation);
    return out;
  }

  // SYN (client MSS, SACK permitted), SYN-ACK (server MSS), ACK; then the greeting and a login,
  // each line acknowledged. Leaves both streams at the offsets clientSent/serverSent.
  void handshakeAndLogin(std::uint16_t clientMss = 1460, std::uint16_t serverMss = 1460) {
    TcpPacketSpec syn = segment(true, 0, "", 0);
    syn.seq = kClientIsn;
    syn.ack = 0;
    syn.flags = tcp_flags::kSyn;
    syn.mss = clientMss;
    syn.sackPermitted = true;
    submit(syn);
    TcpPacketSpec synAck = segment(false, 0, "", 0);
    synAck.seq = kServerIsn;
    synAck.flags = tcp_flags::kSyn | tcp_flags::kAck;
    synAck.mss = serverMss;
    synAck.sackPermitted = true;
    submit(synAck);
    submit(segment(true, 0, "", 0));
    exchange(false, "220 (vsFTPd 3.0.3)\r\n");
    exchange(true, "USER anonymous\r\n");
    exchange(false, "331 Please specify the password.\r\n");
    exchange(true, "PASS secret\r\n");
    exchange(false, "230 Login successful.\r\n");
  }

  // What `fromClient`'s peer has received from the other side, in its receive (output) space.
  std::uint32_t received(bool fromClient) const {
    return fromClient ? serverSent + static_cast<std::uint32_t>(serverDelta)
                      : clientSent + static_cast<std::uint32_t>(clientDelta);
  }
  // The next segment of a peer: its whole unsent `message`, acknowledging what it received.
  TcpPacketSpec next(bool fromClient, std::string message) const {
    return segment(fromClient, fromClient ? clientSent : serverSent, std::move(message),
                   received(fromClient));
  }
  // One whole message in one segment, then the receiver's pure ACK. Returns the outcome of the
  // message's segment.
  Outcome exchange(bool fromClient, const std::string& message) {
    Outcome out = submit(next(fromClient, message));
    (fromClient ? clientSent : serverSent) += static_cast<std::uint32_t>(message.size());
    submit(next(!fromClient, ""));
    return out;
  }

  template <typename T>
  std::vector<T> observed() const {
    std::vector<T> result;
    for (const Observation& observation : observations_) {
      if (const auto* body = std::get_if<T>(&observation.body)) result.push_back(*body);
    }
    return result;
  }
  std::vector<Pinhole> opened() const {
    std::vector<Pinhole> result;
    for (const Action& action : actions_) {
      if (const auto* open = std::get_if<OpenPinhole>(&action)) result.push_back(open->pinhole);
    }
    return result;
  }

  // Bytes each peer sent (original space), and how much longer (or shorter) the edits made each
  // direction's stream so far (set by the tests that make a rewrite).
  std::uint32_t clientSent = 0;
  std::uint32_t serverSent = 0;
  std::int32_t clientDelta = 0;
  std::int32_t serverDelta = 0;

 private:
  FlowKey key_;
  testing::FixedFlowResolver resolver_;
  Engine engine_;
  Timestamp now_{1'000'000'000};
  PacketId nextId_ = 1;
  std::vector<Action> actions_;
  std::vector<Observation> observations_;
};

// Client 192.168.77.10 masqueraded to 203.0.113.1; server 203.0.113.10
// (docs/adversarial-cases.md#example-network). "PORT 192,168,77,10,..." becomes
// "PORT 203,0,113,1,...": 2 bytes shorter.
FlowKey snatKey() { return FlowKey{ep("192.168.77.10:40000"), ep("203.0.113.10:21")}; }
NatMapping snatMapping() {
  return NatMapping{ep("192.168.77.10:40000"), ep("203.0.113.1:40000"), ep("203.0.113.10:21"),
                    ep("203.0.113.10:21")};
}
const std::string kPortLine = "PORT 192,168,77,10,195,80\r\n";
const std::string kPortRewritten = "PORT 203,0,113,1,195,80\r\n";
constexpr std::int32_t kPortDelta = -2;

// The verdict of packet `id` in `out`; nullopt when the engine gave none (held).
std::optional<PacketVerdict> verdictOf(const Outcome& out, PacketId id) {
  for (const PacketVerdict& verdict : out.verdicts) {
    if (verdict.id == id) return verdict;
  }
  return std::nullopt;
}

// The bytes the packet leaves with: the original for Accept, the new bytes for AcceptModified.
std::vector<std::uint8_t> leaving(const PacketVerdict& verdict, const std::vector<std::uint8_t>& original) {
  return verdict.kind == VerdictKind::AcceptModified ? verdict.bytes : original;
}

std::string payloadText(const std::vector<std::uint8_t>& packet) {
  const auto view = PacketView::parse(packet);
  if (!view) return "<unparseable>";
  return std::string(view->payload().begin(), view->payload().end());
}

// The packet with bit `bit` of payload byte `index` flipped; its checksums are left as they were.
std::vector<std::uint8_t> flipPayloadBit(std::vector<std::uint8_t> packet, std::size_t index, int bit) {
  const auto view = PacketView::parse(packet);
  packet[view->payloadOffset() + index] ^= static_cast<std::uint8_t>(1u << bit);
  return packet;
}

// --- Checksums are verified before inspection ---------------------------------------------------
// A segment that fails its checksum is what its receiver drops (RFC 9293 §3.1, RFC 791 §3.1): it
// must change nothing, open nothing, and leave as corrupt as it came (never with a fresh valid
// checksum over the corrupt bytes).

TEST(EngineChecksum, CorruptSegmentIsPassedUninspectedAndTheGoodRetransmissionIsRewrittenOnce) {
  Wire wire(snatKey(), snatMapping());
  wire.handshakeAndLogin();
  const auto good = testing::buildTcpPacket(wire.next(true, kPortLine));
  // "...,195,80" -> "...,195,81": one flipped bit, the checksum of the good segment.
  const auto corrupt = flipPayloadBit(good, kPortLine.find(",80") + 2, 0);
  ASSERT_EQ(payloadText(corrupt), "PORT 192,168,77,10,195,81\r\n");
  ASSERT_FALSE(testing::independentChecksumsValid(corrupt));

  const Outcome first = wire.submit(corrupt);
  const auto firstVerdict = verdictOf(first, wire.lastId());
  ASSERT_TRUE(firstVerdict) << "a corrupt segment is never held";
  EXPECT_EQ(leaving(*firstVerdict, corrupt), corrupt) << "it leaves byte for byte as it came";
  EXPECT_TRUE(wire.opened().empty());
  EXPECT_TRUE(wire.observed<Rewrite>().empty());
  EXPECT_EQ(wire.stat(Stat::PacketsBadChecksum), 1u);
  ASSERT_EQ(wire.observed<AnomalyObs>().size(), 1u);
  EXPECT_EQ(wire.observed<AnomalyObs>()[0].reason, Reason::BadChecksum);
  EXPECT_FALSE(wire.observed<AnomalyObs>()[0].inspectionStopped);

  // The receiver dropped it; the sender retransmits the segment it really sent.
  const Outcome second = wire.submit(good);
  const auto secondVerdict = verdictOf(second, wire.lastId());
  ASSERT_TRUE(secondVerdict);
  const auto sent = leaving(*secondVerdict, good);
  EXPECT_EQ(payloadText(sent), kPortRewritten);
  EXPECT_TRUE(testing::independentChecksumsValid(sent));
  ASSERT_EQ(wire.opened().size(), 1u);
  EXPECT_EQ(wire.opened()[0].to, ep("203.0.113.1:50000"));
  EXPECT_EQ(wire.observed<AnomalyObs>().size(), 1u) << "the good copy is no retransmission_conflict";
  EXPECT_EQ(wire.observed<Rewrite>().size(), 1u);
}

TEST(EngineChecksum, CorruptSegmentOfAnEditedFlowIsTranslatedAndKeepsItsChecksumError) {
  Wire wire(snatKey(), snatMapping());
  wire.handshakeAndLogin();
  wire.exchange(true, kPortLine);
  wire.clientDelta = kPortDelta;
  wire.exchange(false, "200 PORT command successful.\r\n");

  const auto good = testing::buildTcpPacket(wire.next(true, "LIST\r\n"));
  const auto corrupt = flipPayloadBit(good, 1, 3);  // "LIST" -> "LAST"
  const Outcome out = wire.submit(corrupt);
  const auto verdict = verdictOf(out, wire.lastId());
  ASSERT_TRUE(verdict);
  ASSERT_EQ(verdict->kind, VerdictKind::AcceptModified) << "its seq must still be translated";
  const auto view = PacketView::parse(verdict->bytes);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->seq(), SeqNum(Wire::kClientIsn + 1 + wire.clientSent + kPortDelta));
  EXPECT_EQ(std::string(view->payload().begin(), view->payload().end()), "LAST\r\n") << "payload untouched";
  EXPECT_FALSE(testing::independentChecksumsValid(verdict->bytes)) << "a corrupt packet must stay corrupt";
  // The error is exactly the one it came with: undoing the flipped bit makes it valid.
  EXPECT_TRUE(testing::independentChecksumsValid(flipPayloadBit(verdict->bytes, 1, 3)));
  EXPECT_EQ(wire.stat(Stat::PacketsBadChecksum), 1u);
}

TEST(EngineChecksum, BadIpv4HeaderChecksumIsPassedUninspected) {
  Wire wire(snatKey(), snatMapping());
  wire.handshakeAndLogin();
  auto packet = testing::buildTcpPacket(wire.next(true, kPortLine));
  packet[8] ^= 0x01;  // TTL: only the IPv4 header checksum covers it
  ASSERT_FALSE(testing::independentChecksumsValid(packet));
  const Outcome out = wire.submit(packet);
  const auto verdict = verdictOf(out, wire.lastId());
  ASSERT_TRUE(verdict);
  EXPECT_EQ(leaving(*verdict, packet), packet);
  EXPECT_TRUE(wire.opened().empty());
  EXPECT_EQ(wire.stat(Stat::PacketsBadChecksum), 1u);
}

TEST(EngineChecksum, CorruptSynStartsNoSessionAndCorruptRstEndsNone) {
  Wire wire(snatKey(), snatMapping());
  TcpPacketSpec syn = wire.segment(true, 0, "", 0);
  syn.seq = Wire::kClientIsn;
  syn.ack = 0;
  syn.flags = tcp_flags::kSyn;
  auto corruptSyn = testing::buildTcpPacket(syn);
  corruptSyn[corruptSyn.size() - 1] ^= 0x10;  // the last TCP header byte (urgent pointer)
  wire.submit(corruptSyn);
  EXPECT_EQ(wire.engine().sessionCount(), 0u);

  wire.handshakeAndLogin();
  wire.exchange(true, kPortLine);
  ASSERT_EQ(wire.engine().pinholeCount(), 1u);
  // An RST at exactly the server's next sequence number, one bit of its window flipped.
  TcpPacketSpec rst = wire.next(false, "");
  rst.flags = tcp_flags::kRst | tcp_flags::kAck;
  auto corruptRst = testing::buildTcpPacket(rst);
  corruptRst[PacketView::parse(corruptRst)->tcpOffset() + 15] ^= 0x01;
  wire.submit(corruptRst);
  EXPECT_EQ(wire.engine().pinholeCount(), 1u) << "a corrupt RST closed the session";
  EXPECT_TRUE(wire.observed<SessionClosedObs>().empty());
  EXPECT_EQ(wire.stat(Stat::PacketsBadChecksum), 2u);
}

// A capture taken on a sending host shows its outgoing segments before the NIC completed their
// checksum (Linux CHECKSUM_PARTIAL: the field holds the pseudo-header sum). Live mode never sees
// that form (the NFQUEUE source completes such packets, src/io/nfqueue_source.hpp): there it is a
// corrupt segment. Replay accepts it, and a rewrite gives the segment a real checksum.
TEST(EngineChecksum, OffloadedChecksumIsAcceptedOnlyWhereTheInputMayCarryIt) {
  const auto offloadedPort = [](Wire& wire) {
    return testing::withOffloadedChecksum(testing::buildTcpPacket(wire.next(true, kPortLine)));
  };
  {
    Wire live(snatKey(), snatMapping());
    live.handshakeAndLogin();
    const auto packet = offloadedPort(live);
    ASSERT_FALSE(testing::independentChecksumsValid(packet));
    const Outcome out = live.submit(packet);
    EXPECT_EQ(leaving(*verdictOf(out, live.lastId()), packet), packet);
    EXPECT_TRUE(live.opened().empty());
    EXPECT_EQ(live.stat(Stat::PacketsBadChecksum), 1u);
  }
  EngineConfig replay;
  replay.ackSpace = AckSpace::Original;
  replay.checksums = ChecksumInput::MayBeOffloaded;
  Wire wire(snatKey(), snatMapping(), replay);
  wire.handshakeAndLogin();
  const auto packet = offloadedPort(wire);
  const Outcome out = wire.submit(packet);
  const auto verdict = verdictOf(out, wire.lastId());
  ASSERT_TRUE(verdict);
  EXPECT_EQ(payloadText(leaving(*verdict, packet)), kPortRewritten);
  EXPECT_TRUE(testing::independentChecksumsValid(leaving(*verdict, packet)));
  EXPECT_EQ(wire.opened().size(), 1u);
  EXPECT_EQ(wire.stat(Stat::PacketsBadChecksum), 0u);
  wire.clientSent += static_cast<std::uint32_t>(kPortLine.size());
  // A later offloaded segment needs only its seq translated: it leaves with a real checksum too.
  const auto list = testing::withOffloadedChecksum(testing::buildTcpPacket(wire.next(true, "LIST\r\n")));
  const Outcome listOut = wire.submit(list);
  const auto listVerdict = verdictOf(listOut, wire.lastId());
  ASSERT_TRUE(listVerdict);
  ASSERT_EQ(listVerdict->kind, VerdictKind::AcceptModified);
  EXPECT_TRUE(testing::independentChecksumsValid(listVerdict->bytes));
  // A corrupt segment is still corrupt where offloaded ones are accepted.
  const auto corrupt = flipPayloadBit(testing::buildTcpPacket(wire.next(true, "NOOP\r\n")), 0, 1);
  wire.submit(corrupt);
  EXPECT_EQ(wire.stat(Stat::PacketsBadChecksum), 1u);
}

// --- The MSS cap counts the options a segment carries (docs/decisions/0002) ---------------------
// RFC 6691 §2: the MSS a receiver advertises is the payload of a segment without IP or TCP
// options; a sender carrying options sends that much less. A rewrite must not grow a segment past
// that, nor past the largest packet its sender has sent (its path MTU may be smaller than the MSS).

// Client 10.1.2.3 masqueraded to 203.0.113.200: "PORT 10,1,2,3,..." grows by 5 bytes.
FlowKey growKey() { return FlowKey{ep("10.1.2.3:40000"), ep("203.0.113.10:21")}; }
NatMapping growMapping() {
  return NatMapping{ep("10.1.2.3:40000"), ep("203.0.113.200:40000"), ep("203.0.113.10:21"),
                    ep("203.0.113.10:21")};
}
const std::string kGrowingPort = "PORT 10,1,2,3,195,80\r\n";
const std::string kGrownPort = "PORT 203,0,113,200,195,80\r\n";

// Client [fd00:77::10] behind NAT66 as [2001:db8:ffff::1:2:3]: its EPRT grows by 9 bytes.
FlowKey growKeyV6() { return FlowKey{ep("[fd00:77::10]:40000"), ep("[2001:db8:1::10]:21")}; }
NatMapping growMappingV6() {
  return NatMapping{ep("[fd00:77::10]:40000"), ep("[2001:db8:ffff::1:2:3]:40000"), ep("[2001:db8:1::10]:21"),
                    ep("[2001:db8:1::10]:21")};
}
const std::string kGrowingEprt = "EPRT |2|fd00:77::10|50000|\r\n";
const std::string kGrownEprt = "EPRT |2|2001:db8:ffff::1:2:3|50000|\r\n";

// NOOP lines of exactly `size` bytes (size >= 6).
std::string noops(std::size_t size) {
  std::string text;
  while (size - text.size() >= 12) text += "NOOP\r\n";
  text += "NOOP" + std::string(size - text.size() - 6, ' ') + "\r\n";
  return text;
}

// RFC 7323 §3 timestamps, as Linux sends them: NOP NOP TS (12 bytes).
std::vector<std::uint8_t> timestampOption() { return {1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78}; }

// A segment ending in an announcement that grows, filling exactly `ipLength` bytes with options
// `tcpOptions`, is cut before the edit so that the packet stays within `maxIpLength`; the
// sender's retransmission of the rest then carries the rewritten line.
void expectFullSegmentIsCutNotGrown(Wire& wire, const std::string& announcement, const std::string& rewritten,
                                    std::size_t ipLength, std::size_t maxIpLength,
                                    const std::vector<std::uint8_t>& tcpOptions) {
  TcpPacketSpec spec = wire.next(true, "");
  spec.rawTcpOptions = tcpOptions;
  const std::size_t headers = testing::buildTcpPacket(spec).size();
  ASSERT_GT(ipLength, headers + announcement.size() + 12);
  spec.payload = noops(ipLength - headers - announcement.size()) + announcement;
  spec.flags = tcp_flags::kAck | tcp_flags::kPsh;
  const auto packet = testing::buildTcpPacket(spec);
  ASSERT_EQ(packet.size(), ipLength);
  const Outcome out = wire.submit(packet);
  const auto verdict = verdictOf(out, wire.lastId());
  ASSERT_TRUE(verdict);
  const auto sent = leaving(*verdict, packet);
  EXPECT_LE(sent.size(), maxIpLength) << "grown past the cap: dropped on every retransmission with DF set";
  EXPECT_EQ(wire.stat(Stat::SegmentsTrimmed), 1u);
  EXPECT_TRUE(testing::independentChecksumsValid(sent));
  // Cut just before the edit (the address), which is emitted whole or not at all.
  const std::string sentPayload = payloadText(sent);
  const std::size_t lineStart = spec.payload.size() - announcement.size();
  ASSERT_GT(sentPayload.size(), lineStart);
  EXPECT_EQ(sentPayload, spec.payload.substr(0, sentPayload.size()));
  EXPECT_LT(sentPayload.size(), spec.payload.size());

  // The receiver acknowledges what it got; the sender retransmits the rest, which is rewritten.
  const std::size_t pinholesBefore = wire.opened().size();
  const std::size_t cut = sentPayload.size();
  TcpPacketSpec rest = wire.segment(true, wire.clientSent + static_cast<std::uint32_t>(cut),
                                    spec.payload.substr(cut), wire.received(true));
  rest.rawTcpOptions = tcpOptions;
  const auto restPacket = testing::buildTcpPacket(rest);
  const Outcome restOut = wire.submit(restPacket);
  const auto restVerdict = verdictOf(restOut, wire.lastId());
  ASSERT_TRUE(restVerdict);
  EXPECT_EQ(payloadText(leaving(*restVerdict, restPacket)), rewritten.substr(cut - lineStart));
  EXPECT_EQ(wire.opened().size(), pinholesBefore) << "the pinhole opened when the line was read";
  EXPECT_EQ(wire.observed<Rewrite>().back().after + "\r\n", rewritten);
}

TEST(EngineMss, FullSegmentWithTimestampsIsNotGrownPastTheMssLessItsOptions) {
  // MSS 1460: a 1448-byte payload with 12 bytes of timestamps is a 1500-byte packet, full.
  Wire wire(growKey(), growMapping());
  wire.handshakeAndLogin();
  expectFullSegmentIsCutNotGrown(wire, kGrowingPort, kGrownPort, 1500, 1500, timestampOption());
}

TEST(EngineMss, FullIpv6SegmentWithTimestampsIsNotGrownPastTheMssLessItsOptions) {
  // MSS 1440 (1500 - 60): a 1428-byte payload with timestamps fills a 1500-byte packet.
  Wire wire(growKeyV6(), growMappingV6());
  wire.handshakeAndLogin(1440, 1440);
  expectFullSegmentIsCutNotGrown(wire, kGrowingEprt, kGrownEprt, 1500, 1500, timestampOption());
}

TEST(EngineMss, IpOptionsCountAgainstTheMssToo) {
  Wire wire(growKey(), growMapping());
  wire.handshakeAndLogin();
  TcpPacketSpec spec = wire.next(true, "");
  spec.ipv4Options = {1, 1, 1, 1, 1, 1, 1, 0};  // 8 bytes of NOP/EOL
  const std::size_t headers = testing::buildTcpPacket(spec).size();
  spec.payload = noops(1500 - headers - kGrowingPort.size()) + kGrowingPort;
  const auto packet = testing::buildTcpPacket(spec);
  ASSERT_EQ(packet.size(), 1500u);
  const Outcome out = wire.submit(packet);
  const auto verdict = verdictOf(out, wire.lastId());
  ASSERT_TRUE(verdict);
  EXPECT_LE(leaving(*verdict, packet).size(), 1500u);
}

TEST(EngineMss, SegmentIsNotGrownPastTheLargestPacketItsSenderSent) {
  // The client's path MTU is 1400 (its segments never exceed it) while the server's MSS is 1460.
  Wire wire(growKey(), growMapping());
  wire.handshakeAndLogin();
  // A small announcement still grows: every path carries 576 bytes (RFC 1122 §3.3.3).
  const Outcome small = wire.exchange(true, kGrowingPort);
  ASSERT_EQ(small.verdicts.size(), 1u);
  EXPECT_EQ(payloadText(small.verdicts[0].bytes), kGrownPort);
  wire.clientDelta = 5;
  wire.exchange(false, "200 PORT command successful.\r\n");
  wire.exchange(true, noops(1360));  // a full 1400-byte packet
  wire.exchange(false, std::string("200 NOOP ok.\r\n"));
  expectFullSegmentIsCutNotGrown(wire, kGrowingPort, kGrownPort, 1400, 1400, {});
}

// A router's GRO hands the queue one packet for several segments of a burst (NFQA_CFG_F_GSO): such
// a packet is larger than any segment on the wire and proves nothing about the MSS.
TEST(EngineMss, AnAggregatedPacketDoesNotRaiseTheCapAboveTheMssLessOptions) {
  Wire wire(growKey(), growMapping());
  wire.handshakeAndLogin();
  TcpPacketSpec burst = wire.next(true, noops(2 * 1448));
  burst.rawTcpOptions = timestampOption();
  const auto aggregated = testing::buildTcpPacket(burst);
  ASSERT_EQ(aggregated.size(), 2948u);
  wire.submit(aggregated);
  wire.clientSent += 2 * 1448;
  wire.submit(wire.next(false, ""));
  expectFullSegmentIsCutNotGrown(wire, kGrowingPort, kGrownPort, 1500, 1500, timestampOption());
}

TEST(EngineMss, AGrowthThatFitsExactlyIsNotCut) {
  Wire wire(growKey(), growMapping());
  wire.handshakeAndLogin();
  wire.exchange(true, noops(1460));  // a full-sized packet: 1500 bytes
  wire.exchange(false, "200 NOOP ok.\r\n");
  // 1455 payload bytes ending with the PORT's address (its CRLF follows in the next segment):
  // the grown replacement is the last thing in the packet and fills it to exactly the MSS.
  const std::string line = kGrowingPort.substr(0, kGrowingPort.size() - 2);
  const std::string payload = noops(1455 - line.size()) + line;
  const auto packet = testing::buildTcpPacket(wire.next(true, payload));
  const Outcome first = wire.submit(packet);
  const PacketId heldId = wire.lastId();
  ASSERT_FALSE(verdictOf(first, heldId)) << "an incomplete PORT line is held";
  wire.clientSent += static_cast<std::uint32_t>(payload.size());
  const Outcome out = wire.submit(wire.next(true, "\r\n"));
  const auto verdict = verdictOf(out, heldId);
  ASSERT_TRUE(verdict);
  const auto sent = leaving(*verdict, packet);
  EXPECT_EQ(sent.size(), 1500u);
  EXPECT_EQ(payloadText(sent),
            payload.substr(0, payload.size() - line.size()) + kGrownPort.substr(0, kGrownPort.size() - 2));
  EXPECT_EQ(wire.stat(Stat::SegmentsTrimmed), 0u);
}

// --- Out-of-order segments (docs/decisions/0001-hold-undecided-packets.md, amendment) ------------
// Held out-of-order segments never reach the receiver early: it cannot SACK them or send
// duplicate ACKs, so every loss upstream costs the sender a retransmission timeout. The engine
// holds bytes beyond a gap only where the gap may hide the start of an announcement.

// Client 198.51.100.20 outside; server 192.168.78.10 port-forwarded from 203.0.113.1:21. Its 227
// "(192,168,78,10,...)" becomes "(203,0,113,1,...)": 2 bytes shorter.
FlowKey dnatKey() { return FlowKey{ep("198.51.100.20:40001"), ep("192.168.78.10:21")}; }
NatMapping dnatMapping() {
  return NatMapping{ep("198.51.100.20:40001"), ep("198.51.100.20:40001"), ep("192.168.78.10:21"),
                    ep("203.0.113.1:21")};
}
const std::string k227 = "227 Entering Passive Mode (192,168,78,10,156,64).\r\n";
const std::string k227Rewritten = "227 Entering Passive Mode (203,0,113,1,156,64).\r\n";
constexpr std::int32_t k227Delta = -2;
const std::string kFeatures = "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n SIZE\r\n211 End\r\n";

// A DNAT'd session whose 227 was rewritten (the server's stream is 2 bytes shorter from there).
void passiveModeRewritten(Wire& wire) {
  wire.handshakeAndLogin();
  wire.exchange(true, "PASV\r\n");
  const Outcome out = wire.exchange(false, k227);
  ASSERT_EQ(out.verdicts.size(), 1u);
  ASSERT_EQ(payloadText(out.verdicts[0].bytes), k227Rewritten);
  wire.serverDelta = k227Delta;
}

// The server's segment carrying bytes [from, to) of `message` (which starts at its next offset).
TcpPacketSpec serverPiece(const Wire& wire, const std::string& message, std::size_t from, std::size_t to) {
  return wire.segment(false, wire.serverSent + static_cast<std::uint32_t>(from),
                      message.substr(from, to - from), wire.received(false));
}

TEST(EngineOutOfOrder, ServerBytesAfterAGapAreForwardedAtOnceWhenNoPassiveReplyIsAwaited) {
  Wire wire(dnatKey(), dnatMapping());
  passiveModeRewritten(wire);
  wire.exchange(true, "FEAT\r\n");
  // Three segments; the first is lost upstream and comes last.
  const std::size_t cut1 = kFeatures.find(" EPSV"), cut2 = kFeatures.find(" SIZE");
  for (const auto& [from, to] : {std::pair{cut1, cut2}, std::pair{cut2, kFeatures.size()}}) {
    const auto packet = testing::buildTcpPacket(serverPiece(wire, kFeatures, from, to));
    const Outcome out = wire.submit(packet);
    const auto verdict = verdictOf(out, wire.lastId());
    ASSERT_TRUE(verdict) << "an out-of-order segment was held: the client cannot SACK it";
    const auto view = PacketView::parse(leaving(*verdict, packet));
    EXPECT_EQ(view->seq(), SeqNum(Wire::kServerIsn + 1 + wire.serverSent + k227Delta + from))
        << "forwarded in the output space";
    EXPECT_EQ(payloadText(leaving(*verdict, packet)), kFeatures.substr(from, to - from));
  }
  const auto first = testing::buildTcpPacket(serverPiece(wire, kFeatures, 0, cut1));
  const Outcome out = wire.submit(first);
  ASSERT_TRUE(verdictOf(out, wire.lastId()));
  EXPECT_EQ(wire.stat(Stat::PacketsHeld), 0u);
  EXPECT_EQ(wire.stat(Stat::LinesParsed), 15u) << "every line read once, when the gap filled";
}

TEST(EngineOutOfOrder, ServerBytesAfterAGapWaitWhileAPassiveReplyIsAwaited) {
  Wire wire(dnatKey(), dnatMapping());
  wire.handshakeAndLogin();
  // Pipelined: the PASV is not the oldest command, so the gap may hold "200 ..." and then the 227.
  wire.exchange(true, "NOOP\r\nPASV\r\n");
  const std::string replies = "200 NOOP ok.\r\n" + k227;
  const std::size_t cut = replies.find("(192");
  const Outcome late = wire.submit(serverPiece(wire, replies, cut, replies.size()));
  EXPECT_FALSE(verdictOf(late, wire.lastId())) << "forwarded before the 227 it ends was read";
  const PacketId heldId = wire.lastId();
  const Outcome out = wire.submit(serverPiece(wire, replies, 0, cut));
  const auto released = verdictOf(out, heldId);
  ASSERT_TRUE(released);
  EXPECT_EQ(payloadText(released->bytes), k227Rewritten.substr(k227Rewritten.find("(203")));
  EXPECT_EQ(wire.opened().size(), 1u);
}

TEST(EngineOutOfOrder, ClientBytesAfterAGapStillWaitForIt) {
  // Any client line may be a PORT: what lies beyond a gap cannot be placed until the gap fills.
  Wire wire(snatKey(), snatMapping());
  wire.handshakeAndLogin();
  const std::string commands = kPortLine + "LIST\r\n";
  const Outcome late = wire.submit(wire.segment(
      true, wire.clientSent + static_cast<std::uint32_t>(kPortLine.size()), "LIST\r\n", wire.received(true)));
  EXPECT_FALSE(verdictOf(late, wire.lastId()));
  const PacketId heldId = wire.lastId();
  const Outcome out = wire.submit(wire.next(true, kPortLine));
  const auto released = verdictOf(out, heldId);
  ASSERT_TRUE(released);
  const auto view = PacketView::parse(released->bytes);
  EXPECT_EQ(view->seq(), SeqNum(Wire::kClientIsn + 1 + wire.clientSent + kPortLine.size() + kPortDelta))
      << "placed after the rewritten PORT the gap hid";
}

// A FIN carries the sequence number after the bytes before it: while they are held it waits too,
// and leaves after them, so the receiver never gets the end of a stream before its last bytes.
TEST(EngineOutOfOrder, PayloadFreeFinWaitsForHeldBytesBeforeIt) {
  Wire wire(snatKey(), snatMapping());
  wire.handshakeAndLogin();
  const std::string partial = "PORT 192,168,";
  const Outcome first = wire.submit(wire.next(true, partial));
  const PacketId partialId = wire.lastId();
  ASSERT_FALSE(verdictOf(first, partialId)) << "an undecided PORT line is held";
  wire.clientSent += static_cast<std::uint32_t>(partial.size());
  TcpPacketSpec fin = wire.next(true, "");
  fin.flags = tcp_flags::kFin | tcp_flags::kAck;
  const Outcome finOut = wire.submit(fin);
  const PacketId finId = wire.lastId();
  EXPECT_FALSE(verdictOf(finOut, finId)) << "the FIN overtook the bytes before it";
  const Outcome released = wire.timer(std::chrono::seconds(5));  // the hold times out
  ASSERT_EQ(released.verdicts.size(), 2u);
  EXPECT_EQ(released.verdicts[0].id, partialId);
  EXPECT_EQ(released.verdicts[1].id, finId);
}

// First-seen bytes win on the wire too: the receiver holds the forwarded copy out of order, and a
// later copy starting at the same sequence number and covering it would replace it (Linux
// tcp_data_queue_ofo); so a conflicting copy leaves carrying the first-seen bytes.
TEST(EngineOutOfOrder, ConflictingCopyOfForwardedOutOfOrderBytesCarriesTheFirstSeenBytes) {
  Wire wire(dnatKey(), dnatMapping());
  passiveModeRewritten(wire);
  wire.exchange(true, "FEAT\r\n");
  const std::size_t cut = kFeatures.find(" EPSV");
  wire.submit(serverPiece(wire, kFeatures, cut, kFeatures.size()));
  std::string other = kFeatures;
  other.replace(other.find("MDTM"), 4, "XXXX");
  const auto conflicting = testing::buildTcpPacket(serverPiece(wire, other, cut, other.size()));
  const Outcome out = wire.submit(conflicting);
  const auto verdict = verdictOf(out, wire.lastId());
  ASSERT_TRUE(verdict);
  const auto sent = leaving(*verdict, conflicting);
  EXPECT_EQ(payloadText(sent), kFeatures.substr(cut)) << "the receiver may keep this copy instead";
  EXPECT_TRUE(testing::independentChecksumsValid(sent));
  ASSERT_EQ(wire.observed<AnomalyObs>().size(), 1u);
  EXPECT_EQ(wire.observed<AnomalyObs>()[0].reason, Reason::RetransmissionConflict);
}

// A dishonest server answers a PASV sent after it forwarded bytes beyond a gap by filling the gap
// with a 227: it can no longer be rewritten (the bytes after it are placed), so it is refused.
TEST(EngineOutOfOrder, AnnouncementInAGapBeforeForwardedBytesIsRefused) {
  Wire wire(dnatKey(), dnatMapping());
  wire.handshakeAndLogin();
  const std::string replies = k227 + "200 OK.\r\n";
  wire.submit(serverPiece(wire, replies, k227.size(), replies.size()));  // forwarded: nothing awaited
  wire.exchange(true, "PASV\r\n");
  const auto gap = testing::buildTcpPacket(serverPiece(wire, replies, 0, k227.size()));
  const Outcome out = wire.submit(gap);
  const auto verdict = verdictOf(out, wire.lastId());
  ASSERT_TRUE(verdict);
  EXPECT_EQ(payloadText(leaving(*verdict, gap)), k227) << "left unrewritten";
  EXPECT_TRUE(wire.opened().empty());
  ASSERT_EQ(wire.observed<Reject>().size(), 1u);
  EXPECT_EQ(wire.observed<Reject>()[0].reason, Reason::AnnouncementNotHeld);
}

// --- SACK edges are translated, both of them -----------------------------------------------------

TEST(EngineSack, BothEdgesOfEveryBlockMapBackIntoTheSendersOriginalSpace) {
  Wire wire(snatKey(), snatMapping());
  wire.handshakeAndLogin();
  const std::uint32_t port = wire.clientSent;  // the PORT line's original offset
  wire.submit(wire.next(true, kPortLine));
  wire.clientSent += static_cast<std::uint32_t>(kPortLine.size());
  wire.clientDelta = kPortDelta;
  wire.submit(wire.next(true, "NOOP\r\n"));
  // The edit: original [port + 5, port + 25) "192,168,77,10,195,80" became output
  // [port + 5, port + 23) "203,0,113,1,195,80"; everything after it is 2 bytes earlier. The
  // rewritten PORT segment was lost after the gateway: the server acknowledges nothing of it and
  // SACKs what it holds (the blocks are chosen to hit each case of the mapping).
  TcpPacketSpec ack = wire.next(false, "");
  ack.ack = Wire::kClientIsn + 1 + port;
  const auto out = [&](std::int64_t offset) {
    return static_cast<std::uint32_t>(Wire::kClientIsn + 1 + offset);
  };
  ack.sack = {
      {out(port + 27 + kPortDelta), out(port + 33 + kPortDelta)},  // the NOOP line
      {out(port + 8), out(port + 23)},                             // inside the replacement .. its end
      {out(port), out(port + 4)},                                  // before the edit: identity
  };
  const auto packet = testing::buildTcpPacket(ack);
  const Outcome outcome = wire.submit(packet);
  const auto verdict = verdictOf(outcome, wire.lastId());
  ASSERT_TRUE(verdict);
  const auto view = PacketView::parse(leaving(*verdict, packet));
  ASSERT_TRUE(view);
  ASSERT_EQ(view->options().sackBlockCount, 3u);
  const auto& blocks = view->options().sackBlocks;
  EXPECT_EQ(blocks[0].left, SeqNum(out(port + 27)));
  EXPECT_EQ(blocks[0].right, SeqNum(out(port + 33)));
  // A left edge strictly inside a replacement maps to the edit's start (not yet wholly held);
  // a right edge at the replacement's end maps to the end of the original span.
  EXPECT_EQ(blocks[1].left, SeqNum(out(port + 5)));
  EXPECT_EQ(blocks[1].right, SeqNum(out(port + 25)));
  EXPECT_EQ(blocks[2].left, SeqNum(out(port)));
  EXPECT_EQ(blocks[2].right, SeqNum(out(port + 4)));
  EXPECT_EQ(view->ack(), SeqNum(out(port)));
  EXPECT_TRUE(testing::independentChecksumsValid(leaving(*verdict, packet)));
}

}  // namespace
}  // namespace ftpalg
