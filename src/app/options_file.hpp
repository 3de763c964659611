// Internals of ftpalg_options (see options.hpp): the --config file reader.
#pragma once

#include "app_config.hpp"
#include "options_values.hpp"

namespace ftpalg::app::cli {

// The values the --config file gives the options of `command`. Format: one "name = value" per
// line, blanks around both ignored; blank lines and comments skipped; an option of another
// command is ignored; an unknown name, a command-line-only option, a line without '=' or a second
// value of an option that is not repeatable is an error naming the file and line.
//
// `path` is the --config value (its origin is the command line). The file is refused when it is
// not a regular file, is writable by group or others, or is owned by neither root nor the user
// running ftpalg: options decide what the firewall admits.
Given readConfigFile(const Value& path, Command command);

}  // namespace ftpalg::app::cli
