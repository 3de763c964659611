// Detection of the kernel's own ftp conntrack helper (nf_conntrack_ftp) in the ruleset (standard
// library only). ftpalg and that helper would both rewrite the same connections, so `ftpalg run`
// refuses to start when a rule assigns the helper to one of its control ports, and `ftpalg check`
// reports it (docs/admin-guide.md, "The kernel ftp helper"). kernel_helper.hpp runs the listings.
//
// nft: read from the JSON listing (ruleset_json.hpp), which names the assignment whatever its
// syntax: `ct helper set "ftp-std"` behind `tcp dport 21` / `tcp dport { 21, 2121 }` /
// `tcp dport @ports`, and `ct helper set tcp dport map { 21 : "ftp-std" }` (anonymous or named
// map). iptables: `-j CT --helper ftp` in iptables-save text (iptables-nft's rules show in nft's
// JSON only as an opaque xtables target).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ruleset_json.hpp"

namespace ftpalg::firewall {

struct PortRange {
  std::uint16_t lo = 0, hi = 0;  // inclusive
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct HelperAssignment {
  std::string where;             // "nft table inet filter chain pre: tcp dport 21 ct helper set ..."
  std::vector<PortRange> ports;  // the destination ports it covers; empty: every port
};

// The rules of `ruleset` that assign a `ct helper` object of type "ftp", with the destination
// ports each covers (a rule's `tcp dport` / `th dport` match, or the keys of a helper map that
// lead to an ftp helper object); `texts` quotes the rules.
std::vector<HelperAssignment> helperAssignmentsFromNft(const NftRuleset& ruleset, const RuleTexts& texts);
// From `iptables-save -t raw` text: `-j CT --helper ftp` rules with their --dport/--dports.
// `tool` names the program in HelperAssignment::where.
std::vector<HelperAssignment> helperAssignmentsFromIptablesSave(std::string_view dump, std::string_view tool);
// The assignments that cover one of `controlPorts`.
std::vector<HelperAssignment> conflictingHelpers(const std::vector<HelperAssignment>& all,
                                                 const std::vector<std::uint16_t>& controlPorts);

}  // namespace ftpalg::firewall
