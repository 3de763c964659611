// IpAddress, IpPrefix, Endpoint, FlowKey: parsing (RFC 4291 §2.2), canonical text (RFC 5952),
// hashing. Parsing works on the caller's string_view in place: no allocation, no exceptions.
#include "ftpalg/core/ip_address.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace ftpalg {
namespace {

constexpr bool isDecimalDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool isHexDigit(char c) {
  return isDecimalDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Parses an unsigned decimal number of 1..maxDigits digits (no sign, no spaces) that must not
// exceed maxValue. Leading zeros are rejected for multi-digit numbers when rejectLeadingZero is
// set (dotted quads: "010" means 8 to inet_aton and 10 to others, so we accept neither).
std::optional<std::uint32_t> parseBoundedDecimal(std::string_view text, std::size_t maxDigits,
                                                 std::uint32_t maxValue, bool rejectLeadingZero) {
  if (text.empty() || text.size() > maxDigits) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), isDecimalDigit)) return std::nullopt;
  if (rejectLeadingZero && text.size() > 1 && text.front() == '0') return std::nullopt;
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > maxValue) {
    return std::nullopt;
  }
  return value;
}

// Exactly four dot-separated octets, 1-3 digits each, each <= 255.
std::optional<std::array<std::uint8_t, 4>> parseDottedQuad(std::string_view text) {
  std::array<std::uint8_t, 4> octets{};
  std::size_t start = 0;
  for (std::size_t index = 0; index < 4; ++index) {
    const std::size_t dot = text.find('.', start);
    const bool last = index == 3;
    if (last != (dot == std::string_view::npos)) return std::nullopt;
    const std::string_view part = text.substr(start, last ? std::string_view::npos : dot - start);
    const auto value = parseBoundedDecimal(part, 3, 255, /*rejectLeadingZero=*/true);
    if (!value) return std::nullopt;
    octets[index] = static_cast<std::uint8_t>(*value);
    start = dot + 1;
  }
  return octets;
}

std::optional<std::uint16_t> parseHexGroup(std::string_view text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), isHexDigit)) return std::nullopt;
  std::uint16_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// RFC 4291 §2.2: x:x:x:x:x:x:x:x, one optional "::", optional trailing dotted quad in place of
// the last two groups. Zone ids and anything else unexpected are rejected.
std::optional<std::array<std::uint8_t, 16>> parseV6(std::string_view text) {
  std::array<std::uint16_t, 8> groups{};
  std::size_t count = 0;  // groups parsed so far
  int gapAt = -1;         // group index where "::" stands, or -1
  std::size_t pos = 0;
  const std::size_t size = text.size();
  if (size < 2) return std::nullopt;
  if (text[0] == ':') {
    if (text[1] != ':') return std::nullopt;
    gapAt = 0;
    pos = 2;
    if (pos == size) return std::array<std::uint8_t, 16>{};  // "::"
  }
  while (true) {
    std::size_t end = text.find(':', pos);
    if (end == std::string_view::npos) end = size;
    const std::string_view piece = text.substr(pos, end - pos);
    if (piece.empty()) return std::nullopt;
    if (piece.find('.') != std::string_view::npos) {
      // Embedded IPv4: must be the last piece and leave room for two groups.
      if (end != size || count + 2 > 8) return std::nullopt;
      const auto octets = parseDottedQuad(piece);
      if (!octets) return std::nullopt;
      groups[count++] = static_cast<std::uint16_t>(((*octets)[0] << 8) | (*octets)[1]);
      groups[count++] = static_cast<std::uint16_t>(((*octets)[2] << 8) | (*octets)[3]);
      break;
    }
    if (count == 8) return std::nullopt;
    const auto group = parseHexGroup(piece);
    if (!group) return std::nullopt;
    groups[count++] = *group;
    if (end == size) break;
    // text[end] == ':'
    if (end + 1 < size && text[end + 1] == ':') {
      if (gapAt >= 0) return std::nullopt;  // a second "::"
      gapAt = static_cast<int>(count);
      pos = end + 2;
      if (pos == size) break;  // trailing "::"
      continue;
    }
    pos = end + 1;
    if (pos == size) return std::nullopt;  // trailing single ':'
  }
  if (gapAt < 0) {
    if (count != 8) return std::nullopt;
  } else {
    if (count > 7) return std::nullopt;  // "::" stands for at least one zero group
    const std::size_t gap = static_cast<std::size_t>(gapAt);
    const std::size_t tail = count - gap;
    std::array<std::uint16_t, 8> expanded{};
    for (std::size_t i = 0; i < gap; ++i) expanded[i] = groups[i];
    for (std::size_t i = 0; i < tail; ++i) expanded[8 - tail + i] = groups[gap + i];
    groups = expanded;
  }
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < 8; ++i) {
    bytes[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
    bytes[2 * i + 1] = static_cast<std::uint8_t>(groups[i] & 0xFF);
  }
  return bytes;
}

// Appends decimal `value` to `out` at `pos`; returns the new position.
std::size_t appendDecimal(char* out, std::size_t pos, unsigned value) {
  const auto result = std::to_chars(out + pos, out + pos + 10, value);
  return static_cast<std::size_t>(result.ptr - out);
}

std::size_t appendDottedQuad(char* out, std::size_t pos, const std::uint8_t* octets) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) out[pos++] = '.';
    pos = appendDecimal(out, pos, octets[i]);
  }
  return pos;
}

// FNV-1a, 64 bit: a simple, well-distributed hash over a few bytes.
class Fnv1a {
 public:
  void add(std::span<const std::uint8_t> data) {
    for (const std::uint8_t byte : data) {
      state_ ^= byte;
      state_ *= 0x100000001B3ULL;
    }
  }
  void add(std::uint8_t byte) { add(std::span<const std::uint8_t>(&byte, 1)); }
  void add(const Endpoint& endpoint) {
    add(static_cast<std::uint8_t>(endpoint.address.family()));
    add(endpoint.address.bytes());
    add(static_cast<std::uint8_t>(endpoint.port >> 8));
    add(static_cast<std::uint8_t>(endpoint.port & 0xFF));
  }
  std::size_t value() const { return static_cast<std::size_t>(state_); }

 private:
  std::uint64_t state_ = 0xCBF29CE484222325ULL;
};

}  // namespace

// ---- IpAddress ----------------------------------------------------------------------------------

IpAddress IpAddress::fromV4Octets(std::array<std::uint8_t, 4> octets) {
  IpAddress address;
  address.family_ = IpFamily::V4;
  std::copy(octets.begin(), octets.end(), address.bytes_.begin());
  return address;
}

IpAddress IpAddress::fromV4HostOrder(std::uint32_t host_order) {
  return fromV4Octets({static_cast<std::uint8_t>(host_order >> 24),
                       static_cast<std::uint8_t>(host_order >> 16),
                       static_cast<std::uint8_t>(host_order >> 8), static_cast<std::uint8_t>(host_order)});
}

IpAddress IpAddress::fromV6Bytes(std::array<std::uint8_t, 16> bytes) {
  IpAddress address;
  address.family_ = IpFamily::V6;
  address.bytes_ = bytes;
  return address;
}

std::optional<IpAddress> IpAddress::fromBytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() == 4) {
    return fromV4Octets({bytes[0], bytes[1], bytes[2], bytes[3]});
  }
  if (bytes.size() == 16) {
    std::array<std::uint8_t, 16> copy{};
    std::copy(bytes.begin(), bytes.end(), copy.begin());
    return fromV6Bytes(copy);
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    const auto bytes = parseV6(text);
    if (!bytes) return std::nullopt;
    return fromV6Bytes(*bytes);
  }
  const auto octets = parseDottedQuad(text);
  if (!octets) return std::nullopt;
  return fromV4Octets(*octets);
}

std::span<const std::uint8_t> IpAddress::bytes() const {
  return std::span<const std::uint8_t>(bytes_.data(), isV4() ? 4 : 16);
}

std::uint32_t IpAddress::v4HostOrder() const {
  return (static_cast<std::uint32_t>(bytes_[0]) << 24) | (static_cast<std::uint32_t>(bytes_[1]) << 16) |
         (static_cast<std::uint32_t>(bytes_[2]) << 8) | static_cast<std::uint32_t>(bytes_[3]);
}

std::array<std::uint8_t, 4> IpAddress::v4Octets() const {
  return {bytes_[0], bytes_[1], bytes_[2], bytes_[3]};
}

std::string IpAddress::toString() const {
  // Longest output: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" (45 chars).
  char out[64];
  std::size_t pos = 0;
  if (isV4()) {
    pos = appendDottedQuad(out, pos, bytes_.data());
    return std::string(out, pos);
  }
  std::array<std::uint16_t, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) {
    groups[i] = static_cast<std::uint16_t>((bytes_[2 * i] << 8) | bytes_[2 * i + 1]);
  }
  // RFC 5952 §5: IPv4-mapped addresses (::ffff:0:0/96) are written with a dotted quad.
  const bool mapped = groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 &&
                      groups[4] == 0 && groups[5] == 0xFFFF;
  const std::size_t hexGroups = mapped ? 6 : 8;
  // RFC 5952 §4.2: compress the longest run of two or more zero groups; the first on a tie.
  std::size_t bestStart = 0, bestLength = 0;
  for (std::size_t i = 0; i < hexGroups;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < hexGroups && groups[j] == 0) ++j;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) bestLength = 0;
  for (std::size_t i = 0; i < hexGroups;) {
    if (bestLength != 0 && i == bestStart) {
      out[pos++] = ':';
      out[pos++] = ':';
      i += bestLength;
      continue;
    }
    if (i != 0 && !(bestLength != 0 && i == bestStart + bestLength)) out[pos++] = ':';
    // RFC 5952 §4.3: lower case; §4.1: no leading zeros.
    const auto result = std::to_chars(out + pos, out + pos + 4, groups[i], 16);
    pos = static_cast<std::size_t>(result.ptr - out);
    ++i;
  }
  if (mapped) {
    if (!(bestLength != 0 && bestStart + bestLength == hexGroups)) out[pos++] = ':';
    pos = appendDottedQuad(out, pos, bytes_.data() + 12);
  }
  return std::string(out, pos);
}

bool IpAddress::isUnspecified() const {
  const auto view = bytes();
  return std::all_of(view.begin(), view.end(), [](std::uint8_t b) { return b == 0; });
}

// ---- IpPrefix -----------------------------------------------------------------------------------

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const std::uint32_t maxLength = address->isV4() ? 32 : 128;
  std::uint32_t length = maxLength;
  if (slash != std::string_view::npos) {
    const auto parsed = parseBoundedDecimal(text.substr(slash + 1), 3, maxLength, /*rejectLeadingZero=*/true);
    if (!parsed) return std::nullopt;
    length = *parsed;
  }
  // Clear the host bits.
  const auto source = address->bytes();
  std::array<std::uint8_t, 16> masked{};
  for (std::size_t i = 0; i < source.size(); ++i) {
    const std::uint32_t bitsBefore = static_cast<std::uint32_t>(i) * 8;
    if (length >= bitsBefore + 8) {
      masked[i] = source[i];
    } else if (length > bitsBefore) {
      const unsigned keep = length - bitsBefore;  // 1..7
      masked[i] = static_cast<std::uint8_t>(source[i] & (0xFF << (8 - keep)));
    }
  }
  IpPrefix prefix;
  prefix.network = *IpAddress::fromBytes(std::span<const std::uint8_t>(masked.data(), source.size()));
  prefix.length = static_cast<std::uint8_t>(length);
  return prefix;
}

bool IpPrefix::contains(const IpAddress& address) const {
  if (address.family() != network.family()) return false;
  const auto want = network.bytes();
  const auto have = address.bytes();
  std::size_t bits = length;
  for (std::size_t i = 0; i < want.size() && bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : static_cast<unsigned>(bits);
    const std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - take));
    if ((want[i] & mask) != (have[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::string IpPrefix::toString() const { return network.toString() + "/" + std::to_string(length); }

// ---- Endpoint, FlowKey, hashes ------------------------------------------------------------------

std::string Endpoint::toString() const {
  // Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict, GCC PR 105329) on
  // `"[" + std::string&&`, which -Werror turns into a Release build failure.
  std::string text;
  if (address.isV6()) {
    text += '[';
    text += address.toString();
    text += ']';
  } else {
    text = address.toString();
  }
  text += ':';
  text += std::to_string(port);
  return text;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view addressText;
  std::string_view portText;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    addressText = text.substr(1, close - 1);
    portText = text.substr(close + 2);
    // Brackets are for IPv6 only.
    if (addressText.find(':') == std::string_view::npos) return std::nullopt;
  } else {
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    addressText = text.substr(0, colon);
    portText = text.substr(colon + 1);
    // An unbracketed IPv6 address is ambiguous: "2001:db8::1:21".
    if (portText.find(':') != std::string_view::npos) return std::nullopt;
  }
  const auto address = IpAddress::parse(addressText);
  if (!address) return std::nullopt;
  const auto port = parseBoundedDecimal(portText, 5, 65535, /*rejectLeadingZero=*/false);
  if (!port) return std::nullopt;
  return Endpoint{*address, static_cast<std::uint16_t>(*port)};
}

std::string FlowKey::toString() const { return client.toString() + "-" + server.toString(); }

std::size_t FlowKeyHash::operator()(const FlowKey& key) const noexcept {
  Fnv1a hash;
  hash.add(key.client);
  hash.add(key.server);
  return hash.value();
}

std::size_t EndpointHash::operator()(const Endpoint& endpoint) const noexcept {
  Fnv1a hash;
  hash.add(endpoint);
  return hash.value();
}

}  // namespace ftpalg
