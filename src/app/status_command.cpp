// `ftpalg status`: see status_command.hpp.
#include "status_command.hpp"

#include "log/diagnostics.hpp"
#include "status_server.hpp"

namespace ftpalg::app {

ExitCode runStatus(const AppConfig& config, std::ostream& out) {
  auto answer = queryStatus(config.status.socketPath, config.status.json);
  if (!answer) {
    log::reportError("status: " + answer.error());
    return ExitCode::Failed;
  }
  out << answer.value();
  return ExitCode::Success;
}

}  // namespace ftpalg::app
