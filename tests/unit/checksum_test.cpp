// Internet checksum: RFC 1071 sums, RFC 1624 incremental updates, pseudo-headers, verifyPacket.
// Expected values come from the RFCs' worked examples and from the test builder's independent
// byte-pair sum.
#include "ftpalg/packet/checksum.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "ftpalg/packet/packet_view.hpp"
#include "packet_builder.hpp"

namespace ftpalg {
namespace {

using testing::buildTcpPacket;
using testing::ep;
using testing::independentChecksum;
using testing::ip;
using testing::TcpPacketSpec;

using Bytes = std::vector<std::uint8_t>;

std::uint16_t load16(const Bytes& bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}
void put16(Bytes& bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::uint8_t>(value >> 8);
  bytes[at + 1] = static_cast<std::uint8_t>(value);
}

struct SumCase {
  const char* name;
  Bytes data;
  std::uint32_t sum;  // folded, not inverted
};

class PartialSum : public ::testing::TestWithParam<SumCase> {};

TEST_P(PartialSum, MatchesKnownValue) {
  EXPECT_EQ(checksum::partialSum(GetParam().data), GetParam().sum);
  EXPECT_EQ(checksum::compute(GetParam().data), static_cast<std::uint16_t>(~GetParam().sum));
}

INSTANTIATE_TEST_SUITE_P(
    Table, PartialSum,
    ::testing::Values(
        // RFC 1071 §3 numerical example: 00 01 f2 03 f4 f5 f6 f7 sums to dd f2.
        SumCase{"rfc1071_example", {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0xddf2},
        SumCase{"empty", {}, 0}, SumCase{"odd_length_pads_with_zero", {0x12, 0x34, 0x56}, 0x1234 + 0x5600},
        SumCase{"single_byte_is_high_half", {0xAB}, 0xAB00},
        SumCase{"carry_wraps_around", {0xFF, 0xFF, 0x00, 0x02}, 0x0002},
        SumCase{"all_ones_stays_negative_zero", {0xFF, 0xFF, 0xFF, 0xFF}, 0xFFFF},
        // A well-known IPv4 header (checksum field zeroed): checksum 0xb861.
        SumCase{"ipv4_header",
                {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7},
                0x479e}),
    [](const auto& sum) { return std::string(sum.param.name); });

TEST(Checksum, ChainedPartialSumsEqualOneShotSum) {
  std::mt19937 random(7);
  Bytes data(1001);
  for (auto& byte : data) byte = static_cast<std::uint8_t>(random());
  const std::uint32_t oneShot = checksum::partialSum(data);
  for (std::size_t split = 0; split <= data.size(); split += 2) {  // even splits only
    const std::span<const std::uint8_t> all(data);
    const std::uint32_t first = checksum::partialSum(all.first(split));
    EXPECT_EQ(checksum::partialSum(all.subspan(split), first), oneShot) << split;
  }
}

TEST(Checksum, InitialValueIsFoldedIn) {
  EXPECT_EQ(checksum::partialSum({}, 0x1FFFE), 0xFFFFu);
  EXPECT_EQ(checksum::partialSum({}, 0x10000), 0x0001u);
}

TEST(Checksum, FinishFoldsAndInverts) {
  EXPECT_EQ(checksum::finish(0xFFFF), 0x0000);
  EXPECT_EQ(checksum::finish(0x0000), 0xFFFF);
  EXPECT_EQ(checksum::finish(0x1FFFE), 0x0000);
  EXPECT_EQ(checksum::finish(0xddf2), 0x220d);
}

TEST(Checksum, ComputeAgreesWithIndependentSumOnRandomData) {
  std::mt19937 random(11);
  for (int round = 0; round < 500; ++round) {
    Bytes data(random() % 300);
    for (auto& byte : data) byte = static_cast<std::uint8_t>(random());
    EXPECT_EQ(checksum::compute(data), independentChecksum(data)) << "size " << data.size();
  }
}

TEST(Checksum, Ipv4PseudoHeaderEqualsSumOfItsBytes) {
  const Bytes pseudo = {192, 0, 2, 1, 198, 51, 100, 7, 0, 6, 0x01, 0x23};
  EXPECT_EQ(checksum::pseudoHeaderSum(ip("192.0.2.1"), ip("198.51.100.7"), 6, 0x123),
            checksum::partialSum(pseudo));
}

TEST(Checksum, Ipv6PseudoHeaderUsesThirtyTwoBitLength) {
  Bytes pseudo;
  for (const char* text : {"2001:db8::1", "2001:db8:1::7"}) {
    const IpAddress address = ip(text);  // bytes() refers into the address: keep it alive
    pseudo.insert(pseudo.end(), address.bytes().begin(), address.bytes().end());
  }
  pseudo.insert(pseudo.end(), {0x00, 0x01, 0x00, 0x20, 0, 0, 0, 6});  // length 0x10020
  EXPECT_EQ(checksum::pseudoHeaderSum(ip("2001:db8::1"), ip("2001:db8:1::7"), 6, 0x10020),
            checksum::partialSum(pseudo));
}

class TcpChecksumOfBuiltPacket : public ::testing::TestWithParam<const char*> {};

TEST_P(TcpChecksumOfBuiltPacket, EqualsTheBuildersIndependentChecksum) {
  for (const char* payload : {"", "A", "PORT 192,0,2,1,4,1\r\n", "odd length payload"}) {
    TcpPacketSpec spec;
    spec.src = ep(GetParam());
    spec.dst = spec.src.address.isV4() ? ep("198.51.100.7:21") : ep("[2001:db8:1::7]:21");
    spec.seq = 0xDEADBEEF;
    spec.payload = payload;
    const Bytes bytes = buildTcpPacket(spec);
    const auto view = PacketView::parse(bytes);
    ASSERT_TRUE(view.has_value());
    const auto segment = view->ipPacket().subspan(view->tcpOffset());
    EXPECT_EQ(checksum::tcpChecksum(view->srcAddress(), view->dstAddress(), segment),
              load16(bytes, view->tcpOffset() + 16))
        << payload;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, TcpChecksumOfBuiltPacket,
                         ::testing::Values("192.0.2.1:40000", "[2001:db8::1]:40000"));

// ---- RFC 1624 -----------------------------------------------------------------------------------

TEST(IncrementalUpdate, Rfc1624ExampleYieldsZeroNotNegativeZero) {
  // RFC 1624 §4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285. Eqn. 3 gives 0x0000 (eqn. 2 would
  // give the wrong 0xFFFF).
  EXPECT_EQ(checksum::incrementalUpdate16(0xDD2F, 0x5555, 0x3285), 0x0000);
}

TEST(IncrementalUpdate, UnchangedFieldKeepsChecksum) {
  for (const std::uint16_t value : {0x0000, 0x1234, 0xFFFF}) {
    EXPECT_EQ(checksum::incrementalUpdate16(0xB861, value, value), 0xB861);
  }
  EXPECT_EQ(checksum::incrementalUpdate32(0x1357, 0xCAFEBABE, 0xCAFEBABE), 0x1357);
}

// Randomized: change a random 16-bit word or 32-bit field of a TCP segment and compare the
// incrementally updated checksum with a full recomputation.
class IncrementalEqualsFull : public ::testing::TestWithParam<const char*> {};

TEST_P(IncrementalEqualsFull, ForRandomSixteenBitWords) {
  std::mt19937 random(99);
  const IpAddress src = ip(GetParam());
  const IpAddress dst = src.isV4() ? ip("203.0.113.9") : ip("2001:db8:2::9");
  for (int round = 0; round < 3000; ++round) {
    Bytes segment(20 + 2 * (random() % 40));
    for (auto& byte : segment) byte = static_cast<std::uint8_t>(random());
    put16(segment, 16, checksum::tcpChecksum(src, dst, segment));
    std::size_t at = 2 * (random() % (segment.size() / 2));
    if (at == 16) at = 4;  // the checksum field itself is not a data field
    const std::uint16_t oldValue = load16(segment, at);
    // Include the extremes, which exercise the 0x0000/0xFFFF corner cases.
    const std::uint16_t choices[] = {0x0000, 0xFFFF, static_cast<std::uint16_t>(random()),
                                     static_cast<std::uint16_t>(~oldValue)};
    const std::uint16_t newValue = choices[random() % 4];
    const std::uint16_t incremental = checksum::incrementalUpdate16(load16(segment, 16), oldValue, newValue);
    put16(segment, at, newValue);
    ASSERT_EQ(incremental, checksum::tcpChecksum(src, dst, segment)) << "round " << round << " offset " << at;
  }
}

TEST_P(IncrementalEqualsFull, ForRandomSeqAndAckFields) {
  std::mt19937 random(1234);
  const IpAddress src = ip(GetParam());
  const IpAddress dst = src.isV4() ? ip("203.0.113.9") : ip("2001:db8:2::9");
  for (int round = 0; round < 3000; ++round) {
    Bytes segment(20 + random() % 60);  // odd payload lengths too
    for (auto& byte : segment) byte = static_cast<std::uint8_t>(random());
    put16(segment, 16, checksum::tcpChecksum(src, dst, segment));
    const std::size_t at = (random() % 2 == 0) ? 4 : 8;  // seq or ack
    const std::uint32_t oldValue = (std::uint32_t{load16(segment, at)} << 16) | load16(segment, at + 2);
    const std::uint32_t newValue = round % 7 == 0 ? ~oldValue : static_cast<std::uint32_t>(random());
    const std::uint16_t incremental = checksum::incrementalUpdate32(load16(segment, 16), oldValue, newValue);
    put16(segment, at, static_cast<std::uint16_t>(newValue >> 16));
    put16(segment, at + 2, static_cast<std::uint16_t>(newValue));
    ASSERT_EQ(incremental, checksum::tcpChecksum(src, dst, segment)) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, IncrementalEqualsFull, ::testing::Values("192.0.2.1", "2001:db8::1"));

// ---- verifyPacket -------------------------------------------------------------------------------

TcpPacketSpec verifySpec() {
  TcpPacketSpec spec;
  spec.src = ep("192.168.78.10:50000");
  spec.dst = ep("198.51.100.7:21");
  spec.seq = 42;
  spec.ack = 43;
  spec.ipv4Options = {1, 1, 1, 1};  // NOPs
  spec.mss = 1460;
  spec.payload = "USER anonymous\r\n";
  return spec;
}

TEST(VerifyPacket, AcceptsBuiltPacketsOfBothFamilies) {
  EXPECT_TRUE(checksum::verifyPacket(buildTcpPacket(verifySpec())));
  TcpPacketSpec v6 = verifySpec();
  v6.src = ep("[2001:db8::10]:50000");
  v6.dst = ep("[2001:db8:1::7]:21");
  v6.ipv6HopByHop = true;
  EXPECT_TRUE(checksum::verifyPacket(buildTcpPacket(v6)));
}

TEST(VerifyPacket, RejectsEverySingleBitFlipInAnIpv4Packet) {
  const Bytes good = buildTcpPacket(verifySpec());
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = good;
      bad[at] = static_cast<std::uint8_t>(bad[at] ^ (1 << bit));
      EXPECT_FALSE(checksum::verifyPacket(bad)) << "byte " << at << " bit " << bit;
    }
  }
}

TEST(VerifyPacket, RejectsBadIpv4HeaderChecksumEvenWhenTcpIsFine) {
  Bytes bytes = buildTcpPacket(verifySpec());
  put16(bytes, 10, static_cast<std::uint16_t>(load16(bytes, 10) + 1));
  EXPECT_FALSE(checksum::verifyPacket(bytes));
}

TEST(VerifyPacket, RejectsUnparsablePackets) {
  EXPECT_FALSE(checksum::verifyPacket({}));
  Bytes bytes = buildTcpPacket(verifySpec());
  bytes.pop_back();
  EXPECT_FALSE(checksum::verifyPacket(bytes));
}

TEST(VerifyPacket, IgnoresLinkPadding) {
  TcpPacketSpec spec = verifySpec();
  spec.payload.clear();
  spec.mss.reset();
  spec.ipv4Options.clear();
  Bytes bytes = buildTcpPacket(spec);
  bytes.resize(46, 0x5A);
  EXPECT_TRUE(checksum::verifyPacket(bytes));
}

// --- checkPacket: valid, offloaded (the pseudo-header sum a NIC completes), bad -----------------

checksum::ChecksumState stateOf(const Bytes& bytes) {
  const auto view = PacketView::parse(bytes);
  EXPECT_TRUE(view.has_value());
  return checksum::checkPacket(*view);
}

TEST(CheckPacket, TellsValidOffloadedAndBadApartInBothFamilies) {
  TcpPacketSpec v6 = verifySpec();
  v6.src = ep("[2001:db8::10]:50000");
  v6.dst = ep("[2001:db8:1::7]:21");
  v6.ipv6HopByHop = true;
  for (const TcpPacketSpec& spec : {verifySpec(), v6}) {
    const Bytes good = buildTcpPacket(spec);
    EXPECT_EQ(stateOf(good), checksum::ChecksumState::Valid);
    const Bytes offloaded = testing::withOffloadedChecksum(good);
    ASSERT_TRUE(testing::independentChecksumOffloaded(offloaded));
    EXPECT_EQ(stateOf(offloaded), checksum::ChecksumState::Offloaded);
    Bytes flipped = good;
    flipped.back() ^= 0x04;
    EXPECT_EQ(stateOf(flipped), checksum::ChecksumState::Bad);
    // The pseudo-header sum covers no segment byte: a flipped payload bit still reads as
    // offloaded (why live mode, whose source completes such checksums, never accepts the form),
    // but a changed address does not.
    Bytes offloadedThenFlipped = offloaded;
    offloadedThenFlipped.back() ^= 0x04;
    EXPECT_EQ(stateOf(offloadedThenFlipped), checksum::ChecksumState::Offloaded);
    Bytes offloadedOtherDestination = offloaded;
    offloadedOtherDestination[spec.src.address.isV4() ? 19 : 39] ^= 0x01;
    if (spec.src.address.isV4()) {  // keep the IPv4 header checksum right for the new address
      put16(offloadedOtherDestination, 10, 0);
      put16(offloadedOtherDestination, 10,
            independentChecksum(std::span<const std::uint8_t>(offloadedOtherDestination).first(24)));
    }
    EXPECT_EQ(stateOf(offloadedOtherDestination), checksum::ChecksumState::Bad);
  }
}

TEST(CheckPacket, BadIpv4HeaderChecksumIsBadWhateverTheTcpChecksum) {
  for (const Bytes& tcpState :
       {buildTcpPacket(verifySpec()), testing::withOffloadedChecksum(buildTcpPacket(verifySpec()))}) {
    Bytes bytes = tcpState;
    put16(bytes, 10, static_cast<std::uint16_t>(load16(bytes, 10) + 1));
    EXPECT_EQ(stateOf(bytes), checksum::ChecksumState::Bad);
  }
}

TEST(CheckPacket, EverySingleBitFlipOfAValidIpv4PacketIsBadOrDetected) {
  const Bytes good = buildTcpPacket(verifySpec());
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = good;
      bad[at] = static_cast<std::uint8_t>(bad[at] ^ (1 << bit));
      const auto view = PacketView::parse(bad);
      if (!view) continue;  // a flip in a length field: unparsable, never inspected
      EXPECT_NE(checksum::checkPacket(*view), checksum::ChecksumState::Valid)
          << "byte " << at << " bit " << bit;
    }
  }
}

}  // namespace
}  // namespace ftpalg
