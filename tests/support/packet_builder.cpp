// Independent packet construction for tests. Deliberately shares no code with src/packet.
#include "packet_builder.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace ftpalg::testing {
namespace {

void put16(std::vector<std::uint8_t>& out, std::size_t at, std::uint16_t value) {
  out[at] = static_cast<std::uint8_t>(value >> 8);
  out[at + 1] = static_cast<std::uint8_t>(value);
}
void put32(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t value) {
  put16(out, at, static_cast<std::uint16_t>(value >> 16));
  put16(out, at + 2, static_cast<std::uint16_t>(value));
}
void push16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}
void push32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  push16(out, static_cast<std::uint16_t>(value >> 16));
  push16(out, static_cast<std::uint16_t>(value));
}

[[noreturn]] void abortTest(const char* what, std::string_view text) {
  std::fprintf(stderr, "packet_builder: %s: \"%.*s\"\n", what, static_cast<int>(text.size()), text.data());
  std::abort();
}

// Plain sum of big-endian byte pairs, the odd last byte as the high half of a word.
std::uint32_t sumPairs(std::span<const std::uint8_t> data, std::uint32_t sum) {
  for (std::size_t i = 0; i < data.size(); i += 2) {
    std::uint32_t word = static_cast<std::uint32_t>(data[i]) << 8;
    if (i + 1 < data.size()) word |= data[i + 1];
    sum += word;
    if (sum > 0xFFFF) sum = (sum & 0xFFFF) + 1;  // end-around carry after every word
  }
  return sum;
}

std::uint16_t invert(std::uint32_t sum) { return static_cast<std::uint16_t>(~sum & 0xFFFF); }

// Builds the pseudo-header as bytes and sums it like any other data.
std::uint32_t pseudoHeader(std::span<const std::uint8_t> src, std::span<const std::uint8_t> dst,
                           std::size_t tcpLength) {
  std::vector<std::uint8_t> pseudo(src.begin(), src.end());
  pseudo.insert(pseudo.end(), dst.begin(), dst.end());
  if (src.size() == 4) {
    pseudo.push_back(0);
    pseudo.push_back(6);
    push16(pseudo, static_cast<std::uint16_t>(tcpLength));
  } else {
    push32(pseudo, static_cast<std::uint32_t>(tcpLength));
    pseudo.insert(pseudo.end(), {0, 0, 0, 6});
  }
  return sumPairs(pseudo, 0);
}

std::vector<std::uint8_t> buildTcpHeaderAndPayload(const TcpPacketSpec& spec) {
  std::vector<std::uint8_t> options;
  if (spec.mss) {
    options.insert(options.end(), {2, 4});
    push16(options, *spec.mss);
  }
  if (spec.sackPermitted) options.insert(options.end(), {1, 1, 4, 2});
  if (!spec.sack.empty()) {
    if (spec.sack.size() > 4) abortTest("more than 4 SACK blocks", "");
    options.insert(options.end(), {1, 1, 5, static_cast<std::uint8_t>(2 + 8 * spec.sack.size())});
    for (const auto& [left, right] : spec.sack) {
      push32(options, left);
      push32(options, right);
    }
  }
  options.insert(options.end(), spec.rawTcpOptions.begin(), spec.rawTcpOptions.end());
  while (options.size() % 4 != 0) options.push_back(0);  // EOL padding
  if (options.size() > 40) abortTest("TCP options longer than 40 bytes", "");
  std::vector<std::uint8_t> tcp(20, 0);
  put16(tcp, 0, spec.src.port);
  put16(tcp, 2, spec.dst.port);
  put32(tcp, 4, spec.seq);
  put32(tcp, 8, spec.ack);
  tcp[12] = static_cast<std::uint8_t>(((20 + options.size()) / 4) << 4);
  tcp[13] = spec.flags;
  put16(tcp, 14, spec.window);
  put16(tcp, 18, spec.urgentPointer);
  tcp.insert(tcp.end(), options.begin(), options.end());
  tcp.insert(tcp.end(), spec.payload.begin(), spec.payload.end());
  return tcp;
}

}  // namespace

std::uint16_t independentChecksum(std::span<const std::uint8_t> data) { return invert(sumPairs(data, 0)); }

std::vector<std::uint8_t> buildTcpPacket(const TcpPacketSpec& spec) {
  if (spec.src.address.family() != spec.dst.address.family()) {
    abortTest("src and dst families differ", spec.dst.toString());
  }
  std::vector<std::uint8_t> tcp = buildTcpHeaderAndPayload(spec);
  const auto srcBytes = spec.src.address.bytes();
  const auto dstBytes = spec.dst.address.bytes();
  put16(tcp, 16, invert(sumPairs(tcp, pseudoHeader(srcBytes, dstBytes, tcp.size()))));

  std::vector<std::uint8_t> packet;
  if (spec.src.address.isV4()) {
    std::vector<std::uint8_t> ipOptions = spec.ipv4Options;
    while (ipOptions.size() % 4 != 0) ipOptions.push_back(0);  // EOL padding
    const std::size_t headerLength = 20 + ipOptions.size();
    if (headerLength > 60) abortTest("IPv4 options longer than 40 bytes", "");
    packet.assign(20, 0);
    packet[0] = static_cast<std::uint8_t>(0x40 | (headerLength / 4));
    put16(packet, 2, static_cast<std::uint16_t>(headerLength + tcp.size()));
    put16(packet, 4, spec.ipv4Id);
    put16(packet, 6, 0x4000);  // DF
    packet[8] = spec.ttl;
    packet[9] = 6;
    std::copy(srcBytes.begin(), srcBytes.end(), packet.begin() + 12);
    std::copy(dstBytes.begin(), dstBytes.end(), packet.begin() + 16);
    packet.insert(packet.end(), ipOptions.begin(), ipOptions.end());
    put16(packet, 10, independentChecksum(packet));
  } else {
    packet.assign(40, 0);
    packet[0] = 0x60;
    const std::size_t extensionLength = spec.ipv6HopByHop ? 8 : 0;
    put16(packet, 4, static_cast<std::uint16_t>(extensionLength + tcp.size()));
    packet[6] = spec.ipv6HopByHop ? 0 : 6;
    packet[7] = spec.ttl;
    std::copy(srcBytes.begin(), srcBytes.end(), packet.begin() + 8);
    std::copy(dstBytes.begin(), dstBytes.end(), packet.begin() + 24);
    if (spec.ipv6HopByHop) {
      // Next header TCP, length 0 (8 bytes), PadN option with 4 bytes of padding.
      packet.insert(packet.end(), {6, 0, 1, 4, 0, 0, 0, 0});
    }
  }
  packet.insert(packet.end(), tcp.begin(), tcp.end());
  return packet;
}

IpAddress ip(std::string_view text) {
  const auto parsed = IpAddress::parse(text);
  if (!parsed) abortTest("bad IP address in test", text);
  return *parsed;
}

Endpoint ep(std::string_view text) {
  const auto parsed = Endpoint::parse(text);
  if (!parsed) abortTest("bad endpoint in test", text);
  return *parsed;
}

namespace {

// Where the TCP segment of an IP packet lies, found by this file's own parsing (IPv4 IHL and total
// length; IPv6 hop-by-hop/routing/destination-options headers), with the IPv4 header checksum
// checked. nullopt on anything it cannot follow or a bad IPv4 header checksum.
struct SegmentLocation {
  std::size_t tcpStart = 0;
  std::size_t end = 0;  // the IP packet's end (total length)
  std::span<const std::uint8_t> src, dst;
};

std::optional<SegmentLocation> locateSegment(std::span<const std::uint8_t> packet) {
  if (packet.empty()) return std::nullopt;
  SegmentLocation at;
  if ((packet[0] >> 4) == 4) {
    if (packet.size() < 20) return std::nullopt;
    const std::size_t headerLength = (packet[0] & 0x0F) * 4u;
    at.end = (static_cast<std::size_t>(packet[2]) << 8) | packet[3];
    if (headerLength < 20 || at.end > packet.size() || headerLength > at.end) return std::nullopt;
    if (independentChecksum(packet.first(headerLength)) != 0) return std::nullopt;
    if (packet[9] != 6) return std::nullopt;
    at.src = packet.subspan(12, 4);
    at.dst = packet.subspan(16, 4);
    at.tcpStart = headerLength;
  } else if ((packet[0] >> 4) == 6) {
    if (packet.size() < 40) return std::nullopt;
    at.end = 40 + ((static_cast<std::size_t>(packet[4]) << 8) | packet[5]);
    if (at.end > packet.size()) return std::nullopt;
    at.src = packet.subspan(8, 16);
    at.dst = packet.subspan(24, 16);
    std::uint8_t next = packet[6];
    at.tcpStart = 40;
    for (int walked = 0; next != 6; ++walked) {
      if (walked == 8 || (next != 0 && next != 43 && next != 60)) return std::nullopt;
      if (at.tcpStart + 8 > at.end) return std::nullopt;
      next = packet[at.tcpStart];
      at.tcpStart += (packet[at.tcpStart + 1] + 1u) * 8;
    }
  } else {
    return std::nullopt;
  }
  if (at.tcpStart + 20 > at.end) return std::nullopt;
  return at;
}

}  // namespace

bool independentChecksumsValid(std::span<const std::uint8_t> packet) {
  const auto at = locateSegment(packet);
  if (!at) return false;
  const auto segment = packet.subspan(at->tcpStart, at->end - at->tcpStart);
  // Summing the segment including its checksum field gives 0xFFFF when it is correct.
  return invert(sumPairs(segment, pseudoHeader(at->src, at->dst, segment.size()))) == 0;
}

std::vector<std::uint8_t> withOffloadedChecksum(std::vector<std::uint8_t> packet) {
  const auto at = locateSegment(packet);
  if (!at) abortTest("withOffloadedChecksum: not a packet it can follow", "");
  const std::uint32_t pseudo = pseudoHeader(at->src, at->dst, at->end - at->tcpStart);
  put16(packet, at->tcpStart + 16, static_cast<std::uint16_t>(pseudo));
  return packet;
}

bool independentChecksumOffloaded(std::span<const std::uint8_t> packet) {
  const auto at = locateSegment(packet);
  if (!at) return false;
  const std::uint32_t pseudo = pseudoHeader(at->src, at->dst, at->end - at->tcpStart);
  const std::size_t field = at->tcpStart + 16;
  return ((static_cast<std::uint32_t>(packet[field]) << 8) | packet[field + 1]) == pseudo;
}

std::vector<std::uint8_t> bytesOf(std::string_view text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

}  // namespace ftpalg::testing
