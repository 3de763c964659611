// Test support: builds IPv4/IPv6 + TCP packets with valid checksums, and checks checksums,
// using code written independently of src/packet (a plain byte-pair sum), so tests compare the
// library against a second computation.
//
// Byte order: the built packets are wire bytes (network order). Spec fields are host order.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg::testing {

struct TcpPacketSpec {
  Endpoint src, dst;  // family of src decides IPv4/IPv6
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = tcp_flags::kAck;  // from packet_view.hpp
  std::uint16_t window = 65535;
  std::string payload;
  std::optional<std::uint16_t> mss;  // adds MSS option
  bool sackPermitted = false;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack;  // SACK blocks (left, right), 1-4
  std::vector<std::uint8_t> ipv4Options;                      // raw, padded with EOL to a multiple of 4
  bool ipv6HopByHop = false;                                  // insert an 8-byte hop-by-hop header (PadN)
  // Additional knobs (not needed by most tests).
  std::vector<std::uint8_t> rawTcpOptions;  // appended after the above, padded with EOL to x4
  std::uint16_t ipv4Id = 0x1234;
  std::uint16_t urgentPointer = 0;
  std::uint8_t ttl = 64;  // IPv4 TTL / IPv6 hop limit
};

// The packet, starting at the IP header, with a correct IPv4 header checksum and TCP checksum.
// TCP options are laid out as: MSS, NOP NOP SACK-permitted, NOP NOP SACK, raw options, EOL padding.
std::vector<std::uint8_t> buildTcpPacket(const TcpPacketSpec& spec);

// Convenience: IpAddress/Endpoint from text, aborting the test on bad text.
IpAddress ip(std::string_view text);
Endpoint ep(std::string_view text);  // "192.0.2.1:21", "[2001:db8::1]:21"

// Independent checksum check: parses just enough of the packet by itself (IPv4 IHL and total
// length; IPv6 hop-by-hop/routing/destination-options headers) and verifies the IPv4 header
// checksum and the TCP checksum with its own byte-pair sum. False on anything it cannot follow.
bool independentChecksumsValid(std::span<const std::uint8_t> packet);

// The packet with its TCP checksum field replaced by the folded pseudo-header sum alone: the form
// in which a Linux sender leaves a segment whose checksum its NIC completes (CHECKSUM_PARTIAL), as
// a capture taken on that host shows it. Aborts the test on a packet it cannot follow.
std::vector<std::uint8_t> withOffloadedChecksum(std::vector<std::uint8_t> packet);
// True when the IPv4 header checksum (if IPv4) is valid and the TCP checksum field holds that
// pseudo-header sum.
bool independentChecksumOffloaded(std::span<const std::uint8_t> packet);

// The plain byte-pair one's-complement checksum of `data` (RFC 1071), written independently.
std::uint16_t independentChecksum(std::span<const std::uint8_t> data);

// Payload bytes of a string, for PacketEdit::payload.
std::vector<std::uint8_t> bytesOf(std::string_view text);

}  // namespace ftpalg::testing
