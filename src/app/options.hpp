// Command-line and config-file parsing: argv (and the file named by --config) -> a validated
// AppConfig. The only user of Boost.Program_options; of the OS it uses stat(2) and geteuid(2) only
// (to refuse an unsafe config file).
//
// Contract:
//  - Every error message names the option and quotes the offending value; for a value from the
//    config file it also names the file and line:
//      --snat: "192.168.77.0/33=203.0.113.1": prefix length 33 is out of range 0-32
//      /etc/ftpalg/ftpalg.conf:3: queue: "abc": not a decimal number
//    It is meant to be printed after "ftpalg: "; the process then exits with status 2 before any
//    packet is touched.
//  - The config file holds one "name = value" per line (long option names without "--"; a
//    repeatable option once per value; a switch takes true or false); blank lines and comments
//    ('#' at the start of a line or after a blank) are skipped. It may name options of every
//    command (one that does not apply to the command is ignored); an unknown name is an error.
//  - A setting given on the command line replaces the config file's (for a repeatable option,
//    the whole list; --fail-open and --fail-closed are one setting). Within one source, a second
//    value of a non-repeatable option, or two contradicting spellings of one setting, are errors.
//  - Defaults are the AppConfig, Policy and Limits default member initializers; the help shows
//    them, and formatConfig() output read back through --config gives the same AppConfig.
#pragma once

#include <string>
#include <vector>

#include "app_config.hpp"
#include "ftpalg/core/result.hpp"

namespace ftpalg::app {

Result<AppConfig> parseCommandLine(int argc, const char* const argv[]);

// "ftpalg 0.1.0" plus a line on what it is.
std::string versionText();

// The effective configuration of `config.command`, in the config-file format (one
// "option = value" per line, repeatable options repeated), so it can be saved and passed back
// with --config. Used by --print-config. A value that begins or ends with a blank, or holds a
// blank followed by '#', cannot be read back unchanged.
std::string formatConfig(const AppConfig& config);

// One setting that differs between the running configuration and one read again (SIGHUP), as
// --print-config writes it. `reloadable`: a policy or limit option, which the engines take
// without a restart (Engine::reconfigure); every other change needs a restart.
struct SettingChange {
  std::string name;
  std::string before, after;
  bool reloadable = false;
};
std::vector<SettingChange> changedSettings(const AppConfig& running, const AppConfig& reread);

// One row of the option table as documentation states it: ftpalg.conf(5) and the sample
// /etc/ftpalg/ftpalg.conf are checked against these (tests/deploy/man_page_test.cpp).
struct OptionDescription {
  std::string name;                   // the long name, without "--"
  std::vector<std::string> commands;  // of "replay", "run", "rules", in this order
  bool commandLineOnly = false;       // help, config, print-config: not in a config file
  bool isSwitch = false;              // no value on the command line; true or false in a file
  bool repeatable = false;
  std::string range;  // accepted numbers, "0-65535"; empty for other kinds
  // The default as --print-config writes it (one entry per value of a repeatable option); a
  // switch: {"true"} when it is in effect by default, else {"false"}; empty: no default.
  std::vector<std::string> defaults;
};

// Every option, in the table's order.
std::vector<OptionDescription> describeOptions();

}  // namespace ftpalg::app
