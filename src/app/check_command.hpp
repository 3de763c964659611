// `ftpalg check`: the preflight of `ftpalg run` with the same options. It reads the kernel and the
// firewall and changes nothing (the nft probes go through nft's check mode: validated by the
// kernel, never committed, nft_script.hpp), prints one line per check (firewall/preflight.hpp:
// level, name, what was found, the fix) and exits 1 when `run` would refuse to start or FTP would
// not work through it. docs/admin-guide.md, "Checking a router: ftpalg check".
#pragma once

#include <ostream>

#include "app_config.hpp"
#include "exit_code.hpp"

namespace ftpalg::app {

ExitCode runCheck(const AppConfig& config, std::ostream& out);

}  // namespace ftpalg::app
