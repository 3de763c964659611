// `ftpalg rules`, and the queue rules an AppConfig asks for (shared with `ftpalg run`).
#pragma once

#include <ostream>

#include "app_config.hpp"
#include "exit_code.hpp"
#include "firewall/queue_rules.hpp"

namespace ftpalg::app {

// --control-port, --queue, --queue-balance, --fail-open/--fail-closed as queue rules.
firewall::QueueRuleSpec queueRuleSpec(const AppConfig& config);

// Prints the rules an admin adds to their own firewall (the pinhole-mark accept rule), the queue
// rules `run` installs and the pinhole table it creates, for config.rules.firewall. With
// CAP_NET_ADMIN it probes the kernel for the nft `queue` expression (a temporary table) to show
// only the queue rules `run` would use here. Returns the exit status.
ExitCode printRules(const AppConfig& config, std::ostream& out);

}  // namespace ftpalg::app
