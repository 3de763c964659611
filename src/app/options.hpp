// Command-line and config-file parsing: argv (and the INI file named by --config) -> a validated
// AppConfig. The only user of Boost.Program_options (DESIGN.md §2).
//
// Contract: every error message names the option (or file) and the offending value, e.g.
//   --snat: "192.168.77.0/33=203.0.113.1": prefix length 33 is out of range 0-32
// and is meant to be printed after "ftpalg: "; the process then exits with status 2 before any
// packet is touched. Command-line values override the config file's; a config file may name
// options of every command (an option that does not apply to the command is ignored), but an
// unknown name is an error.
#pragma once

#include <string>

#include "app_config.hpp"
#include "ftpalg/core/result.hpp"

namespace ftpalg::app {

Result<AppConfig> parseCommandLine(int argc, const char* const argv[]);

// "ftpalg 0.1.0" plus a line on what it is.
std::string versionText();

// The effective configuration of `config.command`, in the config-file format (one
// "option = value" per line, repeatable options repeated), so it can be saved and passed back
// with --config. Used by --print-config.
std::string formatConfig(const AppConfig& config);

}  // namespace ftpalg::app
