// `ftpalg rules`: see rules_command.hpp. The text is firewall/rules_report.hpp's.
#include "rules_command.hpp"

#include <algorithm>

#include "firewall/nft_script.hpp"
#include "firewall/rules_report.hpp"
#include "live_system.hpp"

namespace ftpalg::app {

firewall::QueueRuleSpec queueRuleSpec(const AppConfig& config) {
  firewall::QueueRuleSpec spec;
  spec.controlPorts = config.controlPorts;
  spec.queueNum = config.run.queueNum;
  spec.queueCount = std::max<std::uint16_t>(1, config.run.queueCount);
  spec.bypass = config.run.failOpen;
  return spec;
}

ExitCode printRules(const AppConfig& config, std::ostream& out) {
  // The kernel decides which queue mechanism `run` uses; without privileges it cannot be probed.
  std::optional<bool> nftQueue;
  if (hasNetAdminCapability()) {
    if (auto probed = firewall::nftKernelHasQueue()) nftQueue = probed.value();
  }
  const auto syntax = config.rules.firewall == FirewallKind::Nft ? firewall::FirewallSyntax::Nft
                                                                 : firewall::FirewallSyntax::Iptables;
  out << firewall::rulesReport(queueRuleSpec(config), syntax, nftQueue);
  return ExitCode::Success;
}

}  // namespace ftpalg::app
