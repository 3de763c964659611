// ftpalg: parse the command line, then hand over to one command. Nothing else lives here.
#include <exception>
#include <iostream>
#include <string>

#include "check_command.hpp"
#include "exit_code.hpp"
#include "live_runner.hpp"
#include "log/diagnostics.hpp"
#include "options.hpp"
#include "replay_runner.hpp"
#include "rules_command.hpp"
#include "status_command.hpp"

int main(int argc, char* argv[]) {
  using namespace ftpalg::app;
  try {
    const auto parsed = parseCommandLine(argc, argv);
    if (!parsed) {
      ftpalg::log::reportError(parsed.error());
      return exitStatus(ExitCode::BadOptions);
    }
    const AppConfig& config = parsed.value();
    switch (config.command) {
      case Command::Help: std::cout << config.helpText; return exitStatus(ExitCode::Success);
      case Command::Version: std::cout << versionText(); return exitStatus(ExitCode::Success);
      case Command::Replay:
      case Command::Run:
      case Command::Rules:
      case Command::Check:
      case Command::Status: break;
    }
    if (config.printConfig) {
      std::cout << formatConfig(config);
      return exitStatus(ExitCode::Success);
    }
    switch (config.command) {
      case Command::Replay: return exitStatus(runReplay(config));
      case Command::Run:
        // SIGHUP reads the same command line and --config file again.
        return exitStatus(runLive(config, [argc, argv] { return parseCommandLine(argc, argv); }));
      case Command::Rules: return exitStatus(printRules(config, std::cout));
      case Command::Check: return exitStatus(runCheck(config, std::cout));
      case Command::Status: return exitStatus(runStatus(config, std::cout));
      case Command::Help:
      case Command::Version: break;
    }
    return exitStatus(ExitCode::Success);
  } catch (const std::exception& error) {
    ftpalg::log::reportError(std::string("internal error: ") + error.what());
    return exitStatus(ExitCode::Failed);
  }
}
