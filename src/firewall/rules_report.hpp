// The text of `ftpalg rules` (standard library only), for each sequence owner: what the admin adds
// to their own firewall, the queue rules `run` installs, and the nft table `run` creates, for
// review.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "anchor_rules.hpp"
#include "pinhole_rules.hpp"
#include "queue_rules.hpp"

namespace ftpalg::firewall {

enum class FirewallSyntax : std::uint8_t { Nft, Iptables };

// `kernelHasNftQueue`: whether this kernel has the nft `queue` expression, which decides the
// queue rules `run` uses; nullopt when unknown (`ftpalg rules` never probes: it changes nothing):
// then both kinds are shown, each with the condition under which `run` uses it.
// The engine-owned mode (--seq-owner engine): the accept rule of the pinhole mark, the queue rules,
// the pinhole table.
std::string rulesReport(const QueueRuleSpec& queue, FirewallSyntax syntax,
                        std::optional<bool> kernelHasNftQueue, const NftTableSpec& table = {});

// The conntrack-owned mode (--seq-owner kernel; `queue.layout` ConntrackOwned, `table.anchor`
// set): that the admin's firewall needs nothing of ftpalg's beyond the usual stateful rules, the
// mark bits ftpalg uses, the iptables queue rules, the nft table with the anchor.
// `kernelHasSaneHelper`: whether `run` can use this mode here (nullopt: not probed).
std::string conntrackOwnedRulesReport(const QueueRuleSpec& queue, FirewallSyntax syntax,
                                      std::optional<bool> kernelHasSaneHelper, const NftTableSpec& table,
                                      std::uint32_t verifiedMark);

}  // namespace ftpalg::firewall
