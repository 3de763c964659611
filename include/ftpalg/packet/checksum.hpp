// Internet checksum: full computation (RFC 1071) and incremental update (RFC 1624 eqn. 3).
//
// Byte order: sums are computed over 16-bit words in network order and returned as the value to
// store in the header, in host order (store it with a big-endian write).
#pragma once

#include <cstdint>
#include <span>

#include "ftpalg/core/ip_address.hpp"

namespace ftpalg {
class PacketView;
}

namespace ftpalg::checksum {

// One's-complement sum of `data` folded to 16 bits, not inverted, seeded with `initial` (a
// partial sum from a previous call). Odd-length data is padded with a zero byte (RFC 1071 §4.1),
// so when chaining calls only the last piece may have an odd length.
std::uint32_t partialSum(std::span<const std::uint8_t> data, std::uint32_t initial = 0);
// Final checksum: fold and invert.
std::uint16_t finish(std::uint32_t sum);
// Full checksum of data (e.g. an IPv4 header with its checksum field zeroed).
std::uint16_t compute(std::span<const std::uint8_t> data);

// Pseudo-header partial sum for TCP: RFC 793 §3.1 (IPv4) / RFC 8200 §8.1 (IPv6).
std::uint32_t pseudoHeaderSum(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                              std::uint32_t l4Length);

// TCP checksum of a segment (header with checksum field treated as zero + payload).
std::uint16_t tcpChecksum(const IpAddress& src, const IpAddress& dst,
                          std::span<const std::uint8_t> tcpSegment);

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from m to m'.
std::uint16_t incrementalUpdate16(std::uint16_t oldChecksum, std::uint16_t oldValue, std::uint16_t newValue);
// The same for a 32-bit field (two 16-bit words).
std::uint16_t incrementalUpdate32(std::uint16_t oldChecksum, std::uint32_t oldValue, std::uint32_t newValue);

// True when the packet's IPv4 header checksum (if IPv4) and TCP checksum are both correct.
// `ipPacket` starts at the IP header; false for anything PacketView cannot parse.
bool verifyPacket(std::span<const std::uint8_t> ipPacket);

// What a parsed packet's checksums say about its bytes.
enum class ChecksumState : std::uint8_t {
  Valid,  // the IPv4 header checksum (IPv4) and the TCP checksum are correct
  // The IPv4 header checksum is correct and the TCP checksum field holds the folded
  // pseudo-header sum alone (in host order: pseudoHeaderSum folded, not inverted): the form in
  // which a Linux sender hands a segment to a NIC that completes the checksum (CHECKSUM_PARTIAL,
  // include/linux/skbuff.h), as a capture on the sending host shows it. Not valid on the wire.
  Offloaded,
  Bad,  // anything else: a receiver drops the packet (RFC 9293 §3.1, RFC 791 §3.1)
};
// One pass over the TCP segment (and the IPv4 header). The TCP checksum covers the segment as far
// as the IP length fields say (RFC 8200 §8.1: from the IPv6 header's source and destination; a
// Routing header's final destination is not looked for).
ChecksumState checkPacket(const PacketView& packet);

}  // namespace ftpalg::checksum
