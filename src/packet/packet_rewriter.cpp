// rewritePacket: copy, patch, fix lengths and checksums. See the header for the contract.
#include "ftpalg/packet/packet_rewriter.hpp"

#include <algorithm>
#include <cassert>

#include "ftpalg/packet/checksum.hpp"

namespace ftpalg {
namespace {

// Offsets within the TCP header (RFC 793 §3.1).
constexpr std::size_t kTcpSeq = 4;
constexpr std::size_t kTcpAck = 8;
constexpr std::size_t kTcpFlags = 13;
constexpr std::size_t kTcpChecksum = 16;
// Offsets within the IP headers.
constexpr std::size_t kIpv4TotalLength = 2;
constexpr std::size_t kIpv4HeaderChecksum = 10;
constexpr std::size_t kIpv6PayloadLength = 4;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kMaxLengthField = 0xFFFF;
constexpr std::uint8_t kProtocolTcp = 6;

std::uint16_t load16(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return static_cast<std::uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}
void store16(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint16_t value) {
  bytes[offset] = static_cast<std::uint8_t>(value >> 8);
  bytes[offset + 1] = static_cast<std::uint8_t>(value & 0xFF);
}

// Tracks the TCP checksum across in-place header edits (RFC 1624 eqn. 3, applied to the 16-bit
// words that cover the edited bytes, so fields at odd offsets within the header work too).
class IncrementalTcpChecksum {
 public:
  IncrementalTcpChecksum(std::vector<std::uint8_t>& bytes, std::size_t tcpOffset)
      : bytes_(bytes), tcpOffset_(tcpOffset), checksum_(load16(bytes, tcpOffset + kTcpChecksum)) {}

  // Writes `value` (big-endian, `width` bytes) at packet offset `offset` and updates the sum.
  void set(std::size_t offset, std::uint32_t value, std::size_t width) {
    const std::size_t begin = offset - (offset - tcpOffset_) % 2;
    std::size_t end = offset + width;
    end += (end - tcpOffset_) % 2;
    const auto words = [&] { return std::span<const std::uint8_t>(bytes_.data() + begin, end - begin); };
    const std::uint32_t oldSum = checksum::partialSum(words());
    for (std::size_t i = 0; i < width; ++i) {
      bytes_[offset + i] = static_cast<std::uint8_t>(value >> (8 * (width - 1 - i)));
    }
    const std::uint32_t newSum = checksum::partialSum(words());
    // The covered words change from oldSum to newSum as a whole: one eqn. 3 step.
    checksum_ = checksum::incrementalUpdate16(checksum_, static_cast<std::uint16_t>(oldSum),
                                              static_cast<std::uint16_t>(newSum));
  }
  void commit() { store16(bytes_, tcpOffset_ + kTcpChecksum, checksum_); }

 private:
  std::vector<std::uint8_t>& bytes_;
  std::size_t tcpOffset_;
  std::uint16_t checksum_;
};

// One's-complement sum of a TCP segment with its pseudo-header, the checksum field left out: what
// the checksum field must be the complement of (RFC 9293 §3.1). Folded to 16 bits.
std::uint16_t segmentSum(const PacketView& packet, std::span<const std::uint8_t> segment) {
  std::uint32_t sum = checksum::pseudoHeaderSum(packet.srcAddress(), packet.dstAddress(), kProtocolTcp,
                                                static_cast<std::uint32_t>(segment.size()));
  sum = checksum::partialSum(segment.first(kTcpChecksum), sum);
  sum = checksum::partialSum(segment.subspan(kTcpChecksum + 2), sum);
  return static_cast<std::uint16_t>(~checksum::finish(sum));
}

}  // namespace

std::vector<std::uint8_t> rewritePacket(const PacketView& original, const PacketEdit& edit) {
  const auto source = original.ipPacket();
  const std::size_t headersLength = original.payloadOffset();
  const auto newPayload = edit.payload.value_or(original.payload());
  const std::size_t newLength = headersLength + newPayload.size();

  // The IPv4 total length and the IPv6 payload length are 16-bit fields.
  const std::size_t lengthField = original.family() == IpFamily::V4 ? newLength : newLength - kIpv6Header;
  if (lengthField > kMaxLengthField) return {};

  std::vector<std::uint8_t> out;
  out.reserve(newLength);
  out.insert(out.end(), source.begin(), source.begin() + static_cast<std::ptrdiff_t>(headersLength));
  out.insert(out.end(), newPayload.begin(), newPayload.end());

  const std::size_t tcp = original.tcpOffset();
  // Header edits first, each with its RFC 1624 update; a new payload (or Recompute) then derives
  // the checksum from the whole segment instead.
  IncrementalTcpChecksum tcpChecksum(out, tcp);
  if (edit.seq) tcpChecksum.set(tcp + kTcpSeq, edit.seq->raw(), 4);
  if (edit.ack) tcpChecksum.set(tcp + kTcpAck, edit.ack->raw(), 4);
  if (edit.clearFin) {
    tcpChecksum.set(tcp + kTcpFlags, out[tcp + kTcpFlags] & ~tcp_flags::kFin & 0xFF, 1);
  }
  const auto& options = original.options();
  assert(edit.sackBlocks.empty() || edit.sackBlocks.size() == options.sackBlockCount);
  const std::size_t sackCount = std::min<std::size_t>(edit.sackBlocks.size(), options.sackBlockCount);
  for (std::size_t i = 0; i < sackCount; ++i) {
    const std::size_t at = options.sackOffset + 8 * i;
    tcpChecksum.set(at, edit.sackBlocks[i].left.raw(), 4);
    tcpChecksum.set(at + 4, edit.sackBlocks[i].right.raw(), 4);
  }

  const bool recompute = edit.checksums == ChecksumUpdate::Recompute;
  if (original.family() == IpFamily::V4) {
    const std::uint16_t oldLength = load16(out, kIpv4TotalLength);
    store16(out, kIpv4TotalLength, static_cast<std::uint16_t>(newLength));
    if (recompute) {
      store16(out, kIpv4HeaderChecksum, 0);
      store16(out, kIpv4HeaderChecksum,
              checksum::compute(std::span<const std::uint8_t>(out.data(), original.ipHeaderLength())));
    } else if (oldLength != newLength) {
      store16(out, kIpv4HeaderChecksum,
              checksum::incrementalUpdate16(load16(out, kIpv4HeaderChecksum), oldLength,
                                            static_cast<std::uint16_t>(newLength)));
    }
  } else {
    store16(out, kIpv6PayloadLength, static_cast<std::uint16_t>(newLength - kIpv6Header));
  }

  const auto segment = std::span<const std::uint8_t>(out).subspan(tcp);
  if (recompute) {
    store16(out, tcp + kTcpChecksum,
            checksum::tcpChecksum(original.srcAddress(), original.dstAddress(), segment));
  } else if (edit.payload) {
    // The segment changed as a whole (and maybe its length, which the pseudo-header counts):
    // eqn. 3 with m = the old segment's sum and m' = the new one's.
    const auto oldSegment = source.subspan(tcp);
    store16(out, tcp + kTcpChecksum,
            checksum::incrementalUpdate16(load16(out, tcp + kTcpChecksum), segmentSum(original, oldSegment),
                                          segmentSum(original, segment)));
  } else {
    tcpChecksum.commit();
  }
  return out;
}

}  // namespace ftpalg
