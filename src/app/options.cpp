// Command-line and config-file parsing (see options.hpp): merging the command line and the
// config file into an AppConfig, and the constraints between options.
//
// The pieces, all generated from or checked through one option table:
//   options_table.hpp   the table: every option, how its values are stored and printed back;
//   options_values.hpp  a value as written and where, the errors, the parsers of one value;
//   options_file.hpp    the --config file reader;
//   options_help.hpp    the help texts and the Boost.Program_options description.
// Boost.Program_options only splits the command line into option names and raw strings; every
// value is validated by the table's parsers, so that each error names the option (and for a
// file, the file and line), quotes the value and says what is wrong with it.
#include "options.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "firewall/ct_marks.hpp"
#include "options_file.hpp"
#include "options_help.hpp"
#include "options_table.hpp"
#include "options_values.hpp"

#ifndef FTPALG_VERSION
#define FTPALG_VERSION "unknown"
#endif

namespace ftpalg::app {

namespace cli {
namespace {

namespace po = boost::program_options;

Given commandLineValues(const po::variables_map& vm, Command command) {
  Given values;
  for (const Option& option : optionTable()) {
    if (!option.appliesTo(command) || vm.count(std::string(option.name)) == 0) continue;
    const po::variable_value& given = vm[std::string(option.name)];
    std::vector<Value>& target = values[option.name];
    switch (option.arity) {
      case Arity::Switch: target.push_back(Value{option.name, "true", {}}); break;
      case Arity::Single: target.push_back(Value{option.name, given.as<std::string>(), {}}); break;
      case Arity::Repeated:
        for (const std::string& text : given.as<std::vector<std::string>>()) {
          target.push_back(Value{option.name, text, {}});
        }
        break;
    }
  }
  return values;
}

// Stores every setting of `command`: from the command line if it gives any option of the setting,
// else from the config file. Returns the values stored, by option.
Given applySettings(Command command, const Given& commandLine, const Given& file, AppConfig& config) {
  Given stored;
  std::set<std::string_view> settingsDone;
  for (const Option& option : optionTable()) {
    if (option.commandLineOnly || !option.appliesTo(command)) continue;
    if (!settingsDone.insert(option.settingName()).second) continue;
    std::vector<const Option*> members;
    for (const Option& other : optionTable()) {
      if (!other.commandLineOnly && other.appliesTo(command) && other.settingName() == option.settingName()) {
        members.push_back(&other);
      }
    }
    const bool onCommandLine = std::any_of(members.begin(), members.end(), [&](const Option* member) {
      return commandLine.contains(member->name);
    });
    const Given& source = onCommandLine ? commandLine : file;
    std::optional<AppConfig> result;
    const Value* first = nullptr;
    for (const Option* member : members) {
      const auto found = source.find(member->name);
      if (found == source.end()) continue;
      AppConfig candidate = config;
      member->store(candidate, found->second);
      const Value& value = found->second.front();
      if (first != nullptr && candidate != *result) {
        if (value.origin.file.empty()) {
          throw UsageError("--" + std::string(first->option) + " and --" + std::string(value.option) +
                           " exclude each other");
        }
        const bool valueLater = value.origin.line > first->origin.line;  // named where the clash shows
        const Value& later = valueLater ? value : *first;
        const Value& earlier = valueLater ? *first : value;
        throw UsageError(optionAt(later.origin, later.option) + " and " + std::string(earlier.option) +
                         " (line " + std::to_string(earlier.origin.line) + ") exclude each other");
      }
      if (first == nullptr) {
        result = std::move(candidate);
        first = &value;
      }
      stored[member->name] = found->second;
    }
    if (result) config = std::move(*result);
  }
  return stored;
}

const Value* storedValue(const Given& stored, std::string_view option) {
  const auto found = stored.find(option);
  return found == stored.end() ? nullptr : &found->second.front();
}

// Constraints between options, checked once every value is stored. Each error names the option
// whose value breaks it, where it was given.
void checkCombinations(const AppConfig& config, const Given& stored) {
  const bool runLike = config.command == Command::Run || config.command == Command::Check;
  if (config.command == Command::Replay || runLike) {
    const Limits& limits = config.engine.limits;
    if (limits.maxMultiLineReplyBytes < limits.maxLineLength) {
      if (const Value* reply = storedValue(stored, "max-multiline-reply")) {
        fail(*reply, "smaller than " + spelled(reply->origin, "max-line-length") + " " +
                         std::to_string(limits.maxLineLength));
      }
      if (const Value* line = storedValue(stored, "max-line-length")) {
        fail(*line, "larger than " + spelled(line->origin, "max-multiline-reply") + " " +
                        std::to_string(limits.maxMultiLineReplyBytes));
      }
      throw std::logic_error("the default Limits have maxMultiLineReplyBytes < maxLineLength");
    }
  }
  if (runLike || config.command == Command::Rules) {
    if (const auto problem = firewall::markBitsProblem(config.run.controlMark, config.run.verifiedMark,
                                                       config.run.pinholeMark)) {
      const Value* blamed = storedValue(stored, "verified-mark");
      if (blamed == nullptr) blamed = storedValue(stored, "pinhole-mark");
      if (blamed == nullptr) blamed = storedValue(stored, "control-mark");
      if (blamed == nullptr) throw std::logic_error("the default mark bits clash: " + *problem);
      fail(*blamed, *problem);
    }
  }
  if (config.command == Command::Run && config.status.metricsListen) {
    const auto endpoint = Endpoint::parse(*config.status.metricsListen);
    if (!endpoint || endpoint->port == 0) {
      fail(*storedValue(stored, "metrics-listen"),
           "not ADDRESS:PORT with a port, e.g. 127.0.0.1:9721 or [::1]:9721");
    }
  }
  if (runLike && config.run.nftTable == config.run.nftQueueTable) {
    const Value* blamed = storedValue(stored, "nft-queue-table");
    if (blamed == nullptr) blamed = storedValue(stored, "nft-table");
    if (blamed == nullptr) throw std::logic_error("the default nft tables have the same name");
    fail(*blamed, "the same table as " +
                      std::string(blamed->option == "nft-table" ? "--nft-queue-table" : "--nft-table"));
  }
  if (runLike && config.run.pinholeBackend == PinholeBackendKind::Conntrack &&
      config.run.seqOwner == SequenceOwner::Engine) {
    const Value* blamed = storedValue(stored, "pinhole-backend");
    if (blamed == nullptr) throw std::logic_error("conntrack pinholes by default in the engine-owned mode");
    fail(*blamed,
         "needs --seq-owner kernel (a conntrack expectation needs the anchor's helper on its control "
         "connection)");
  }
  if (runLike || config.command == Command::Rules) {
    const unsigned last = config.run.queueNum + config.run.queueCount - 1u;
    if (last > 65535) {
      const Value* blamed = storedValue(stored, "queue-balance");
      if (blamed == nullptr) blamed = storedValue(stored, "queue");
      if (blamed == nullptr) throw std::logic_error("the default queues go past 65535");
      fail(*blamed,
           "queues " + std::to_string(config.run.queueNum) + ".." + std::to_string(last) + " go past 65535");
    }
  }
  if (config.command == Command::Replay) {
    const Value* in = storedValue(stored, "in");
    if (in == nullptr)
      throw UsageError("--in: missing; replay needs a capture (--in FILE, \"-\" for standard input)");
    // --out or --log naming the capture itself (by any name, link or path) is refused by the
    // replay runner, which compares the files (replay_runner.cpp: refuseInputAsOutput).
    const Value* out = storedValue(stored, "out");
    if (out != nullptr && out->text == "-" && config.logPath == "-") {
      fail(*out, "the decision log goes to standard output too; give --log a file");
    }
    if (in->text == "-" && config.configFile == std::optional<std::string>("-")) {
      fail(*in, "standard input is already the config file");
    }
  }
}

Command commandNamed(std::string_view name) {
  if (name == "replay") return Command::Replay;
  if (name == "run") return Command::Run;
  if (name == "rules") return Command::Rules;
  if (name == "check") return Command::Check;
  if (name == "status") return Command::Status;
  throw UsageError("unknown command \"" + std::string(name) +
                   "\"; expected replay, run, rules, check or status (see ftpalg --help)");
}

AppConfig parse(int argc, const char* const argv[]) {
  AppConfig config;
  if (argc < 2)
    throw UsageError("no command given; expected replay, run, rules, check or status (see ftpalg --help)");
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    config.command = Command::Help;
    config.helpText = globalHelp();
    return config;
  }
  if (first == "--version" || first == "-V") {
    config.command = Command::Version;
    return config;
  }
  config.command = commandNamed(first);

  po::variables_map vm;
  try {
    const po::positional_options_description noPositionals;
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argc - 1, argv + 1)
                  .options(describeCommandLine(config.command))
                  .positional(noPositionals)
                  .style(style)
                  .run(),
              vm);
  } catch (const po::too_many_positional_options_error&) {
    throw UsageError(std::string("unexpected argument after \"") + argv[1] +
                     "\"; options start with \"--\" (see ftpalg " + argv[1] + " --help)");
  } catch (const po::unknown_option& error) {
    throw UsageError(std::string(error.what()) + " for ftpalg " + argv[1] + " (see ftpalg " + argv[1] +
                     " --help)");
  } catch (const po::error& error) {
    throw UsageError(error.what());
  }
  if (vm.count("help") != 0) {
    config.command = Command::Help;
    config.helpText = commandHelp(commandNamed(first));
    return config;
  }

  const Given commandLine = commandLineValues(vm, config.command);
  for (const Option& option : optionTable()) {
    const auto found = commandLine.find(option.name);
    if (option.commandLineOnly && option.store && found != commandLine.end())
      option.store(config, found->second);
  }
  Given file;
  if (config.configFile) {
    file = readConfigFile(commandLine.at("config").front(), config.command);
    // Every value in the file is validated, also one the command line overrides.
    AppConfig fileAlone = config;
    applySettings(config.command, Given{}, file, fileAlone);
  }
  const Given stored = applySettings(config.command, commandLine, file, config);
  checkCombinations(config, stored);
  return config;
}

}  // namespace
}  // namespace cli

Result<AppConfig> parseCommandLine(int argc, const char* const argv[]) {
  try {
    return cli::parse(argc, argv);
  } catch (const cli::UsageError& error) {
    return Err{std::string(error.what())};
  }
}

std::string versionText() {
  return std::string("ftpalg ") + FTPALG_VERSION + "\nFTP application-layer gateway for Linux NAT routers\n";
}

std::vector<OptionDescription> describeOptions() {
  std::vector<OptionDescription> descriptions;
  for (const cli::Option& option : cli::optionTable()) {
    OptionDescription description;
    description.name = option.name;
    // `check` takes every option of `run` (options_table.hpp): the documentation says so once.
    for (const Command command : {Command::Replay, Command::Run, Command::Rules, Command::Status}) {
      if (option.appliesTo(command)) description.commands.emplace_back(cli::commandName(command));
    }
    description.commandLineOnly = option.commandLineOnly;
    description.isSwitch = option.arity == cli::Arity::Switch;
    description.repeatable = option.arity == cli::Arity::Repeated;
    description.range = option.range;
    if (!option.commandLineOnly && option.print) {
      description.defaults = option.print(AppConfig{});
      if (description.isSwitch && description.defaults != std::vector<std::string>{"true"}) {
        description.defaults = {"false"};
      }
    }
    descriptions.push_back(std::move(description));
  }
  return descriptions;
}

std::vector<SettingChange> changedSettings(const AppConfig& running, const AppConfig& reread) {
  std::vector<SettingChange> changes;
  for (const cli::Option& option : cli::optionTable()) {
    if (option.commandLineOnly || !option.appliesTo(running.command)) continue;
    const auto before = option.print(running);
    const auto after = option.print(reread);
    if (before == after) continue;
    const auto joined = [](const std::vector<std::string>& values) {
      std::string text;
      for (const std::string& value : values) text += (text.empty() ? "" : ",") + value;
      return text.empty() ? std::string("(unset)") : text;
    };
    changes.push_back(
        SettingChange{std::string(option.name), joined(before), joined(after),
                      option.group == cli::Group::Policy || option.group == cli::Group::Limits});
  }
  return changes;
}

std::string formatConfig(const AppConfig& config) {
  std::ostringstream out;
  out << "# ftpalg " << cli::commandName(config.command) << ": effective configuration"
      << (config.configFile ? " (with " + *config.configFile + ")" : std::string()) << '\n';
  for (const cli::Option& option : cli::optionTable()) {
    if (option.commandLineOnly || !option.appliesTo(config.command)) continue;
    for (const std::string& value : option.print(config)) out << option.name << " = " << value << '\n';
  }
  return out.str();
}

}  // namespace ftpalg::app
