// PacketRewriter: builds the bytes of an emitted packet from an original packet plus the
// engine's decisions (new payload, new seq, new ack, SACK edges), fixing IP length fields, the
// IPv4 header checksum and the TCP checksum.
//
// Ownership: the result is a fresh buffer owned by the caller. The original is not modified.
// Every byte outside the TCP seq/ack/flags/checksum fields, the SACK edges and the payload is
// copied unchanged (IP options, IPv6 extension headers, other TCP options, urgent pointer).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "ftpalg/core/seq_num.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg {

struct PacketEdit {
  // Replacement payload; nullopt keeps the original payload.
  std::optional<std::span<const std::uint8_t>> payload;
  std::optional<SeqNum> seq;
  std::optional<SeqNum> ack;
  // New SACK edges, same count and order as original.options().sackBlocks; empty = unchanged.
  std::span<const SackBlock> sackBlocks;
  // When set, clears FIN (used when the payload was trimmed so the FIN no longer fits).
  bool clearFin = false;
};

// Returns the rewritten packet. Precondition: the buffer `original` was parsed from is alive.
// The TCP checksum is recomputed in full when the payload changes, and updated incrementally
// (RFC 1624) when only header fields change. IPv4: total length and header checksum updated;
// IPv6: payload length updated. Link-layer padding after the IP packet is not copied.
// Returns an empty vector when the result would not fit the 16-bit IPv4 total length / IPv6
// payload length field (callers keep segments under the MSS, so this signals a bug upstream).
// The full recomputation uses the IPv6 header's destination address; for a packet with a
// Routing header whose final destination differs (RFC 8200 §8.1) that checksum would be wrong.
std::vector<std::uint8_t> rewritePacket(const PacketView& original, const PacketEdit& edit);

}  // namespace ftpalg
