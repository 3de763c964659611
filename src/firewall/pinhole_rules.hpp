// ftpalg's nft table and the admin's accept rule, as text (standard library only). The pinhole
// parts and the accept rule are derived from one fact: the conntrack mark bit a pinhole sets
// (--pinhole-mark, default kDefaultPinholeMark, ct_marks.hpp). In the conntrack-owned mode the table also
// holds the anchor (anchor_rules.hpp), and with the conntrack-expectation pinhole backend only the anchor.
//
// The table `ftpalg run` creates at start (pinhole_table.hpp owns it) and deletes at exit:
//
//   table inet ftpalg {
//     comment "ftpalg pid=<pid>"
//     map pinholes4 { type ipv4_addr . ipv4_addr . inet_service : ipv4_addr . inet_service; flags timeout; }
//     set armed4    { type ipv4_addr . ipv4_addr . inet_service; flags dynamic,timeout; }
//     map pinholes6 { ... ipv6_addr ... }   set armed6 { ... }
//     chain pre_dnat { type nat hook prerouting priority dstnat - 1; policy accept;
//       meta l4proto tcp ip saddr . ip daddr . tcp dport @armed4
//           delete @armed4 { ip saddr . ip daddr . tcp dport } ct mark set ct mark or MARK
//       ct mark and MARK == MARK dnat ip to ip saddr . ip daddr . tcp dport map @pinholes4
//       (the same two rules for ip6) }
//   }
//
// Key = (peer that will connect, address it connects to, port); value = where the connection
// really goes. The "armed" token makes a pinhole single-use: the first NEW connection that matches
// deletes it and takes the mark. An accept in ftpalg's own base chain cannot override a drop in
// the admin's forward chain, so the admin adds one rule there that accepts the mark
// (nftAcceptRule(), iptablesAcceptRule(), printed by `ftpalg rules`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "anchor_rules.hpp"
#include "ct_marks.hpp"

namespace ftpalg::firewall {

// The default name of ftpalg's table (--nft-table).
inline constexpr std::string_view kDefaultTable = "ftpalg";

// Why `name` cannot name an nft table in a script (nft's unquoted identifiers: a letter or '_',
// then letters, digits, '_', '-', '.', '/'; at most 255 bytes: NFT_NAME_MAXLEN - 1), or nullopt.
// Inline: options.cpp checks --nft-table and --nft-queue-table with it.
inline std::optional<std::string> nftTableNameProblem(std::string_view name) {
  if (name.empty()) return std::string("empty table name");
  if (name.size() > 255) return std::string("longer than 255 bytes");
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!letter(name.front()) && name.front() != '_') return std::string("must start with a letter or '_'");
  for (const char c : name) {
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-' && c != '.' && c != '/') {
      return std::string("only letters, digits, '_', '-', '.' and '/' may follow the first letter");
    }
  }
  return std::nullopt;
}

struct NftTableSpec {
  std::string table{kDefaultTable};          // --nft-table; the family is always inet
  std::uint32_t mark = kDefaultPinholeMark;  // --pinhole-mark: the ct mark bit the admin's rule accepts
  std::uint32_t armedSetSize = 262144;       // `size` of armed4/armed6 (dynamic sets need one)
  bool pinholeMaps = true;                   // the nft backend's maps, sets and pre_dnat chain
  std::optional<AnchorSpec> anchor;          // the conntrack-owned mode's anchor
};

// The nft script that creates the table, its comment naming the owner:
// `comment "ftpalg pid=<owner>"` (`run` passes its pid, `ftpalg rules` a placeholder).
std::string nftTableScript(const NftTableSpec& spec, std::string_view owner);

// The owner pid recorded in `nft list table` output ("ftpalg pid=N" comment), if any.
std::optional<int> tableOwnerPid(std::string_view listing);

// The admin's accept rule for `mark`, for nft (a rule in the forward chain):
//   ct mark and 0x00010000 == 0x00010000 accept
std::string nftAcceptRule(std::uint32_t mark = kDefaultPinholeMark);
// ... and for iptables / ip6tables (`program`), as a command:
//   iptables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT
std::string iptablesAcceptRule(std::string_view program, std::uint32_t mark = kDefaultPinholeMark);

}  // namespace ftpalg::firewall
