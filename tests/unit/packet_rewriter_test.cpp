// PacketRewriter: lengths, checksums (checked by the library AND by the builder's independent
// sum), seq/ack/SACK/FIN edits, and byte-for-byte preservation of everything else.
#include "ftpalg/packet/packet_rewriter.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ftpalg/packet/checksum.hpp"
#include "packet_builder.hpp"

namespace ftpalg {
namespace {

using testing::buildTcpPacket;
using testing::bytesOf;
using testing::ep;
using testing::independentChecksumsValid;
using testing::TcpPacketSpec;

std::uint32_t load32(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  return (static_cast<std::uint32_t>(bytes[at]) << 24) | (static_cast<std::uint32_t>(bytes[at + 1]) << 16) |
         (static_cast<std::uint32_t>(bytes[at + 2]) << 8) | bytes[at + 3];
}
std::uint16_t load16(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

// The packet shapes every rewrite behaviour is checked against.
struct Shape {
  const char* name;
  TcpPacketSpec spec;
};

std::vector<Shape> shapes() {
  TcpPacketSpec v4;
  v4.src = ep("192.168.78.10:50000");
  v4.dst = ep("198.51.100.7:21");
  v4.seq = 1000;
  v4.ack = 2000;
  v4.flags = tcp_flags::kAck | tcp_flags::kPsh;
  v4.payload = "PORT 192,168,78,10,195,80\r\n";

  TcpPacketSpec v4Options = v4;
  // Record Route (7), length 11, pointer 4, room for two addresses: padded to 12 by the builder.
  v4Options.ipv4Options = {7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0};
  v4Options.sack = {{5000, 6000}, {7000, 8000}};

  TcpPacketSpec v6;
  v6.src = ep("[2001:db8::10]:50000");
  v6.dst = ep("[2001:db8:1::7]:21");
  v6.seq = 0xFFFFFFF0u;  // wraps within the segment
  v6.ack = 77;
  v6.payload = "EPRT |2|2001:db8::10|50000|\r\n";

  TcpPacketSpec v6HopByHop = v6;
  v6HopByHop.ipv6HopByHop = true;
  v6HopByHop.sack = {{1, 2}, {3, 4}, {5, 6}};

  TcpPacketSpec v4FinSackOdd = v4;  // SACK edges at odd offsets within the TCP header
  v4FinSackOdd.flags = tcp_flags::kAck | tcp_flags::kFin;
  v4FinSackOdd.rawTcpOptions = {1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0};
  v4FinSackOdd.payload = "QUIT\r\n";

  return {{"ipv4", v4},
          {"ipv4_with_options_and_sack", v4Options},
          {"ipv6", v6},
          {"ipv6_hop_by_hop_and_sack", v6HopByHop},
          {"ipv4_fin_odd_sack", v4FinSackOdd}};
}

class RewriteEveryShape : public ::testing::TestWithParam<Shape> {
 protected:
  void SetUp() override {
    bytes_ = buildTcpPacket(GetParam().spec);
    const auto parsed = PacketView::parse(bytes_);
    ASSERT_TRUE(parsed.has_value());
    view_ = *parsed;
  }
  // Both checksum implementations accept the output, and it parses.
  static void expectValid(const std::vector<std::uint8_t>& out) {
    EXPECT_TRUE(checksum::verifyPacket(out));
    EXPECT_TRUE(independentChecksumsValid(out));
    EXPECT_TRUE(PacketView::parse(out).has_value());
  }
  std::vector<std::uint8_t> bytes_;
  PacketView view_;
};

TEST_P(RewriteEveryShape, EmptyEditReproducesTheOriginalBytes) {
  EXPECT_EQ(rewritePacket(view_, PacketEdit{}), bytes_);
}

TEST_P(RewriteEveryShape, GrownPayloadKeepsHeadersAndFixesLengthsAndChecksums) {
  const auto payload = bytesOf("PORT 203,0,113,200,195,80,and,more,bytes\r\n");
  ASSERT_GT(payload.size(), view_.payload().size());
  PacketEdit edit;
  edit.payload = payload;
  const auto out = rewritePacket(view_, edit);
  expectValid(out);
  const auto parsed = PacketView::parse(out);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(std::vector<std::uint8_t>(parsed->payload().begin(), parsed->payload().end()), payload);
  EXPECT_EQ(out.size(), view_.payloadOffset() + payload.size());
}

TEST_P(RewriteEveryShape, ShrunkPayloadFixesLengthsAndChecksums) {
  const auto payload = bytesOf("X\r\n");
  PacketEdit edit;
  edit.payload = payload;
  const auto out = rewritePacket(view_, edit);
  expectValid(out);
  ASSERT_EQ(out.size(), view_.payloadOffset() + payload.size());
  EXPECT_EQ(PacketView::parse(out)->payload().size(), payload.size());
}

TEST_P(RewriteEveryShape, SeqAndAckAreSetWithIncrementalChecksum) {
  PacketEdit edit;
  edit.seq = SeqNum(0x01020304);
  edit.ack = SeqNum(0xFEDCBA98);
  const auto out = rewritePacket(view_, edit);
  expectValid(out);
  const auto parsed = PacketView::parse(out);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->seq().raw(), 0x01020304u);
  EXPECT_EQ(parsed->ack().raw(), 0xFEDCBA98u);
}

TEST_P(RewriteEveryShape, SeqAckEditLeavesEveryOtherByteButTheChecksumUnchanged) {
  PacketEdit edit;
  edit.seq = SeqNum(view_.seq().raw() + 3);
  edit.ack = SeqNum(view_.ack().raw() - 5);
  const auto out = rewritePacket(view_, edit);
  ASSERT_EQ(out.size(), bytes_.size());
  const std::size_t tcp = view_.tcpOffset();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool seqOrAck = i >= tcp + 4 && i < tcp + 12;
    const bool tcpChecksum = i == tcp + 16 || i == tcp + 17;
    if (!seqOrAck && !tcpChecksum) {
      EXPECT_EQ(out[i], bytes_[i]) << "byte " << i;
    }
  }
  EXPECT_EQ(load32(out, tcp + 4), view_.seq().raw() + 3);
  EXPECT_EQ(load32(out, tcp + 8), view_.ack().raw() - 5);
}

TEST_P(RewriteEveryShape, PayloadEditLeavesAllHeaderBytesButLengthsAndChecksumsUnchanged) {
  const auto payload = bytesOf("227 Entering Passive Mode (203,0,113,9,4,1).\r\n");
  PacketEdit edit;
  edit.payload = payload;
  const auto out = rewritePacket(view_, edit);
  ASSERT_EQ(out.size(), view_.payloadOffset() + payload.size());
  const std::size_t tcp = view_.tcpOffset();
  const bool v4 = view_.family() == IpFamily::V4;
  for (std::size_t i = 0; i < view_.payloadOffset(); ++i) {
    const bool ipLength = v4 ? (i == 2 || i == 3) : (i == 4 || i == 5);
    const bool ipChecksum = v4 && (i == 10 || i == 11);
    const bool tcpChecksum = i == tcp + 16 || i == tcp + 17;
    if (!ipLength && !ipChecksum && !tcpChecksum) {
      EXPECT_EQ(out[i], bytes_[i]) << "byte " << i;
    }
  }
  const std::size_t lengthField = v4 ? out.size() : out.size() - 40;
  EXPECT_EQ(load16(out, v4 ? 2 : 4), lengthField);
}

TEST_P(RewriteEveryShape, ClearFinClearsOnlyTheFinBit) {
  PacketEdit edit;
  edit.clearFin = true;
  const auto out = rewritePacket(view_, edit);
  expectValid(out);
  const std::size_t flagsAt = view_.tcpOffset() + 13;
  EXPECT_EQ(out[flagsAt], bytes_[flagsAt] & ~tcp_flags::kFin);
}

class RewriteSackShape : public RewriteEveryShape {};

TEST_P(RewriteSackShape, SackEdgesArePatchedInPlace) {
  const auto& options = view_.options();
  ASSERT_GT(options.sackBlockCount, 0);
  std::vector<SackBlock> blocks;
  for (std::uint8_t i = 0; i < options.sackBlockCount; ++i) {
    blocks.push_back({SeqNum(options.sackBlocks[i].left.raw() + 0x10000u * (i + 1)),
                      SeqNum(options.sackBlocks[i].right.raw() - 7u * (i + 1))});
  }
  PacketEdit edit;
  edit.sackBlocks = blocks;
  const auto out = rewritePacket(view_, edit);
  expectValid(out);
  const auto parsed = PacketView::parse(out);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->options().sackBlockCount, blocks.size());
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(parsed->options().sackBlocks[i].left, blocks[i].left);
    EXPECT_EQ(parsed->options().sackBlocks[i].right, blocks[i].right);
  }
  const std::size_t tcp = view_.tcpOffset();
  const std::size_t sackBegin = options.sackOffset;
  const std::size_t sackEnd = sackBegin + 8 * blocks.size();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool sack = i >= sackBegin && i < sackEnd;
    const bool tcpChecksum = i == tcp + 16 || i == tcp + 17;
    if (!sack && !tcpChecksum) {
      EXPECT_EQ(out[i], bytes_[i]) << "byte " << i;
    }
  }
}

TEST_P(RewriteEveryShape, AllEditsTogetherProduceValidChecksums) {
  const auto& options = view_.options();
  std::vector<SackBlock> blocks(options.sackBlocks.begin(),
                                options.sackBlocks.begin() + options.sackBlockCount);
  for (auto& block : blocks) block = {block.left + 3, block.right + 3};
  const auto payload = bytesOf("PORT 203,0,113,200,4,1\r\n");
  PacketEdit edit;
  edit.payload = payload;
  edit.seq = view_.seq() + 11;
  edit.ack = view_.ack() - 11;
  edit.sackBlocks = blocks;
  edit.clearFin = true;
  const auto out = rewritePacket(view_, edit);
  expectValid(out);
  const auto parsed = PacketView::parse(out);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->seq(), view_.seq() + 11);
  EXPECT_EQ(parsed->ack(), view_.ack() - 11);
  EXPECT_FALSE(parsed->hasFlag(tcp_flags::kFin));
  EXPECT_EQ(parsed->payload().size(), payload.size());
}

TEST_P(RewriteEveryShape, OriginalBufferIsNotModified) {
  const auto before = bytes_;
  PacketEdit edit;
  const auto payload = bytesOf("NOOP\r\n");
  edit.payload = payload;
  edit.seq = view_.seq() + 1;
  edit.clearFin = true;
  static_cast<void>(rewritePacket(view_, edit));
  EXPECT_EQ(bytes_, before);
}

// The rewriter's output must equal, byte for byte, what the independent builder produces for the
// edited spec: this checks lengths, both checksums and every untouched byte at once.
TEST_P(RewriteEveryShape, OutputEqualsIndependentlyBuiltPacketWithTheSameFields) {
  TcpPacketSpec expected = GetParam().spec;
  expected.seq += 0x10203;
  expected.ack -= 77;
  expected.flags = static_cast<std::uint8_t>(expected.flags & ~tcp_flags::kFin);
  expected.payload = "227 Entering Passive Mode (203,0,113,9,195,80).\r\n";
  const auto payload = bytesOf(expected.payload);
  PacketEdit edit;
  edit.payload = payload;
  edit.seq = SeqNum(expected.seq);
  edit.ack = SeqNum(expected.ack);
  edit.clearFin = true;
  EXPECT_EQ(rewritePacket(view_, edit), buildTcpPacket(expected));
}

TEST_P(RewriteEveryShape, HeaderOnlyOutputEqualsIndependentlyBuiltPacket) {
  TcpPacketSpec expected = GetParam().spec;
  expected.seq = ~expected.seq;
  expected.ack = expected.ack + 0x80000000u;
  PacketEdit edit;
  edit.seq = SeqNum(expected.seq);
  edit.ack = SeqNum(expected.ack);
  EXPECT_EQ(rewritePacket(view_, edit), buildTcpPacket(expected));
}

TEST_P(RewriteEveryShape, LinkPaddingIsNotCopied) {
  auto padded = bytes_;
  padded.insert(padded.end(), 6, 0xEE);
  const auto view = PacketView::parse(padded);
  ASSERT_TRUE(view.has_value());
  PacketEdit edit;
  edit.seq = view->seq() + 1;
  const auto out = rewritePacket(*view, edit);
  EXPECT_EQ(out.size(), bytes_.size());
  expectValid(out);
}

TEST_P(RewriteEveryShape, PayloadBeyondTheLengthFieldYieldsEmptyResult) {
  const std::size_t headers =
      view_.family() == IpFamily::V4 ? view_.payloadOffset() : view_.payloadOffset() - 40;
  const std::vector<std::uint8_t> fits(0xFFFF - headers, 'a');
  const std::vector<std::uint8_t> tooLong(0xFFFF - headers + 1, 'a');
  PacketEdit edit;
  edit.payload = fits;
  const auto out = rewritePacket(view_, edit);
  EXPECT_EQ(out.size(), view_.payloadOffset() + fits.size());
  expectValid(out);
  edit.payload = tooLong;
  EXPECT_TRUE(rewritePacket(view_, edit).empty());
}

// --- Checksum errors are carried over, never laundered ------------------------------------------

// A packet damaged in transit after its checksums were computed: one bit of its payload flipped
// (and, for IPv4, one bit of its TTL, which only the header checksum covers).
std::vector<std::uint8_t> damaged(std::vector<std::uint8_t> packet) {
  const auto view = PacketView::parse(packet);
  packet[view->payloadOffset() + 1] ^= 0x20;
  if (view->family() == IpFamily::V4) packet[8] ^= 0x01;
  return packet;
}
std::vector<std::uint8_t> repaired(std::vector<std::uint8_t> packet, std::size_t payloadOffset) {
  packet[payloadOffset + 1] ^= 0x20;
  if ((packet[0] >> 4) == 4) packet[8] ^= 0x01;
  return packet;
}

TEST_P(RewriteEveryShape, ACorruptPacketStaysCorruptWhateverChanges) {
  const auto corrupt = damaged(bytes_);
  const auto view = PacketView::parse(corrupt);
  ASSERT_TRUE(view);
  ASSERT_FALSE(independentChecksumsValid(corrupt));
  PacketEdit headerOnly;
  headerOnly.seq = view->seq() + 5;
  headerOnly.ack = view->ack() - 5;
  PacketEdit samePayload = headerOnly;  // a new payload span with the same (corrupt) bytes
  samePayload.payload = view->payload();
  PacketEdit shorter = headerOnly;  // a new length, the damaged byte kept at its place
  shorter.payload = view->payload().first(view->payload().size() - 2);
  for (const PacketEdit* edit : {&headerOnly, &samePayload, &shorter}) {
    const auto out = rewritePacket(*view, *edit);
    EXPECT_FALSE(independentChecksumsValid(out)) << "laundered";
    EXPECT_FALSE(checksum::verifyPacket(out)) << "laundered";
    // Undoing the damage gives a valid packet: the error carried over is exactly the original's
    // (as long as the damaged byte keeps its place in its 16-bit word).
    EXPECT_TRUE(independentChecksumsValid(repaired(out, PacketView::parse(out)->payloadOffset())))
        << "the error changed";
  }
  // A stripped prefix moves the damaged byte within its word: the error changes, the packet
  // stays corrupt.
  PacketEdit stripped = headerOnly;
  stripped.payload = view->payload().subspan(1);
  EXPECT_FALSE(independentChecksumsValid(rewritePacket(*view, stripped))) << "laundered";
}

TEST_P(RewriteEveryShape, RecomputeGivesAnOffloadedPacketRealChecksums) {
  const auto offloaded = testing::withOffloadedChecksum(bytes_);
  const auto view = PacketView::parse(offloaded);
  ASSERT_TRUE(view);
  PacketEdit edit;
  edit.seq = view->seq() + 1;
  EXPECT_FALSE(independentChecksumsValid(rewritePacket(*view, edit)))
      << "KeepError keeps the partial form wrong";
  edit.checksums = ChecksumUpdate::Recompute;
  expectValid(rewritePacket(*view, edit));
  edit.payload = view->payload().first(3);
  expectValid(rewritePacket(*view, edit));
}

TEST_P(RewriteSackShape, SackEditOutputEqualsIndependentlyBuiltPacket) {
  TcpPacketSpec expected = GetParam().spec;
  std::vector<SackBlock> blocks;
  for (auto& [left, right] : expected.sack) {
    left -= 1000;
    right += 0x7FFF0000u;
    blocks.push_back({SeqNum(left), SeqNum(right)});
  }
  PacketEdit edit;
  edit.sackBlocks = blocks;
  EXPECT_EQ(rewritePacket(view_, edit), buildTcpPacket(expected));
}

INSTANTIATE_TEST_SUITE_P(Shapes, RewriteEveryShape, ::testing::ValuesIn(shapes()),
                         [](const auto& shape) { return std::string(shape.param.name); });

std::vector<Shape> sackShapes() {
  std::vector<Shape> result;
  for (const auto& shape : shapes()) {
    if (!shape.spec.sack.empty()) result.push_back(shape);
  }
  return result;
}

INSTANTIATE_TEST_SUITE_P(Shapes, RewriteSackShape, ::testing::ValuesIn(sackShapes()),
                         [](const auto& shape) { return std::string(shape.param.name); });

TEST(RewriteOddSack, SackEdgesAtOddHeaderOffsetsKeepChecksumsValid) {
  // NOP, SACK(1 block) puts the edges at TCP header offset 23: the incremental update must
  // still be exact.
  TcpPacketSpec spec;
  spec.src = ep("192.0.2.1:1025");
  spec.dst = ep("198.51.100.2:21");
  spec.rawTcpOptions = {1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0};
  const auto bytes = buildTcpPacket(spec);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  ASSERT_EQ(view->options().sackBlockCount, 1);
  ASSERT_EQ((view->options().sackOffset - view->tcpOffset()) % 2, 1u);
  const SackBlock block{SeqNum(0xFEDC0123), SeqNum(0x89ABCDEF)};
  PacketEdit edit;
  edit.sackBlocks = std::span(&block, 1);
  const auto out = rewritePacket(*view, edit);
  EXPECT_TRUE(checksum::verifyPacket(out));
  EXPECT_TRUE(independentChecksumsValid(out));
  spec.rawTcpOptions = {1, 5, 10, 0xFE, 0xDC, 0x01, 0x23, 0x89, 0xAB, 0xCD, 0xEF};
  EXPECT_EQ(out, buildTcpPacket(spec));
}

// Property: random packets and random edits always give output identical to the builder's.
TEST(RewriteRandomized, RandomEditsOfRandomPacketsMatchTheIndependentBuilder) {
  std::mt19937 random(4242);
  const auto randomText = [&](std::size_t maxLength) {
    std::string text(random() % (maxLength + 1), ' ');
    for (char& c : text) c = static_cast<char>(random());
    return text;
  };
  for (int round = 0; round < 2000; ++round) {
    TcpPacketSpec spec;
    if (random() % 2 == 0) {
      spec.src = ep("10.1.2.3:40001");
      spec.dst = ep("203.0.113.77:21");
      const std::size_t optionWords = random() % 4;
      for (std::size_t i = 0; i < 4 * optionWords; ++i) spec.ipv4Options.push_back(1);
    } else {
      spec.src = ep("[2001:db8::abcd]:40001");
      spec.dst = ep("[2001:db8:ffff::1]:21");
      spec.ipv6HopByHop = random() % 2 == 0;
    }
    spec.seq = static_cast<std::uint32_t>(random());
    spec.ack = static_cast<std::uint32_t>(random());
    spec.flags = static_cast<std::uint8_t>((random() & 0x3F) | tcp_flags::kAck);
    spec.window = static_cast<std::uint16_t>(random());
    spec.urgentPointer = static_cast<std::uint16_t>(random());
    spec.ipv4Id = static_cast<std::uint16_t>(random());
    if (random() % 3 == 0) spec.mss = static_cast<std::uint16_t>(random());
    spec.sackPermitted = random() % 3 == 0;
    const std::size_t sackCount = random() % 4;  // at most 3 fit next to MSS and SACK-permitted
    for (std::size_t i = 0; i < sackCount; ++i) {
      spec.sack.emplace_back(static_cast<std::uint32_t>(random()), static_cast<std::uint32_t>(random()));
    }
    spec.payload = randomText(200);
    const auto bytes = buildTcpPacket(spec);
    const auto view = PacketView::parse(bytes);
    ASSERT_TRUE(view.has_value()) << round;

    TcpPacketSpec expected = spec;
    PacketEdit edit;
    std::vector<std::uint8_t> payload;
    std::vector<SackBlock> blocks;
    if (random() % 2 == 0) {
      expected.payload = randomText(200);
      payload = bytesOf(expected.payload);
      edit.payload = payload;
    }
    if (random() % 2 == 0) {
      expected.seq = static_cast<std::uint32_t>(random());
      edit.seq = SeqNum(expected.seq);
    }
    if (random() % 2 == 0) {
      expected.ack = static_cast<std::uint32_t>(random());
      edit.ack = SeqNum(expected.ack);
    }
    if (random() % 2 == 0) {
      edit.clearFin = true;
      expected.flags = static_cast<std::uint8_t>(expected.flags & ~tcp_flags::kFin);
    }
    if (!expected.sack.empty() && random() % 2 == 0) {
      for (auto& [left, right] : expected.sack) {
        left = static_cast<std::uint32_t>(random());
        right = static_cast<std::uint32_t>(random());
        blocks.push_back({SeqNum(left), SeqNum(right)});
      }
      edit.sackBlocks = blocks;
    }
    const auto out = rewritePacket(*view, edit);
    ASSERT_EQ(out, buildTcpPacket(expected)) << "round " << round;
    ASSERT_TRUE(checksum::verifyPacket(out)) << "round " << round;
    ASSERT_TRUE(independentChecksumsValid(out)) << "round " << round;
  }
}

}  // namespace
}  // namespace ftpalg
