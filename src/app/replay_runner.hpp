// `ftpalg replay`: pcap in, rewritten pcap and decision log out.
#pragma once

#include "app_config.hpp"
#include "exit_code.hpp"

namespace ftpalg::app {

// Success; Failed when processing stopped early (corrupt capture, unwritable output); BadOptions
// when --in, --out or --log cannot be opened (nothing processed).
ExitCode runReplay(const AppConfig& config);

}  // namespace ftpalg::app
