// `ftpalg replay`: pcap in, rewritten pcap and decision log out.
#pragma once

#include "app_config.hpp"

namespace ftpalg::app {

// Returns the process exit status: 0 success, 1 processing stopped early (corrupt capture,
// unwritable output), 2 configuration error.
int runReplay(const AppConfig& config);

}  // namespace ftpalg::app
