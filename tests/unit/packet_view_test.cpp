// PacketView: IPv4/IPv6 + TCP parsing, options, and robustness against truncated or lying
// headers.
#include "ftpalg/packet/packet_view.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "packet_builder.hpp"

namespace ftpalg {
namespace {

using testing::buildTcpPacket;
using testing::ep;
using testing::ip;
using testing::TcpPacketSpec;

using Bytes = std::vector<std::uint8_t>;

TcpPacketSpec v4Spec() {
  TcpPacketSpec spec;
  spec.src = ep("192.168.78.10:50000");
  spec.dst = ep("198.51.100.7:21");
  spec.seq = 0x11223344;
  spec.ack = 0x55667788;
  spec.flags = tcp_flags::kAck | tcp_flags::kPsh;
  spec.window = 29200;
  spec.payload = "PORT 192,168,78,10,195,80\r\n";
  return spec;
}

TcpPacketSpec v6Spec() {
  TcpPacketSpec spec;
  spec.src = ep("[2001:db8::10]:50001");
  spec.dst = ep("[2001:db8:1::7]:21");
  spec.seq = 7;
  spec.ack = 9;
  spec.payload = "EPSV\r\n";
  return spec;
}

std::optional<PacketParseError> errorOf(const Bytes& bytes) {
  PacketParseError error{};
  if (PacketView::parse(bytes, &error)) return std::nullopt;
  return error;
}

void put16(Bytes& bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::uint8_t>(value >> 8);
  bytes[at + 1] = static_cast<std::uint8_t>(value);
}

// Inserts raw IPv6 extension headers (each: next-header byte is overwritten to chain) between
// the fixed header and TCP, fixing the payload length. Checksums are not affected (the TCP
// pseudo-header uses the upper-layer length).
Bytes withIpv6ExtensionHeaders(Bytes packet, const std::vector<std::pair<std::uint8_t, Bytes>>& headers) {
  Bytes chain;
  std::uint8_t previousNext = packet[6];  // what came after the fixed header (TCP)
  // Build back to front so each header names its successor.
  std::uint8_t next = previousNext;
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    Bytes header = it->second;
    header[0] = next;
    chain.insert(chain.begin(), header.begin(), header.end());
    next = it->first;
  }
  packet[6] = next;
  packet.insert(packet.begin() + 40, chain.begin(), chain.end());
  put16(packet, 4, static_cast<std::uint16_t>(packet.size() - 40));
  return packet;
}

const Bytes kDestinationOptions8 = {0, 0, 1, 4, 0, 0, 0, 0};                       // (0+1)*8
const Bytes kRouting16 = {0, 1, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};         // (1+1)*8
const Bytes kAuthentication16 = {0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9, 9, 9};  // (2+2)*4

// ---- well-formed packets ------------------------------------------------------------------------

TEST(PacketView, ParsesIpv4TcpHeaderFields) {
  const Bytes bytes = buildTcpPacket(v4Spec());
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->family(), IpFamily::V4);
  EXPECT_EQ(view->src(), ep("192.168.78.10:50000"));
  EXPECT_EQ(view->dst(), ep("198.51.100.7:21"));
  EXPECT_EQ(view->seq(), SeqNum(0x11223344));
  EXPECT_EQ(view->ack(), SeqNum(0x55667788));
  EXPECT_EQ(view->flags(), tcp_flags::kAck | tcp_flags::kPsh);
  EXPECT_TRUE(view->hasFlag(tcp_flags::kPsh));
  EXPECT_FALSE(view->hasFlag(tcp_flags::kSyn));
  EXPECT_EQ(view->window(), 29200);
  EXPECT_EQ(view->ipHeaderLength(), 20u);
  EXPECT_EQ(view->tcpOffset(), 20u);
  EXPECT_EQ(view->tcpHeaderLength(), 20u);
  EXPECT_EQ(view->payloadOffset(), 40u);
  EXPECT_EQ(std::string(view->payload().begin(), view->payload().end()), v4Spec().payload);
  EXPECT_EQ(view->ipPacket().size(), bytes.size());
  EXPECT_FALSE(view->options().mss.has_value());
  EXPECT_EQ(view->options().sackBlockCount, 0);
  EXPECT_EQ(view->options().sackOffset, 0u);
}

TEST(PacketView, UsesIhlToSkipIpv4Options) {
  TcpPacketSpec spec = v4Spec();
  spec.ipv4Options = {7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0};  // Record Route, padded to 12
  const Bytes bytes = buildTcpPacket(spec);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->ipHeaderLength(), 32u);
  EXPECT_EQ(view->tcpOffset(), 32u);
  EXPECT_EQ(view->dst(), ep("198.51.100.7:21"));
  EXPECT_EQ(std::string(view->payload().begin(), view->payload().end()), spec.payload);
}

TEST(PacketView, IgnoresLinkPaddingBeyondIpTotalLength) {
  TcpPacketSpec spec = v4Spec();
  spec.payload = "";
  Bytes bytes = buildTcpPacket(spec);  // 40 bytes; Ethernet pads to 46
  const std::size_t ipLength = bytes.size();
  bytes.resize(46, 0xEE);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->ipPacket().size(), ipLength);
  EXPECT_TRUE(view->payload().empty());
  EXPECT_EQ(view->sequenceLength(), 0u);
}

TEST(PacketView, IgnoresLinkPaddingBeyondIpv6PayloadLength) {
  Bytes bytes = buildTcpPacket(v6Spec());
  const std::size_t ipLength = bytes.size();
  bytes.insert(bytes.end(), {0xEE, 0xEE, 0xEE});
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->ipPacket().size(), ipLength);
  EXPECT_EQ(std::string(view->payload().begin(), view->payload().end()), "EPSV\r\n");
}

TEST(PacketView, ParsesIpv6TcpHeaderFields) {
  const Bytes bytes = buildTcpPacket(v6Spec());
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->family(), IpFamily::V6);
  EXPECT_EQ(view->srcAddress(), ip("2001:db8::10"));
  EXPECT_EQ(view->dst(), ep("[2001:db8:1::7]:21"));
  EXPECT_EQ(view->seq(), SeqNum(7));
  EXPECT_EQ(view->ack(), SeqNum(9));
  EXPECT_EQ(view->ipHeaderLength(), 40u);
  EXPECT_EQ(view->payloadOffset(), 60u);
}

TEST(PacketView, SkipsIpv6HopByHopHeader) {
  TcpPacketSpec spec = v6Spec();
  spec.ipv6HopByHop = true;
  const Bytes bytes = buildTcpPacket(spec);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->ipHeaderLength(), 48u);
  EXPECT_EQ(view->tcpOffset(), 48u);
  EXPECT_EQ(view->dstPort(), 21);
  EXPECT_EQ(std::string(view->payload().begin(), view->payload().end()), "EPSV\r\n");
}

struct ChainCase {
  const char* name;
  std::vector<std::pair<std::uint8_t, Bytes>> headers;
  std::size_t expectedHeaderLength;
};

class Ipv6ExtensionChain : public ::testing::TestWithParam<ChainCase> {};

TEST_P(Ipv6ExtensionChain, IsWalkedToTheTcpHeader) {
  const Bytes bytes = withIpv6ExtensionHeaders(buildTcpPacket(v6Spec()), GetParam().headers);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->ipHeaderLength(), GetParam().expectedHeaderLength);
  EXPECT_EQ(view->srcPort(), 50001);
  EXPECT_EQ(view->seq(), SeqNum(7));
  EXPECT_EQ(std::string(view->payload().begin(), view->payload().end()), "EPSV\r\n");
}

INSTANTIATE_TEST_SUITE_P(
    Table, Ipv6ExtensionChain,
    ::testing::Values(ChainCase{"destination_options", {{60, kDestinationOptions8}}, 48},
                      ChainCase{"routing", {{43, kRouting16}}, 56},
                      ChainCase{"authentication_uses_4_byte_units", {{51, kAuthentication16}}, 56},
                      ChainCase{"full_chain",
                                {{0, kDestinationOptions8},
                                 {60, kDestinationOptions8},
                                 {43, kRouting16},
                                 {51, kAuthentication16},
                                 {60, kDestinationOptions8}},
                                40 + 8 + 8 + 16 + 16 + 8},
                      ChainCase{"eight_headers",
                                std::vector<std::pair<std::uint8_t, Bytes>>(8, {60, kDestinationOptions8}),
                                40 + 64}),
    [](const auto& chain) { return std::string(chain.param.name); });

struct ErrorCase {
  const char* name;
  Bytes bytes;
  PacketParseError expected;
};

class MalformedPacket : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(MalformedPacket, IsRejectedWithItsReason) {
  EXPECT_EQ(errorOf(GetParam().bytes), GetParam().expected)
      << packetParseErrorName(*errorOf(GetParam().bytes));
}

// Builds a v4 packet and applies `mutate` to its bytes.
template <typename F>
Bytes mutatedV4(F mutate, TcpPacketSpec spec = v4Spec()) {
  Bytes bytes = buildTcpPacket(spec);
  mutate(bytes);
  return bytes;
}
template <typename F>
Bytes mutatedV6(F mutate, TcpPacketSpec spec = v6Spec()) {
  Bytes bytes = buildTcpPacket(spec);
  mutate(bytes);
  return bytes;
}

std::vector<ErrorCase> malformedCases() {
  const std::size_t v4Length = buildTcpPacket(v4Spec()).size();
  return {
      {"empty", {}, PacketParseError::Truncated},
      {"version_5", mutatedV4([](Bytes& b) { b[0] = 0x55; }), PacketParseError::BadIpVersion},
      {"version_0", Bytes(60, 0), PacketParseError::BadIpVersion},
      {"ihl_4", mutatedV4([](Bytes& b) { b[0] = 0x44; }), PacketParseError::BadIpHeaderLength},
      {"ihl_0", mutatedV4([](Bytes& b) { b[0] = 0x40; }), PacketParseError::BadIpHeaderLength},
      {"ihl_beyond_total_length", mutatedV4([](Bytes& b) {
         b[0] = 0x4F;
         put16(b, 2, 40);
         b.resize(40);
       }),
       PacketParseError::BadIpHeaderLength},
      {"total_length_below_header", mutatedV4([](Bytes& b) { put16(b, 2, 19); }),
       PacketParseError::BadIpHeaderLength},
      {"total_length_beyond_buffer",
       mutatedV4([v4Length](Bytes& b) { put16(b, 2, static_cast<std::uint16_t>(v4Length + 1)); }),
       PacketParseError::Truncated},
      {"total_length_leaves_no_room_for_tcp", mutatedV4([](Bytes& b) { put16(b, 2, 39); }),
       PacketParseError::BadTotalLength},
      {"more_fragments", mutatedV4([](Bytes& b) { put16(b, 6, 0x2000); }), PacketParseError::Fragment},
      {"fragment_offset", mutatedV4([](Bytes& b) { put16(b, 6, 0x4001); }), PacketParseError::Fragment},
      {"udp", mutatedV4([](Bytes& b) { b[9] = 17; }), PacketParseError::NotTcp},
      {"data_offset_4", mutatedV4([](Bytes& b) { b[32] = 0x40; }), PacketParseError::BadTcpHeaderLength},
      {"data_offset_0", mutatedV4([](Bytes& b) { b[32] = 0x00; }), PacketParseError::BadTcpHeaderLength},
      {"data_offset_beyond_segment",
       mutatedV4([](Bytes& b) { b[32] = 0xF0; },
                 [] {
                   auto s = v4Spec();
                   s.payload = "AB";
                   return s;
                 }()),
       PacketParseError::BadTcpHeaderLength},
      {"ipv6_payload_length_beyond_buffer",
       mutatedV6([](Bytes& b) { put16(b, 4, static_cast<std::uint16_t>(b.size() - 40 + 1)); }),
       PacketParseError::Truncated},
      {"ipv6_payload_too_short_for_tcp", mutatedV6([](Bytes& b) { put16(b, 4, 19); }),
       PacketParseError::BadTotalLength},
      {"ipv6_udp", mutatedV6([](Bytes& b) { b[6] = 17; }), PacketParseError::NotTcp},
      {"ipv6_no_next_header", mutatedV6([](Bytes& b) { b[6] = 59; }), PacketParseError::NotTcp},
      {"ipv6_esp", mutatedV6([](Bytes& b) { b[6] = 50; }), PacketParseError::NotTcp},
      {"ipv6_fragment_header",
       withIpv6ExtensionHeaders(buildTcpPacket(v6Spec()), {{44, {0, 0, 0, 0, 0, 0, 0, 1}}}),
       PacketParseError::Fragment},
      {"ipv6_fragment_after_hop_by_hop",
       withIpv6ExtensionHeaders(buildTcpPacket(v6Spec()),
                                {{0, kDestinationOptions8}, {44, {0, 0, 0, 0, 0, 0, 0, 1}}}),
       PacketParseError::Fragment},
      {"ipv6_nine_extension_headers",
       withIpv6ExtensionHeaders(buildTcpPacket(v6Spec()),
                                std::vector<std::pair<std::uint8_t, Bytes>>(9, {60, kDestinationOptions8})),
       PacketParseError::ExtensionHeaderLimit},
      {"ipv6_extension_header_longer_than_payload",
       withIpv6ExtensionHeaders(buildTcpPacket(v6Spec()), {{60, {0, 200, 1, 4, 0, 0, 0, 0}}}),
       PacketParseError::BadTotalLength},
      {"ipv6_extension_header_cut_by_payload_length", mutatedV6([](Bytes& b) {
         b[6] = 60;
         put16(b, 4, 1);
         b.resize(41);
       }),
       PacketParseError::BadTotalLength},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedPacket, ::testing::ValuesIn(malformedCases()),
                         [](const auto& error) { return std::string(error.param.name); });

// ---- TCP options --------------------------------------------------------------------------------

TEST(PacketViewOptions, ReadsMssAndSackPermittedFromSyn) {
  TcpPacketSpec spec = v4Spec();
  spec.flags = tcp_flags::kSyn;
  spec.payload.clear();
  spec.mss = 1460;
  spec.sackPermitted = true;
  const Bytes bytes = buildTcpPacket(spec);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->options().mss, 1460);
  EXPECT_TRUE(view->options().sackPermitted);
  EXPECT_EQ(view->tcpHeaderLength(), 28u);
  EXPECT_EQ(view->sequenceLength(), 1u);  // SYN consumes one sequence number
}

// RFC 7323 §2.2: kind 3, length 3, the shift. Any other length is not a Window Scale option.
TEST(PacketViewOptions, ReadsTheWindowScaleShiftOnlyFromAWellFormedOption) {
  TcpPacketSpec spec = v4Spec();
  spec.flags = tcp_flags::kSyn;
  spec.payload.clear();
  spec.rawTcpOptions = {1, 3, 3, 7};
  Bytes bytes = buildTcpPacket(spec);
  auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->options().windowScale, 7);
  spec.rawTcpOptions = {3, 4, 7, 0};
  bytes = buildTcpPacket(spec);
  view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->options().windowScale, std::nullopt);
  spec.rawTcpOptions.clear();
  bytes = buildTcpPacket(spec);
  view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->options().windowScale, std::nullopt);
}

class SackBlockCount : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SackBlockCount, AllBlocksAndTheirOffsetAreReported) {
  TcpPacketSpec spec = v6Spec();
  spec.ipv6HopByHop = true;
  spec.mss = 1220;
  for (std::size_t i = 0; i < GetParam(); ++i) {
    spec.sack.emplace_back(0xFFFFFF00u + 0x100 * i, 0xFFFFFF80u + 0x100 * i);
  }
  const Bytes bytes = buildTcpPacket(spec);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  const auto& options = view->options();
  ASSERT_EQ(options.sackBlockCount, GetParam());
  // Layout from the builder: TCP at 48, MSS (4), NOP NOP 5 len, blocks.
  EXPECT_EQ(options.sackOffset, 48u + 20 + 4 + 4);
  for (std::size_t i = 0; i < GetParam(); ++i) {
    EXPECT_EQ(options.sackBlocks[i].left.raw(), spec.sack[i].first);
    EXPECT_EQ(options.sackBlocks[i].right.raw(), spec.sack[i].second);
    const std::size_t at = options.sackOffset + 8 * i;
    const std::uint32_t wireLeft = (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
                                   (std::uint32_t{bytes[at + 2]} << 8) | bytes[at + 3];
    EXPECT_EQ(wireLeft, spec.sack[i].first);
  }
}

INSTANTIATE_TEST_SUITE_P(OneToFour, SackBlockCount, ::testing::Values(1u, 2u, 3u, 4u));

struct OptionsCase {
  const char* name;
  Bytes rawOptions;
  std::optional<std::uint16_t> mss;
  std::uint8_t sackBlocks;
  bool sackPermitted;
};

class RawTcpOptions : public ::testing::TestWithParam<OptionsCase> {};

TEST_P(RawTcpOptions, AreParsedUpToTheFirstMalformedOption) {
  TcpPacketSpec spec = v4Spec();
  spec.rawTcpOptions = GetParam().rawOptions;
  const Bytes bytes = buildTcpPacket(spec);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value()) << "a bad option must not invalidate the packet";
  EXPECT_EQ(view->options().mss, GetParam().mss);
  EXPECT_EQ(view->options().sackBlockCount, GetParam().sackBlocks);
  EXPECT_EQ(view->options().sackPermitted, GetParam().sackPermitted);
  EXPECT_EQ(std::string(view->payload().begin(), view->payload().end()), spec.payload);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RawTcpOptions,
    ::testing::Values(
        OptionsCase{"mss_then_length_past_header", {2, 4, 5, 0xB4, 8, 40, 0, 0}, 1460, 0, false},
        OptionsCase{"length_zero_stops", {4, 0, 2, 4, 5, 0xB4, 0, 0}, std::nullopt, 0, false},
        OptionsCase{"length_one_stops", {4, 1, 2, 4, 5, 0xB4, 0, 0}, std::nullopt, 0, false},
        OptionsCase{"end_of_list_stops", {4, 2, 0, 2, 4, 5, 0xB4, 0}, std::nullopt, 0, true},
        OptionsCase{"nops_are_skipped", {1, 1, 1, 2, 4, 5, 0xB4, 1, 4, 2, 1, 1}, 1460, 0, true},
        OptionsCase{"unknown_kind_is_skipped_by_length",
                    {8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 2, 4, 1, 0, 0, 0},
                    256,
                    0,
                    false},
        OptionsCase{"mss_with_wrong_length_is_ignored", {2, 3, 5, 2, 4, 1, 0, 0}, 0x100, 0, false},
        OptionsCase{"sack_with_partial_block_is_ignored",
                    {5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0},
                    std::nullopt,
                    0,
                    false},
        OptionsCase{"sack_with_no_blocks_is_ignored", {5, 2, 2, 4, 1, 0, 0, 0}, 0x100, 0, false},
        OptionsCase{"kind_without_length_byte_at_end", {1, 1, 1, 2}, std::nullopt, 0, false},
        OptionsCase{
            "sack_running_past_header", {1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2}, std::nullopt, 0, false}),
    [](const auto& options) { return std::string(options.param.name); });

TEST(PacketViewOptions, OnlyTheFirstSackOptionIsRecorded) {
  TcpPacketSpec spec = v4Spec();
  spec.sack = {{100, 200}};
  spec.rawTcpOptions = {1, 1, 5, 10, 0, 0, 1, 0, 0, 0, 2, 0};
  const Bytes bytes = buildTcpPacket(spec);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  ASSERT_EQ(view->options().sackBlockCount, 1);
  EXPECT_EQ(view->options().sackBlocks[0].left, SeqNum(100));
  EXPECT_EQ(view->options().sackOffset, 20u + 20 + 4);
}

TEST(PacketView, FinAndSynEachConsumeOneSequenceNumber) {
  TcpPacketSpec spec = v4Spec();
  spec.flags = tcp_flags::kFin | tcp_flags::kAck;
  EXPECT_EQ(PacketView::parse(buildTcpPacket(spec))->sequenceLength(), spec.payload.size() + 1);
  spec.flags = tcp_flags::kSyn | tcp_flags::kFin;
  EXPECT_EQ(PacketView::parse(buildTcpPacket(spec))->sequenceLength(), spec.payload.size() + 2);
}

// ---- robustness ---------------------------------------------------------------------------------

std::vector<Bytes> robustnessCorpus() {
  TcpPacketSpec v4 = v4Spec();
  v4.ipv4Options = {7, 7, 4, 0, 0, 0, 0};
  v4.mss = 1400;
  v4.sack = {{1, 2}, {3, 4}};
  TcpPacketSpec v6 = v6Spec();
  v6.ipv6HopByHop = true;
  v6.sackPermitted = true;
  v6.sack = {{5, 6}, {7, 8}, {9, 10}, {11, 12}};
  return {buildTcpPacket(v4), buildTcpPacket(v6), buildTcpPacket(v4Spec()),
          withIpv6ExtensionHeaders(buildTcpPacket(v6Spec()),
                                   {{0, kDestinationOptions8}, {43, kRouting16}, {51, kAuthentication16}})};
}

// Whatever parse() accepts must describe spans inside the buffer.
void expectConsistent(const PacketView& view, std::size_t bufferSize) {
  EXPECT_LE(view.ipPacket().size(), bufferSize);
  EXPECT_LE(view.ipHeaderLength(), view.tcpOffset());
  EXPECT_GE(view.tcpHeaderLength(), 20u);
  EXPECT_LE(view.payloadOffset(), view.ipPacket().size());
  EXPECT_EQ(view.payload().size(), view.ipPacket().size() - view.payloadOffset());
  if (view.options().sackBlockCount > 0) {
    EXPECT_LE(view.options().sackOffset + 8u * view.options().sackBlockCount, view.payloadOffset());
    EXPECT_GE(view.options().sackOffset, view.tcpOffset() + 20);
  }
}

TEST(PacketViewRobustness, EveryStrictPrefixOfAValidPacketIsTruncated) {
  for (const Bytes& full : robustnessCorpus()) {
    ASSERT_TRUE(PacketView::parse(full).has_value());
    for (std::size_t length = 0; length < full.size(); ++length) {
      // A fresh heap copy of exactly `length` bytes, so a sanitizer sees any overread.
      const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
      EXPECT_EQ(errorOf(prefix), PacketParseError::Truncated) << "length " << length;
    }
  }
}

TEST(PacketViewRobustness, EveryLyingIpLengthFieldFailsOrStaysInBounds) {
  for (const Bytes& full : robustnessCorpus()) {
    const bool v4 = (full[0] >> 4) == 4;
    for (std::uint32_t claimed = 0; claimed <= 0xFFFF; ++claimed) {
      Bytes bytes = full;
      put16(bytes, v4 ? 2 : 4, static_cast<std::uint16_t>(claimed));
      const auto view = PacketView::parse(bytes);
      if (!view) continue;
      const std::size_t expectedLength = v4 ? claimed : claimed + 40u;
      EXPECT_EQ(view->ipPacket().size(), expectedLength);
      expectConsistent(*view, bytes.size());
    }
  }
}

TEST(PacketViewRobustness, EveryIhlValueFailsOrStaysInBounds) {
  const Bytes full = buildTcpPacket(v4Spec());
  std::set<std::size_t> acceptedHeaderLengths;
  for (std::uint8_t ihl = 0; ihl < 16; ++ihl) {
    Bytes bytes = full;
    bytes[0] = static_cast<std::uint8_t>(0x40 | ihl);
    const auto view = PacketView::parse(bytes);
    if (ihl < 5) {
      EXPECT_EQ(errorOf(bytes), PacketParseError::BadIpHeaderLength) << int{ihl};
    }
    if (!view) continue;
    EXPECT_EQ(view->ipHeaderLength(), ihl * 4u);
    acceptedHeaderLengths.insert(view->ipHeaderLength());
    expectConsistent(*view, bytes.size());
  }
  EXPECT_TRUE(acceptedHeaderLengths.count(20));
}

TEST(PacketViewRobustness, EveryDataOffsetValueFailsOrStaysInBounds) {
  for (const Bytes& full : robustnessCorpus()) {
    const auto original = PacketView::parse(full);
    ASSERT_TRUE(original.has_value());
    const std::size_t doffAt = original->tcpOffset() + 12;
    for (std::uint8_t doff = 0; doff < 16; ++doff) {
      Bytes bytes = full;
      bytes[doffAt] = static_cast<std::uint8_t>((doff << 4) | (bytes[doffAt] & 0x0F));
      const auto view = PacketView::parse(bytes);
      const std::size_t segment = original->ipPacket().size() - original->tcpOffset();
      if (doff < 5 || doff * 4u > segment) {
        EXPECT_EQ(errorOf(bytes), PacketParseError::BadTcpHeaderLength) << int{doff};
        continue;
      }
      ASSERT_TRUE(view.has_value()) << int{doff};
      EXPECT_EQ(view->tcpHeaderLength(), doff * 4u);
      expectConsistent(*view, bytes.size());
    }
  }
}

TEST(PacketViewRobustness, RandomByteCorruptionNeverEscapesTheBuffer) {
  std::mt19937 random(20240601);
  for (const Bytes& full : robustnessCorpus()) {
    for (int round = 0; round < 4000; ++round) {
      Bytes bytes = full;
      const int edits = 1 + static_cast<int>(random() % 4);
      for (int e = 0; e < edits; ++e) {
        bytes[random() % bytes.size()] = static_cast<std::uint8_t>(random());
      }
      bytes.resize(random() % (bytes.size() + 1));
      const auto view = PacketView::parse(bytes);
      if (view) expectConsistent(*view, bytes.size());
    }
  }
}

TEST(PacketViewRobustness, Ipv6ExtensionHeaderLoopEndsAtTheLimit) {
  // Every header names destination options as next: the walk must stop after 8 headers even
  // though the payload length would allow many more.
  Bytes bytes = buildTcpPacket(v6Spec());
  bytes[6] = 60;
  bytes.resize(40);
  for (int i = 0; i < 100; ++i) bytes.insert(bytes.end(), {60, 0, 1, 4, 0, 0, 0, 0});
  put16(bytes, 4, static_cast<std::uint16_t>(bytes.size() - 40));
  EXPECT_EQ(errorOf(bytes), PacketParseError::ExtensionHeaderLimit);
}

TEST(PacketParseErrorName, EveryErrorHasADistinctSnakeCaseName) {
  const PacketParseError all[] = {
      PacketParseError::Truncated,          PacketParseError::BadIpVersion,
      PacketParseError::BadIpHeaderLength,  PacketParseError::BadTotalLength,
      PacketParseError::Fragment,           PacketParseError::NotTcp,
      PacketParseError::BadTcpHeaderLength, PacketParseError::ExtensionHeaderLimit};
  std::set<std::string_view> names;
  for (const auto error : all) {
    const std::string_view name = packetParseErrorName(error);
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || c == '_';
    })) << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), std::size(all));
  EXPECT_EQ(packetParseErrorName(PacketParseError::Fragment), "fragment");
  EXPECT_EQ(packetParseErrorName(PacketParseError::NotTcp), "not_tcp");
}

}  // namespace
}  // namespace ftpalg
