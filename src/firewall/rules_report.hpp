// The text of `ftpalg rules` (standard library only): the accept rule the admin adds, the queue
// rules `run` installs, and the pinhole table `run` creates, for review.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "pinhole_rules.hpp"
#include "queue_rules.hpp"

namespace ftpalg::firewall {

enum class FirewallSyntax : std::uint8_t { Nft, Iptables };

// `kernelHasNftQueue`: whether this kernel has the nft `queue` expression, which decides the
// queue rules `run` uses; nullopt when it could not be probed (no privileges): then both kinds are
// shown, each with the condition under which `run` uses it.
std::string rulesReport(const QueueRuleSpec& queue, FirewallSyntax syntax,
                        std::optional<bool> kernelHasNftQueue, const NftTableSpec& table = {});

}  // namespace ftpalg::firewall
