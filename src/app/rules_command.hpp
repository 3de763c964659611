// `ftpalg rules`, and the queue rules an AppConfig asks for (shared with `ftpalg run`).
#pragma once

#include <ostream>

#include "app_config.hpp"
#include "exit_code.hpp"
#include "firewall/queue_rules.hpp"

namespace ftpalg::app {

// --control-port, --queue, --queue-balance, --fail-open/--fail-closed and --control-mark as
// queue rules, in the layout of sequence owner `owner` (the effective one: runLive may fall back
// to the engine-owned mode); the one-argument form uses --seq-owner.
firewall::QueueRuleSpec queueRuleSpec(const AppConfig& config, SequenceOwner owner);
firewall::QueueRuleSpec queueRuleSpec(const AppConfig& config);

// Prints, for both sequence owners, what an admin adds to their own firewall (conntrack-owned:
// nothing of ftpalg's; engine-owned: the pinhole-mark accept rule), the queue rules `run` installs
// and the nft table it creates, for config.rules.firewall. With CAP_NET_ADMIN it probes the
// kernel for the sane helper and the nft `queue` expression (temporary tables) to say which mode
// and which queue rules `run` would use here. Returns the exit status.
ExitCode printRules(const AppConfig& config, std::ostream& out);

}  // namespace ftpalg::app
