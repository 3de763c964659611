// The start-up check that the kernel's ftp conntrack helper is not assigned to a control port
// ftpalg serves (helper_detection.hpp reads the listings this runs).
#pragma once

#include <cstdint>
#include <vector>

#include "ftpalg/core/result.hpp"

namespace ftpalg::firewall {

// Reads `nft list ruleset`, `iptables-save -t raw` and `ip6tables-save -t raw` (the programs that
// exist); an error listing every assignment that covers one of `controlPorts`.
Status<> checkKernelHelper(const std::vector<std::uint16_t>& controlPorts);

}  // namespace ftpalg::firewall
