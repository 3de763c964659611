// The firewall rules of `ftpalg run` and `ftpalg rules`: the queue rules the daemon installs
// (and removes), the one accept rule the admin adds, and the detection of the kernel's own ftp
// helper (DESIGN.md §3: never run both on the same connections).
//
// Queue points (DESIGN.md §3), in ftpalg's own chains so that removal is clean:
//   iptables -t mangle -N ftpalg-c2s
//   iptables -t mangle -A ftpalg-c2s -p tcp --dport 21 -j NFQUEUE --queue-num 0 --queue-bypass
//   iptables -t mangle -I FORWARD 1 -j ftpalg-c2s
//   iptables -t raw    -N ftpalg-s2c
//   iptables -t raw    -A ftpalg-s2c -p tcp --sport 21 -j NFQUEUE --queue-num 0 --queue-bypass
//   iptables -t raw    -I PREROUTING 1 -j ftpalg-s2c
//   (the same with ip6tables)
// With --queue-balance N, each queue takes the flows whose SERVER address ends in a range of
// byte values (-m u32 on the destination address in FORWARD, the source address in PREROUTING),
// so both directions of a flow reach the same engine. The kernel's --queue-balance hashes both
// addresses, which differ between the two views under NAT.
// Where the kernel has the nft `queue` expression, the same rules live in
// `table inet ftpalg_queue` instead (backend/nft_backend.hpp).
//
// Commands run with fork/execve and an argument vector (never a shell), at startup and shutdown
// only, never on the packet path.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "app_config.hpp"
#include "ftpalg/core/result.hpp"

namespace ftpalg::app {

inline constexpr std::string_view kChainC2s = "ftpalg-c2s";
inline constexpr std::string_view kChainS2c = "ftpalg-s2c";

struct QueueRuleSpec {
  std::vector<std::uint16_t> controlPorts{21};
  std::uint16_t queueNum = 0;
  std::uint16_t queueCount = 1;
  bool bypass = true;  // --fail-open
};
QueueRuleSpec queueRuleSpec(const AppConfig& config);

using Argv = std::vector<std::string>;

// iptables/ip6tables argument vectors (without the program name) that install the queue rules,
// in order, for one family ("iptables" or "ip6tables" decides the u32 offsets).
std::vector<Argv> iptablesInstallCommands(const QueueRuleSpec& spec, bool ipv6);
// ... and that remove them (each may fail harmlessly when already absent).
std::vector<Argv> iptablesRemoveCommands();

// The admin's accept rule for the pinhole mark.
std::string nftAcceptRule();       // ct mark and 0x00010000 == 0x00010000 accept
std::string iptablesAcceptRule();  // iptables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT

// --- running commands ------------------------------------------------------------------------

struct CommandResult {
  int exitStatus = -1;  // -1: could not run
  std::string output;   // stdout + stderr, trimmed
};
// fork/execve(program, argv) with a clean environment; waits at most `timeoutSeconds`.
CommandResult runCommand(const std::string& program, const Argv& args, int timeoutSeconds = 15);
// The first executable among the usual sbin directories, e.g. findProgram("iptables").
std::optional<std::string> findProgram(std::string_view name);

// --- kernel ftp helper detection -------------------------------------------------------------

struct HelperAssignment {
  std::string where;                  // "nft table inet filter, helper ftp-std" / "iptables raw"
  std::vector<std::uint16_t> ports;   // empty: the rule names no port (all of them)
};
// From `nft list ruleset` text: `ct helper NAME { type "ftp" ... }` objects and the rules that
// assign them (`ct helper set "NAME"`), with the `dport` values on those rules.
std::vector<HelperAssignment> helperAssignmentsFromNft(std::string_view ruleset);
// From `iptables-save -t raw` text: `-j CT --helper ftp` rules with their --dport/--dports.
std::vector<HelperAssignment> helperAssignmentsFromIptablesSave(std::string_view dump, std::string_view tool);
// The assignments that cover one of `controlPorts`.
std::vector<HelperAssignment> conflictingHelpers(const std::vector<HelperAssignment>& all,
                                                 const std::vector<std::uint16_t>& controlPorts);

}  // namespace ftpalg::app
