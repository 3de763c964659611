// Internet checksum (RFC 1071) and its incremental update (RFC 1624).
#include "ftpalg/packet/checksum.hpp"

#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg::checksum {
namespace {

constexpr std::uint8_t kProtocolTcp = 6;

// End-around carry: folds a wide one's-complement accumulator to 16 bits (RFC 1071 §2(B)).
std::uint32_t fold(std::uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint32_t>(sum);
}

}  // namespace

std::uint32_t partialSum(std::span<const std::uint8_t> data, std::uint32_t initial) {
  // A 64-bit accumulator cannot overflow for any span that fits in memory at 16 bits per step
  // below 2^48 words, so the carries are folded once at the end.
  std::uint64_t sum = initial;
  const std::size_t evenLength = data.size() & ~static_cast<std::size_t>(1);
  for (std::size_t i = 0; i < evenLength; i += 2) {
    sum += static_cast<std::uint32_t>((data[i] << 8) | data[i + 1]);
  }
  if (evenLength != data.size()) {
    sum += static_cast<std::uint32_t>(data[evenLength] << 8);  // RFC 1071 §4.1: pad with zero
  }
  return fold(sum);
}

std::uint16_t finish(std::uint32_t sum) { return static_cast<std::uint16_t>(~fold(sum) & 0xFFFF); }

std::uint16_t compute(std::span<const std::uint8_t> data) { return finish(partialSum(data)); }

std::uint32_t pseudoHeaderSum(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                              std::uint32_t l4Length) {
  // IPv4 (RFC 793 §3.1): src, dst, zero, protocol, 16-bit TCP length.
  // IPv6 (RFC 8200 §8.1): src, dst, 32-bit upper-layer length, three zero bytes, next header.
  // Both reduce to the same one's-complement sum of the length's 16-bit halves and the protocol.
  std::uint64_t sum = partialSum(src.bytes());
  sum += partialSum(dst.bytes());
  sum += protocol;
  sum += l4Length >> 16;
  sum += l4Length & 0xFFFF;
  return fold(sum);
}

std::uint16_t tcpChecksum(const IpAddress& src, const IpAddress& dst,
                          std::span<const std::uint8_t> tcpSegment) {
  constexpr std::size_t kChecksumOffset = 16;
  std::uint32_t sum = pseudoHeaderSum(src, dst, kProtocolTcp, static_cast<std::uint32_t>(tcpSegment.size()));
  if (tcpSegment.size() < kChecksumOffset + 2) return finish(partialSum(tcpSegment, sum));
  // Skip the checksum field itself (treated as zero). Both pieces start at even offsets.
  sum = partialSum(tcpSegment.first(kChecksumOffset), sum);
  sum = partialSum(tcpSegment.subspan(kChecksumOffset + 2), sum);
  return finish(sum);
}

std::uint16_t incrementalUpdate16(std::uint16_t oldChecksum, std::uint16_t oldValue, std::uint16_t newValue) {
  // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
  std::uint64_t sum = static_cast<std::uint16_t>(~oldChecksum);
  sum += static_cast<std::uint16_t>(~oldValue);
  sum += newValue;
  return static_cast<std::uint16_t>(~fold(sum) & 0xFFFF);
}

std::uint16_t incrementalUpdate32(std::uint16_t oldChecksum, std::uint32_t oldValue, std::uint32_t newValue) {
  const std::uint16_t afterHigh = incrementalUpdate16(oldChecksum, static_cast<std::uint16_t>(oldValue >> 16),
                                                      static_cast<std::uint16_t>(newValue >> 16));
  return incrementalUpdate16(afterHigh, static_cast<std::uint16_t>(oldValue & 0xFFFF),
                             static_cast<std::uint16_t>(newValue & 0xFFFF));
}

bool verifyPacket(std::span<const std::uint8_t> ipPacket) {
  const auto view = PacketView::parse(ipPacket);
  return view && checkPacket(*view) == ChecksumState::Valid;
}

ChecksumState checkPacket(const PacketView& view) {
  const auto packet = view.ipPacket();
  // A correct IPv4 header sums to 0xFFFF including its own checksum field.
  if (view.family() == IpFamily::V4 && compute(packet.first(view.ipHeaderLength())) != 0) {
    return ChecksumState::Bad;
  }
  constexpr std::size_t kChecksumOffset = 16;
  const auto segment = packet.subspan(view.tcpOffset());
  const std::uint32_t pseudo = pseudoHeaderSum(view.srcAddress(), view.dstAddress(), kProtocolTcp,
                                               static_cast<std::uint32_t>(segment.size()));
  // A correct segment sums to 0xFFFF with the pseudo-header, including its checksum field.
  if (finish(partialSum(segment, pseudo)) == 0) return ChecksumState::Valid;
  const auto field =
      static_cast<std::uint16_t>((segment[kChecksumOffset] << 8) | segment[kChecksumOffset + 1]);
  return field == fold(pseudo) ? ChecksumState::Offloaded : ChecksumState::Bad;
}

}  // namespace ftpalg::checksum
