// --dry-run's copy rules, as text (standard library only): an nft table of ftpalg's own that
// sends a copy of every control packet to an NFLOG group (io/nflog_source.hpp reads them) at
// the two points where live mode queues them (docs/design.md#hook-placement, the engine-owned
// layout), so the dry-run engine sees each direction exactly as live mode would:
//
//   table inet ftpalg_dryrun {
//     comment "ftpalg pid=<pid>"
//     chain c2s { type filter hook forward priority mangle; policy accept;
//       tcp dport { 21 } log group 0 }      # after conntrack and DNAT, before SNAT
//     chain s2c { type filter hook prerouting priority raw; policy accept;
//       tcp sport { 21 } log group 0 }      # before conntrack
//   }
//
// `log group` copies and never holds: the packet continues through the chain (policy accept,
// nothing else in it) whatever becomes of the copy. No size limit (`snaplen`) is set: the NFLOG
// instance's copy range (0xffff) applies. The table changes nothing else: no conntrack helper,
// no mark, no NAT, so it may run next to the kernel's nf_conntrack_ftp (shadow mode).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ftpalg::firewall {

inline constexpr std::string_view kCopyTable = "ftpalg_dryrun";

struct CopyRuleSpec {
  std::vector<std::uint16_t> controlPorts{21};
  std::uint16_t group = 0;
  std::string table = std::string(kCopyTable);
};

// The nft script creating the table (`owner` goes into the comment, as for the pinhole table).
std::string nftCopyTableScript(const CopyRuleSpec& spec, std::string_view owner);

}  // namespace ftpalg::firewall
