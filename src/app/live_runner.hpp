// `ftpalg run`: the live gateway, also --dry-run. (`ftpalg rules` is rules_command.hpp.)
#pragma once

#include <functional>

#include "app_config.hpp"
#include "exit_code.hpp"
#include "ftpalg/core/result.hpp"

namespace ftpalg::app {

// Returns the process exit status: 0 after a clean SIGTERM/SIGINT shutdown, non-zero when a
// precondition fails before any packet is touched (message on stderr).
// `reread` parses the same command line and --config file again: SIGHUP applies what changed in
// the policy and limits to the running engines (sessions stay) and names every other change,
// which needs a restart.
ExitCode runLive(const AppConfig& config, const std::function<Result<AppConfig>()>& reread);

}  // namespace ftpalg::app
