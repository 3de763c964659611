// `ftpalg rules`: see rules_command.hpp. The text is firewall/rules_report.hpp's.
#include "rules_command.hpp"

#include <algorithm>

#include "firewall/nft_script.hpp"
#include "firewall/rules_report.hpp"
#include "live_system.hpp"

namespace ftpalg::app {

firewall::QueueRuleSpec queueRuleSpec(const AppConfig& config, SequenceOwner owner) {
  firewall::QueueRuleSpec spec;
  spec.controlPorts = config.controlPorts;
  spec.queueNum = config.run.queueNum;
  spec.queueCount = std::max<std::uint16_t>(1, config.run.queueCount);
  spec.bypass = config.run.failOpen;
  spec.layout = owner == SequenceOwner::Kernel ? firewall::QueueLayout::ConntrackOwned
                                               : firewall::QueueLayout::EngineOwned;
  spec.controlMark = config.run.controlMark;
  spec.queueTable = config.run.nftQueueTable;
  return spec;
}

firewall::QueueRuleSpec queueRuleSpec(const AppConfig& config) {
  return queueRuleSpec(config, config.run.seqOwner);
}

ExitCode printRules(const AppConfig& config, std::ostream& out) {
  // The kernel decides which mode and which queue mechanism `run` uses; without privileges it
  // cannot be probed.
  std::optional<bool> nftQueue;
  std::optional<bool> saneHelper;
  if (hasNetAdminCapability()) {
    if (auto probed = firewall::nftKernelHasQueue()) nftQueue = probed.value();
    saneHelper = firewall::probeAnchorHelper().ok();
  }
  const auto syntax = config.rules.firewall == FirewallKind::Nft ? firewall::FirewallSyntax::Nft
                                                                 : firewall::FirewallSyntax::Iptables;
  firewall::NftTableSpec pinholeTable;
  pinholeTable.table = config.run.nftTable;
  pinholeTable.mark = config.run.pinholeMark;
  firewall::NftTableSpec anchorTable;
  anchorTable.table = config.run.nftTable;
  anchorTable.mark = config.run.pinholeMark;
  anchorTable.pinholeMaps = false;
  anchorTable.anchor = firewall::AnchorSpec{config.controlPorts, config.run.controlMark};
  out << firewall::conntrackOwnedRulesReport(queueRuleSpec(config, SequenceOwner::Kernel), syntax, saneHelper,
                                             anchorTable, config.run.verifiedMark)
      << "\n# Engine-owned mode (--seq-owner engine"
      << (saneHelper && !*saneHelper ? ", and what run uses on this kernel" : "") << ").\n"
      << firewall::rulesReport(queueRuleSpec(config, SequenceOwner::Engine), syntax, nftQueue, pinholeTable);
  return ExitCode::Success;
}

}  // namespace ftpalg::app
