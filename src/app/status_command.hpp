// `ftpalg status`: asks the running `ftpalg run` over its unix socket (--status-socket) and prints
// the answer (status_server.hpp); exit status 1 when no daemon answers.
#pragma once

#include <ostream>

#include "app_config.hpp"
#include "exit_code.hpp"

namespace ftpalg::app {

ExitCode runStatus(const AppConfig& config, std::ostream& out);

}  // namespace ftpalg::app
