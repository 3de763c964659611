// The kernel ftp helper check (helper_detection.hpp reads the listings this runs): `run` refuses
// to start when the helper covers one of its control ports, `check`
// reports it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ftpalg/core/result.hpp"
#include "helper_detection.hpp"

namespace ftpalg::firewall {

// The assignments of the kernel's ftp helper that cover one of `controlPorts`: from the nft
// ruleset (JSON, nft_script.hpp readKernelRuleset) and `iptables-save -t raw` /
// `ip6tables-save -t raw` (the programs that exist). The error: the nft ruleset could not be read.
Result<std::vector<HelperAssignment>> kernelHelperConflicts(const std::vector<std::uint16_t>& controlPorts);

// The refusal `run` prints: why both must not run on the same connections, what to do, and each
// assignment on a line of its own.
std::string kernelHelperConflictMessage(const std::vector<HelperAssignment>& conflicts);

// kernelHelperConflicts(), as `run`'s precondition: an error (kernelHelperConflictMessage) when
// there is a conflict.
Status<> checkKernelHelper(const std::vector<std::uint16_t>& controlPorts);

}  // namespace ftpalg::firewall
