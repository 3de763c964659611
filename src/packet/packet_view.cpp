// PacketView::parse: bounds-checked parse of IPv4/IPv6 + TCP. Every read goes through a
// size check against the span it reads from; no header length field is trusted before it has
// been compared with the bytes actually present.
#include "ftpalg/packet/packet_view.hpp"

#include <algorithm>

namespace ftpalg {
namespace {

constexpr std::uint8_t kProtocolTcp = 6;
constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kTcpMinHeader = 20;
constexpr int kMaxExtensionHeaders = 8;

// IPv6 next-header values (IANA "Assigned Internet Protocol Numbers").
constexpr std::uint8_t kHopByHop = 0;
constexpr std::uint8_t kRouting = 43;
constexpr std::uint8_t kFragment = 44;
constexpr std::uint8_t kAuthentication = 51;
constexpr std::uint8_t kDestinationOptions = 60;

// TCP option kinds (RFC 793 §3.1, RFC 7323, RFC 2018).
constexpr std::uint8_t kOptionEnd = 0;
constexpr std::uint8_t kOptionNop = 1;
constexpr std::uint8_t kOptionMss = 2;
constexpr std::uint8_t kOptionWindowScale = 3;  // RFC 7323 §2.2
constexpr std::uint8_t kOptionSackPermitted = 4;
constexpr std::uint8_t kOptionSack = 5;

// Callers guarantee offset + 2 / + 4 <= bytes.size().
std::uint16_t load16(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return static_cast<std::uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}
std::uint32_t load32(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return (static_cast<std::uint32_t>(bytes[offset]) << 24) |
         (static_cast<std::uint32_t>(bytes[offset + 1]) << 16) |
         (static_cast<std::uint32_t>(bytes[offset + 2]) << 8) | static_cast<std::uint32_t>(bytes[offset + 3]);
}

// Parses the TCP options in packet[begin, end). A malformed option (length < 2 or running past
// the header) ends option parsing; what was parsed before it is kept. Only the first SACK option
// is recorded.
void parseTcpOptions(std::span<const std::uint8_t> packet, std::size_t begin, std::size_t end,
                     TcpOptionsInfo& info) {
  std::size_t pos = begin;
  while (pos < end) {
    const std::uint8_t kind = packet[pos];
    if (kind == kOptionEnd) break;
    if (kind == kOptionNop) {
      ++pos;
      continue;
    }
    if (pos + 1 >= end) break;
    const std::size_t length = packet[pos + 1];
    if (length < 2 || length > end - pos) break;
    switch (kind) {
      case kOptionMss:
        if (length == 4) info.mss = load16(packet, pos + 2);
        break;
      case kOptionWindowScale:
        if (length == 3) info.windowScale = packet[pos + 2];
        break;
      case kOptionSackPermitted:
        if (length == 2) info.sackPermitted = true;
        break;
      case kOptionSack: {
        const std::size_t blockBytes = length - 2;
        const std::size_t blocks = blockBytes / 8;
        if (info.sackBlockCount == 0 && blockBytes % 8 == 0 && blocks >= 1 && blocks <= 4) {
          info.sackOffset = pos + 2;
          info.sackBlockCount = static_cast<std::uint8_t>(blocks);
          for (std::size_t i = 0; i < blocks; ++i) {
            info.sackBlocks[i].left = SeqNum(load32(packet, pos + 2 + 8 * i));
            info.sackBlocks[i].right = SeqNum(load32(packet, pos + 6 + 8 * i));
          }
        }
        break;
      }
      default: break;
    }
    pos += length;
  }
}

}  // namespace

std::string_view packetParseErrorName(PacketParseError error) {
  switch (error) {
    case PacketParseError::Truncated: return "truncated";
    case PacketParseError::BadIpVersion: return "bad_ip_version";
    case PacketParseError::BadIpHeaderLength: return "bad_ip_header_length";
    case PacketParseError::BadTotalLength: return "bad_total_length";
    case PacketParseError::Fragment: return "fragment";
    case PacketParseError::NotTcp: return "not_tcp";
    case PacketParseError::BadTcpHeaderLength: return "bad_tcp_header_length";
    case PacketParseError::ExtensionHeaderLimit: return "extension_header_limit";
  }
  return "unknown";
}

std::optional<PacketView> PacketView::parse(std::span<const std::uint8_t> bytes, PacketParseError* error) {
  // Built in place in the returned optional (one named result: NRVO), so the ~150-byte view is
  // neither copied nor zeroed twice on the per-packet path.
  std::optional<PacketView> result(std::in_place);
  const std::optional<PacketParseError> problem = [&](PacketView& view) -> std::optional<PacketParseError> {
    using E = PacketParseError;
    if (bytes.empty()) return E::Truncated;
    const unsigned version = bytes[0] >> 4;

    std::size_t packetLength = 0;  // IP total length, <= bytes.size()
    std::size_t tcpOffset = 0;

    if (version == 4) {
      if (bytes.size() < kIpv4MinHeader) return E::Truncated;
      const std::size_t headerLength = static_cast<std::size_t>(bytes[0] & 0x0F) * 4;
      if (headerLength < kIpv4MinHeader) return E::BadIpHeaderLength;
      const std::size_t totalLength = load16(bytes, 2);
      if (totalLength < headerLength) return E::BadIpHeaderLength;
      if (totalLength > bytes.size()) return E::Truncated;
      const std::uint16_t fragmentField = load16(bytes, 6);
      const bool moreFragments = (fragmentField & 0x2000) != 0;
      const bool nonZeroOffset = (fragmentField & 0x1FFF) != 0;
      if (moreFragments || nonZeroOffset) return E::Fragment;
      if (bytes[9] != kProtocolTcp) return E::NotTcp;
      view.family_ = IpFamily::V4;
      view.src_ = IpAddress::fromV4Octets({bytes[12], bytes[13], bytes[14], bytes[15]});
      view.dst_ = IpAddress::fromV4Octets({bytes[16], bytes[17], bytes[18], bytes[19]});
      packetLength = totalLength;
      tcpOffset = headerLength;
    } else if (version == 6) {
      if (bytes.size() < kIpv6Header) return E::Truncated;
      const std::size_t totalLength = kIpv6Header + load16(bytes, 4);
      if (totalLength > bytes.size()) return E::Truncated;
      // RFC 8200 §4: walk the extension headers that precede the upper-layer header.
      std::uint8_t nextHeader = bytes[6];
      std::size_t offset = kIpv6Header;
      int walked = 0;
      while (nextHeader != kProtocolTcp) {
        std::size_t headerLength = 0;
        switch (nextHeader) {
          case kHopByHop:
          case kRouting:
          case kDestinationOptions:
            if (offset + 2 > totalLength) return E::BadTotalLength;
            headerLength = (static_cast<std::size_t>(bytes[offset + 1]) + 1) * 8;  // §4.3-4.6
            break;
          case kAuthentication:
            if (offset + 2 > totalLength) return E::BadTotalLength;
            headerLength = (static_cast<std::size_t>(bytes[offset + 1]) + 2) * 4;  // RFC 4302 §2.2
            break;
          case kFragment: return E::Fragment;
          default: return E::NotTcp;
        }
        if (++walked > kMaxExtensionHeaders) return E::ExtensionHeaderLimit;
        if (headerLength > totalLength - offset) return E::BadTotalLength;
        nextHeader = bytes[offset];
        offset += headerLength;
      }
      std::array<std::uint8_t, 16> address{};
      std::copy(bytes.begin() + 8, bytes.begin() + 24, address.begin());
      view.src_ = IpAddress::fromV6Bytes(address);
      std::copy(bytes.begin() + 24, bytes.begin() + 40, address.begin());
      view.dst_ = IpAddress::fromV6Bytes(address);
      view.family_ = IpFamily::V6;
      packetLength = totalLength;
      tcpOffset = offset;
    } else {
      return E::BadIpVersion;
    }

    const auto packet = bytes.first(packetLength);
    if (packetLength - tcpOffset < kTcpMinHeader) return E::BadTotalLength;
    const std::size_t tcpHeaderLength = static_cast<std::size_t>(packet[tcpOffset + 12] >> 4) * 4;
    if (tcpHeaderLength < kTcpMinHeader || tcpHeaderLength > packetLength - tcpOffset) {
      return E::BadTcpHeaderLength;
    }

    view.packet_ = packet;
    view.ipHeaderLength_ = tcpOffset;
    view.tcpOffset_ = tcpOffset;
    view.tcpHeaderLength_ = tcpHeaderLength;
    view.srcPort_ = load16(packet, tcpOffset);
    view.dstPort_ = load16(packet, tcpOffset + 2);
    view.seq_ = SeqNum(load32(packet, tcpOffset + 4));
    view.ack_ = SeqNum(load32(packet, tcpOffset + 8));
    view.flags_ = packet[tcpOffset + 13];
    view.window_ = load16(packet, tcpOffset + 14);
    parseTcpOptions(packet, tcpOffset + kTcpMinHeader, tcpOffset + tcpHeaderLength, view.options_);
    return std::nullopt;
  }(*result);
  if (problem) {
    if (error != nullptr) *error = *problem;
    result.reset();
  }
  return result;
}

std::span<const std::uint8_t> PacketView::payload() const { return packet_.subspan(payloadOffset()); }

std::uint32_t PacketView::sequenceLength() const {
  std::uint32_t length = static_cast<std::uint32_t>(packet_.size() - payloadOffset());
  if (hasFlag(tcp_flags::kSyn)) ++length;
  if (hasFlag(tcp_flags::kFin)) ++length;
  return length;
}

}  // namespace ftpalg
