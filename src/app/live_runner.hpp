// `ftpalg run`: the live gateway, also --dry-run. (`ftpalg rules` is rules_command.hpp.)
#pragma once

#include "app_config.hpp"
#include "exit_code.hpp"

namespace ftpalg::app {

// Returns the process exit status: 0 after a clean SIGTERM/SIGINT shutdown, non-zero when a
// precondition fails before any packet is touched (message on stderr).
ExitCode runLive(const AppConfig& config);

}  // namespace ftpalg::app
