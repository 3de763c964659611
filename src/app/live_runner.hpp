// `ftpalg run` (the live gateway, also --dry-run) and `ftpalg rules`.
#pragma once

#include <ostream>

#include "app_config.hpp"

namespace ftpalg::app {

// Returns the process exit status: 0 after a clean SIGTERM/SIGINT shutdown, non-zero when a
// precondition fails before any packet is touched (message on stderr).
int runLive(const AppConfig& config);

// Prints the rules an admin adds to their own firewall (the pinhole-mark accept rule) and the
// queue rules `run` installs, for config.rules.firewall. Returns the exit status.
int printRules(const AppConfig& config, std::ostream& out);

}  // namespace ftpalg::app
