// `ftpalg rules`: see rules_command.hpp. The text is firewall/rules_report.hpp's.
#include "rules_command.hpp"

#include <algorithm>

#include "firewall/copy_rules.hpp"
#include "firewall/rules_report.hpp"

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
  // `rules` only prints: it never probes the kernel (a probe creates and deletes a table, which a
  // firewall reload watch or an audit would see). Which queue mechanism and which mode `run`
  // uses is decided by `run` at start (and printed in its "running" line); the report shows
  // each alternative with the condition under which `run` uses it.
  const std::optional<bool> nftQueue;
  const std::optional<bool> saneHelper;
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
  firewall::CopyRuleSpec copies;
  copies.controlPorts = config.controlPorts;
  copies.group = config.run.nflogGroup;
  out << "\n# --dry-run: no queue rules, no pinhole table; run creates this table, which sends a copy of\n"
         "# each control packet to NFLOG group "
      << copies.group << " (--nflog-group) and holds nothing:\n"
      << firewall::nftCopyTableScript(copies, "PID");
  return ExitCode::Success;
}

}  // namespace ftpalg::app
