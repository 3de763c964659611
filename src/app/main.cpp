// ftpalg: parse the command line, then hand over to one command. Nothing else lives here.
#include <exception>
#include <iostream>

#include "live_runner.hpp"
#include "options.hpp"
#include "replay_runner.hpp"
#include "rules_command.hpp"

int main(int argc, char* argv[]) {
  using namespace ftpalg::app;
  try {
    const auto parsed = parseCommandLine(argc, argv);
    if (!parsed) {
      std::cerr << "ftpalg: " << parsed.error() << '\n';
      return 2;
    }
    const AppConfig& config = parsed.value();
    switch (config.command) {
      case Command::Help:
        std::cout << config.helpText;
        return 0;
      case Command::Version:
        std::cout << versionText();
        return 0;
      case Command::Replay:
      case Command::Run:
      case Command::Rules:
        break;
    }
    if (config.printConfig) {
      std::cout << formatConfig(config);
      return 0;
    }
    switch (config.command) {
      case Command::Replay:
        return runReplay(config);
      case Command::Run:
        return runLive(config);
      case Command::Rules:
        return printRules(config, std::cout);
      case Command::Help:
      case Command::Version:
        break;
    }
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "ftpalg: internal error: " << error.what() << '\n';
    return 1;
  }
}
