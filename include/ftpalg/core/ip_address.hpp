// IpAddress, Endpoint, FlowKey, Direction: value types shared by every layer.
//
// Contract: addresses are stored in network byte order (the bytes as they appear on the wire);
// ports are stored in host byte order. IPv4 addresses occupy bytes_[0..3]; the rest stay zero.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ftpalg {

enum class IpFamily : std::uint8_t { V4 = 4, V6 = 6 };

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0

  // From four octets (wire order), e.g. fromV4Octets({192,0,2,1}).
  static IpAddress fromV4Octets(std::array<std::uint8_t, 4> octets);
  // From a host-order 32-bit value, e.g. 0xC0000201 == 192.0.2.1.
  static IpAddress fromV4HostOrder(std::uint32_t host_order);
  // From sixteen bytes (wire order).
  static IpAddress fromV6Bytes(std::array<std::uint8_t, 16> bytes);
  // From wire bytes of length 4 or 16; nullopt otherwise.
  static std::optional<IpAddress> fromBytes(std::span<const std::uint8_t> bytes);
  // Parses dotted-quad IPv4 (exactly four decimal octets, 1-3 digits each, <= 255, no leading
  // zeros: "010" is octal to inet_aton and decimal to others, so it is refused) or RFC 4291 §2.2
  // IPv6 text (including "::" compression and a trailing dotted quad). Zone ids ("%eth0") are
  // rejected. Never allocates; nullopt on any malformed input.
  static std::optional<IpAddress> parse(std::string_view text);

  IpFamily family() const { return family_; }
  bool isV4() const { return family_ == IpFamily::V4; }
  bool isV6() const { return family_ == IpFamily::V6; }
  // 4 or 16 bytes, wire order. The span refers into *this.
  std::span<const std::uint8_t> bytes() const;
  std::uint32_t v4HostOrder() const;             // precondition: isV4()
  std::array<std::uint8_t, 4> v4Octets() const;  // precondition: isV4()

  // Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed;
  // IPv4-mapped ::ffff:0:0/96 with a trailing dotted quad, RFC 5952 §5).
  std::string toString() const;

  bool isUnspecified() const;  // 0.0.0.0 or ::

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  IpFamily family_ = IpFamily::V4;
  std::array<std::uint8_t, 16> bytes_{};
};

// An IP prefix, e.g. 192.168.77.0/24. Host bits need not be zero in the parsed text; they are
// cleared.
struct IpPrefix {
  IpAddress network;
  std::uint8_t length = 0;
  static std::optional<IpPrefix> parse(
      std::string_view text);  // "a.b.c.d/n" or "v6/n" or bare address (full length)
  bool contains(const IpAddress& address) const;
  std::string toString() const;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;  // host byte order

  // "192.0.2.1:21" or "[2001:db8::1]:21".
  std::string toString() const;
  // Parses the toString() form; nullopt on malformed text or port outside 0-65535.
  static std::optional<Endpoint> parse(std::string_view text);

  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

enum class Direction : std::uint8_t {
  ClientToServer = 0,  // "c2s"
  ServerToClient = 1,  // "s2c"
};
constexpr Direction opposite(Direction d) {
  return d == Direction::ClientToServer ? Direction::ServerToClient : Direction::ClientToServer;
}
constexpr std::string_view directionName(Direction d) {
  return d == Direction::ClientToServer ? "c2s" : "s2c";
}

// Identity of one FTP control connection: a client and a server endpoint, chosen consistently
// by the shell's FlowResolver (live: the real endpoints, before any NAT on this router, so both
// queue points resolve to one key, docs/design.md#pinhole-before-verdict; replay: the endpoints as captured).
struct FlowKey {
  Endpoint client;
  Endpoint server;
  // "client_ip:port-server_ip:port", IPv6 in brackets: the log's "flow" field.
  std::string toString() const;
  friend auto operator<=>(const FlowKey&, const FlowKey&) = default;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& key) const noexcept;
};
struct EndpointHash {
  std::size_t operator()(const Endpoint& endpoint) const noexcept;
};

}  // namespace ftpalg
