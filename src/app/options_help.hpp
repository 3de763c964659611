// Internals of ftpalg_options (see options.hpp): the help texts and the Boost.Program_options
// description of a command's command line, both generated from the option table.
#pragma once

#include <string>

#include "app_config.hpp"

namespace boost::program_options {
class options_description;
}

namespace ftpalg::app::cli {

// The command line of `command`, described for Boost.Program_options (and its help output): one
// section per Group, each option with its help line ("what it does (repeatable, MIN-MAX, default
// VALUE)").
boost::program_options::options_description describeCommandLine(Command command);

// `ftpalg --help`.
std::string globalHelp();

// `ftpalg COMMAND --help`: usage, what the command does, its options.
std::string commandHelp(Command command);

}  // namespace ftpalg::app::cli
