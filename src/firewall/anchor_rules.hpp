// The conntrack-owned mode's anchor, as text (standard library only;
// docs/design.md#seqadj-anchor): the part of ftpalg's nft table that gives every new control
// connection a conntrack helper at its first packet, before NAT is set up, and marks it:
//
//   ct helper ftp-anchor { type "sane" protocol tcp; l3proto inet; }
//   chain anchor { type filter hook prerouting priority mangle; policy accept;
//     tcp dport { 21 } ct state new ct helper set "ftp-anchor" ct mark set ct mark or 0x00020000
//   }
//
// Why a helper: NAT setup adds conntrack's seqadj extension only to a connection that has a helper
// at that moment (nf_nat_setup_info), and only a connection with a helper may hold expectations.
// The "sane" helper is built into the kernel and never acts on FTP's ASCII dialog (it reacts only
// to a binary SANE_NET_START request). Priority mangle (-150) is after conntrack (-200) and
// before DNAT (-100). The port is matched as the client addresses it (before DNAT).
//
// Why a mark bit as well: iptables' `-m helper` matches the helper of a RELATED connection's
// master, so the queue rules select anchored connections by the mark (`-m connmark`), and the
// start-up takeover dump filters on it in the kernel. Data connections inherit their master's
// mark: the bit alone never identifies a control connection (the helper status bit does).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ct_marks.hpp"

namespace ftpalg::firewall {

// The helper type and the name of ftpalg's helper object (conntrack -L shows `helper=sane`).
inline constexpr std::string_view kAnchorHelperType = "sane";
inline constexpr std::string_view kAnchorHelperObject = "ftp-anchor";
inline constexpr std::string_view kAnchorChain = "anchor";

struct AnchorSpec {
  std::vector<std::uint16_t> controlPorts{21};  // as the client addresses them (before DNAT)
  std::uint32_t controlMark = kDefaultControlMark;
  friend bool operator==(const AnchorSpec&, const AnchorSpec&) = default;
};

// The helper object and the chain, as lines inside `table inet NAME { ... }`, indented by two.
std::string nftAnchorDefinitions(const AnchorSpec& spec);

// The probe `run` and `check` send in nft's check mode (validated by the kernel, never
// committed: nft_script.hpp) to learn whether the kernel has the sane helper: a temporary table
// `inet ftpalg_probe` with only the helper object. An nft error means the helper is missing.
std::string nftAnchorProbeScript();

}  // namespace ftpalg::firewall
