// PacketRewriter: builds the bytes of an emitted packet from an original packet plus the
// engine's decisions (new payload, new seq, new ack, SACK edges), fixing IP length fields, the
// IPv4 header checksum and the TCP checksum.
//
// Checksums are carried over, never laundered: by default each is updated for exactly the bytes
// that changed (RFC 1624 eqn. 3), so a packet whose checksum was wrong leaves with the same error
// and is still dropped by its receiver, and a correct one leaves correct.
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

// How the checksums of a rewritten packet are derived.
enum class ChecksumUpdate : std::uint8_t {
  // RFC 1624 eqn. 3 over the changed bytes (header fields; for a new payload, the old and the
  // new segment as a whole, pseudo-header length included): the result is correct exactly when
  // the original was, and otherwise wrong by the original's error.
  KeepError,
  // Computed afresh over the result, for an original whose TCP checksum field held no checksum
  // (checksum::ChecksumState::Offloaded: the pseudo-header sum a NIC was to complete).
  Recompute,
};

struct PacketEdit {
  // Replacement payload; nullopt keeps the original payload.
  std::optional<std::span<const std::uint8_t>> payload;
  std::optional<SeqNum> seq;
  std::optional<SeqNum> ack;
  // New SACK edges, same count and order as original.options().sackBlocks; empty = unchanged.
  std::span<const SackBlock> sackBlocks;
  // When set, clears FIN (used when the payload was trimmed so the FIN no longer fits).
  bool clearFin = false;
  ChecksumUpdate checksums = ChecksumUpdate::KeepError;
};

// Returns the rewritten packet. Precondition: the buffer `original` was parsed from is alive.
// Checksums as edit.checksums says (IPv4: total length and header checksum; IPv6: payload
// length). Link-layer padding after the IP packet is not copied.
// Returns an empty vector when the result would not fit the 16-bit IPv4 total length / IPv6
// payload length field (callers keep segments under the MSS, so this signals a bug upstream).
// The pseudo-header uses the IPv6 header's destination address; for a packet with a Routing
// header whose final destination differs (RFC 8200 §8.1) a recomputed checksum would be wrong
// (an updated one is not: the address is the same before and after).
std::vector<std::uint8_t> rewritePacket(const PacketView& original, const PacketEdit& edit);

}  // namespace ftpalg
