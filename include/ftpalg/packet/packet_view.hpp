// PacketView: a bounds-checked, non-owning parse of one IPv4 or IPv6 packet carrying TCP.
//
// Ownership: a PacketView refers into the caller's buffer and is valid only while that buffer is
// alive and unchanged. All multi-byte header fields are returned in host byte order.
// Robustness: parse() never reads outside the given span, whatever the header length fields claim
// (truncated packets, IHL < 5, data offset < 5, total length beyond the buffer, extension-header
// loops). Trailing bytes beyond the IP total length (Ethernet padding) are ignored.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/seq_num.hpp"

namespace ftpalg {

enum class PacketParseError : std::uint8_t {
  Truncated,             // buffer shorter than a header says
  BadIpVersion,          // neither 4 nor 6
  BadIpHeaderLength,     // IHL < 5 or beyond the buffer
  BadTotalLength,        // IP total/payload length inconsistent with the buffer or headers
  Fragment,              // IPv4 fragment (MF set or offset != 0) or IPv6 fragment header
  NotTcp,                // transport is not TCP (after extension headers)
  BadTcpHeaderLength,    // data offset < 5 or beyond the packet
  ExtensionHeaderLimit,  // more IPv6 extension headers than we walk (8)
};
std::string_view packetParseErrorName(PacketParseError error);

namespace tcp_flags {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
}  // namespace tcp_flags

// One SACK block (RFC 2018 §3), in the sequence space of the data the ACK acknowledges.
struct SackBlock {
  SeqNum left;
  SeqNum right;
};

struct TcpOptionsInfo {
  std::optional<std::uint16_t> mss;  // RFC 793 option 2, only meaningful on SYN
  std::uint8_t sackBlockCount = 0;   // RFC 2018 option 5
  std::array<SackBlock, 4> sackBlocks{};
  // Byte offset of the first SACK block's left edge within the packet, or 0 when absent; used by
  // the rewriter to patch edges in place. Each block is 8 bytes (left, right), network order.
  std::size_t sackOffset = 0;
  bool sackPermitted = false;  // option 4
  // RFC 7323 option 3: the Window Scale shift, only meaningful on SYN.
  std::optional<std::uint8_t> windowScale;
};

class PacketView {
 public:
  // `bytes` starts at the IP header. See the file comment for robustness guarantees.
  static std::optional<PacketView> parse(std::span<const std::uint8_t> bytes,
                                         PacketParseError* error = nullptr);

  IpFamily family() const { return family_; }
  const IpAddress& srcAddress() const { return src_; }
  const IpAddress& dstAddress() const { return dst_; }
  Endpoint src() const { return {src_, srcPort_}; }
  Endpoint dst() const { return {dst_, dstPort_}; }

  // The whole IP packet up to its total length (excludes link-layer padding).
  std::span<const std::uint8_t> ipPacket() const { return packet_; }
  std::size_t ipHeaderLength() const { return ipHeaderLength_; }  // incl. IPv6 extension headers
  std::size_t tcpOffset() const { return tcpOffset_; }            // from packet start
  std::size_t tcpHeaderLength() const { return tcpHeaderLength_; }
  std::size_t payloadOffset() const { return tcpOffset_ + tcpHeaderLength_; }
  std::span<const std::uint8_t> payload() const;

  std::uint16_t srcPort() const { return srcPort_; }
  std::uint16_t dstPort() const { return dstPort_; }
  SeqNum seq() const { return seq_; }
  SeqNum ack() const { return ack_; }
  std::uint8_t flags() const { return flags_; }
  bool hasFlag(std::uint8_t flag) const { return (flags_ & flag) != 0; }
  std::uint16_t window() const { return window_; }
  const TcpOptionsInfo& options() const { return options_; }
  // Sequence space consumed: payload length + 1 for SYN + 1 for FIN.
  std::uint32_t sequenceLength() const;

 private:
  std::span<const std::uint8_t> packet_;
  IpFamily family_ = IpFamily::V4;
  IpAddress src_, dst_;
  std::size_t ipHeaderLength_ = 0;
  std::size_t tcpOffset_ = 0;
  std::size_t tcpHeaderLength_ = 0;
  std::uint16_t srcPort_ = 0, dstPort_ = 0;
  SeqNum seq_, ack_;
  std::uint8_t flags_ = 0;
  std::uint16_t window_ = 0;
  TcpOptionsInfo options_;
};

}  // namespace ftpalg
