// Internals of ftpalg_options (see options.hpp): the option table. Every option is one row: its
// name, the commands it belongs to, how a value is validated and stored into AppConfig, and how
// the stored field is printed back. The help text, the Boost.Program_options description of the
// command line, the config-file reader and --print-config are all generated from it. No default
// is written in the table: the help shows what printing a default-constructed AppConfig gives,
// i.e. the default member initializers in app_config.hpp and include/ftpalg/engine/policy.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app_config.hpp"
#include "options_values.hpp"

namespace ftpalg::app::cli {

// The help's sections, in the order they are shown.
enum class Group : std::uint8_t { General, Replay, Queues, ControlPorts, Rules, Run, Log, Policy, Limits };
constexpr Group kGroups[] = {Group::General, Group::Replay, Group::Queues, Group::ControlPorts, Group::Rules,
                             Group::Run,     Group::Log,    Group::Policy, Group::Limits};

std::string groupTitle(Group group);

// The commands an option belongs to: a mask of commandBit()s.
constexpr unsigned commandBit(Command command) { return 1u << static_cast<unsigned>(command); }
constexpr unsigned kReplay = commandBit(Command::Replay);
// `check` takes every option of `run` (the same command line or --config file), so it checks the
// gateway `run` would start.
constexpr unsigned kRun = commandBit(Command::Run) | commandBit(Command::Check);
constexpr unsigned kRules = commandBit(Command::Rules);
constexpr unsigned kStatus = commandBit(Command::Status);
constexpr unsigned kEngine = kReplay | kRun;  // the commands that run the engine (and check)
constexpr unsigned kAll = kReplay | kRun | kRules | kStatus;

enum class Arity : std::uint8_t {
  Switch,    // no value on the command line ("--dry-run"); true or false in a config file
  Single,    // one value per source
  Repeated,  // any number; the values of one source replace the default list
};

struct Option {
  std::string_view name;
  char shortName = 0;
  Group group = Group::General;
  unsigned commands = kAll;
  Arity arity = Arity::Single;
  std::string valueName;  // what the help shows after the name: "N", "FILE", "nft|none"
  std::string help;       // what it does; the help appends whether it repeats, the range, the default
  std::string range;      // accepted numbers, "1-4096"; empty for other kinds
  // Options that set the same field share a setting (fail-open, fail-closed): a command-line value
  // for any of them replaces the config file's, and two of them in one source must agree.
  // Empty: the option's own name.
  std::string_view setting;
  bool commandLineOnly = false;  // --help, --config, --print-config
  // Validates the values of one source (exactly one unless Repeated) and stores the result.
  std::function<void(AppConfig&, std::span<const Value>)> store;
  // The config-file values that reproduce the stored field; none leaves the option out.
  std::function<std::vector<std::string>(const AppConfig&)> print;

  std::string_view settingName() const { return setting.empty() ? name : setting; }
  bool appliesTo(Command command) const { return (commands & commandBit(command)) != 0; }
};

// Every option, in the order --print-config prints them.
const std::vector<Option>& optionTable();

// The row named `name` (without "--"), or null.
const Option* findOption(std::string_view name);

// "replay", "run", ...
std::string_view commandName(Command command);

}  // namespace ftpalg::app::cli
