// Detection of the kernel's own ftp conntrack helper (nf_conntrack_ftp), as text (standard
// library only). ftpalg and that helper would both rewrite the same connections, so `ftpalg run`
// refuses to start when a rule assigns the helper to one of its control ports
// (docs/admin-guide.md, "The kernel ftp helper"). kernel_helper.hpp runs the listings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ftpalg::firewall {

struct HelperAssignment {
  std::string where;                 // "nft table inet filter, ct helper ..." / "iptables-save -t raw: ..."
  std::vector<std::uint16_t> ports;  // empty: the rule names no port (all of them)
};

// From `nft list ruleset` text: `ct helper NAME { type "ftp" ... }` objects and the rules that
// assign them (`ct helper set "NAME"`), with the `dport` values on those rules.
std::vector<HelperAssignment> helperAssignmentsFromNft(std::string_view ruleset);
// From `iptables-save -t raw` text: `-j CT --helper ftp` rules with their --dport/--dports.
// `tool` names the program in HelperAssignment::where.
std::vector<HelperAssignment> helperAssignmentsFromIptablesSave(std::string_view dump, std::string_view tool);
// The assignments that cover one of `controlPorts`.
std::vector<HelperAssignment> conflictingHelpers(const std::vector<HelperAssignment>& all,
                                                 const std::vector<std::uint16_t>& controlPorts);

}  // namespace ftpalg::firewall
