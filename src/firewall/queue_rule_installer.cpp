// Installing the queue rules: see queue_rule_installer.hpp.
#include "queue_rule_installer.hpp"

#include "nft_script.hpp"
#include "run_command.hpp"

namespace ftpalg::firewall {

namespace {

std::string joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : std::string(separator)) + item;
  return text;
}

}  // namespace

Result<QueueRules> QueueRules::plan(const QueueRuleSpec& spec) {
  QueueRules rules;
  rules.spec_ = spec;
  auto hasQueue = nftKernelHasQueue();
  rules.nftQueue_ = hasQueue && hasQueue.value();
  // The conntrack-owned layout needs -m bpf (payload present), which nft cannot express.
  rules.kind_ = rules.nftQueue_ && spec.layout == QueueLayout::EngineOwned ? Kind::Nft : Kind::Iptables;
  for (const IpFamily family : {IpFamily::V4, IpFamily::V6}) {
    const std::string prefix = family == IpFamily::V4 ? "iptables" : "ip6tables";
    const auto save = findProgram(prefix + "-save");
    const auto restore = findProgram(prefix + "-restore");
    if (save && restore) {
      rules.families_.push_back(IptablesFamily{family, *save, *restore});
    } else if (rules.kind_ == Kind::Nft) {
      continue;  // only for removing a stale copy of the iptables rules, if any
    } else if (family == IpFamily::V4) {
      return Err(std::string(
          spec.layout == QueueLayout::ConntrackOwned
              ? "the conntrack-owned queue rules need iptables (NFQUEUE, -m bpf) and no iptables program was "
                "found (iptables-save and iptables-restore): install iptables, use --no-queue-rules and "
                "install "
                "the rules yourself, or --seq-owner engine"
              : "this kernel has no nft `queue` expression and no iptables program was found (iptables-save "
                "and "
                "iptables-restore): install iptables (NFQUEUE target) or use --no-queue-rules and install "
                "the "
                "rules yourself"));
    } else {
      rules.warnings_.push_back(prefix + "-save/" + prefix +
                                "-restore not found: IPv6 FTP control traffic is not queued");
    }
  }
  return rules;
}

QueueRules::QueueRules(QueueRules&& other) noexcept
    : spec_(std::move(other.spec_)),
      kind_(other.kind_),
      nftQueue_(other.nftQueue_),
      families_(std::move(other.families_)),
      warnings_(std::move(other.warnings_)),
      installed_(other.installed_) {
  other.installed_ = false;
}

QueueRules::~QueueRules() {
  if (installed_) (void)remove();
}

std::string QueueRules::description() const {
  if (kind_ == Kind::Nft) return "nft table inet " + spec_.queueTable;
  std::string chains;
  for (const QueuePoint& point : queuePoints(spec_.layout))
    chains += (chains.empty() ? "" : "/") + std::string(point.chain);
  return "iptables chain" + std::string(spec_.layout == QueueLayout::EngineOwned ? "s " : " ") + chains;
}

bool QueueRules::needsNetRaw() const {
  if (kind_ != Kind::Iptables || families_.empty()) return false;
  return runCommand(families_.front().restore, {"-V"}).output.find("legacy") != std::string::npos;
}

Result<IptablesListing> QueueRules::list(const IptablesFamily& family) const {
  std::string text;
  for (const QueuePoint& point : kQueuePoints) {
    // iptables-save -t mangle / -t raw
    const CommandResult dump = runCommand(family.save, {"-t", std::string(point.table)});
    if (dump.exitStatus != 0) {
      return Err(family.save + " -t " + std::string(point.table) + " failed (exit " +
                 std::to_string(dump.exitStatus) + "): " + dump.output);
    }
    if (dump.truncated) return Err(family.save + " -t " + std::string(point.table) + ": output too large");
    text += dump.output + "\n";
  }
  return parseIptablesSave(text);
}

Status<> QueueRules::restore(const IptablesFamily& family, const std::string& input) const {
  // iptables-restore -w --noflush < input: one transaction per table; -w waits for the xtables
  // lock (iptables-legacy) instead of failing.
  const CommandResult result = runCommand(family.restore, {"-w", "--noflush"}, input);
  if (result.exitStatus != 0) {
    return Err(family.restore + " -w --noflush failed (exit " + std::to_string(result.exitStatus) +
               "): " + result.output + "\ninput was:\n" + input);
  }
  return okStatus();
}

Status<> QueueRules::install() {
  installed_ = true;  // from the first change on, leaving removes what is there
  if (kind_ == Kind::Nft) {
    if (auto applied = runNftScript(nftQueueInstallScript(spec_)); !applied) return applied;
    // A previous instance of the other layout may have left iptables rules: they go now that
    // the new rules are in place.
    if (auto stale = removeIptables(); !stale) return stale;
    return verify();
  }
  for (const IptablesFamily& family : families_) {
    auto current = list(family);
    if (!current) return Err(current.error());
    if (auto applied = restore(family, iptablesInstallRestoreInput(spec_, family.family, *current));
        !applied) {
      return applied;
    }
  }
  // A previous engine-owned instance on a kernel with nft `queue` left its table: it goes now
  // that the new rules are in place.
  if (nftQueue_) {
    if (auto removed = runNftScript(nftQueueRemoveScript(spec_));
        !removed && !isNoSuchObject(removed.error())) {
      return removed;
    }
  }
  return verify();
}

Status<> QueueRules::verify() const {
  // Listed back (after every family is installed): what the kernel holds now.
  auto problems = this->problems();
  if (!problems) return Err("queue rules not in place after installing them: " + problems.error());
  if (!problems->empty()) {
    return Err("queue rules not in place after installing them (" +
               (kind_ == Kind::Nft ? "nft list table inet " + spec_.queueTable
                                   : std::string("iptables-save -t mangle/-t raw lists")) +
               "): " + joined(*problems, "; "));
  }
  return okStatus();
}

Result<std::vector<std::string>> QueueRules::problems() const {
  std::vector<std::string> found;
  if (kind_ == Kind::Nft) {
    std::string listing;
    // nft list table inet ftpalg_queue
    if (auto listed = runNftScript("list table inet " + spec_.queueTable, &listing); !listed) {
      if (isNoSuchObject(listed.error()))
        return std::vector<std::string>{"table inet " + spec_.queueTable + " is gone"};
      return Err(listed.error());
    }
    return nftQueueTableProblems(listing, spec_);
  }
  for (const IptablesFamily& family : families_) {
    auto listed = list(family);
    if (!listed) return Err(listed.error());
    for (std::string& problem : iptablesQueueRuleProblems(*listed, spec_, family.family)) {
      found.push_back((family.family == IpFamily::V4 ? "iptables: " : "ip6tables: ") + std::move(problem));
    }
  }
  return found;
}

std::vector<WatchedTable> QueueRules::watched() const {
  std::vector<WatchedTable> tables;
  if (kind_ == Kind::Nft) {
    tables.push_back(WatchedTable{FirewallPart::QueueRules, kFamilyInet, spec_.queueTable, {}});
    return tables;
  }
  for (const IptablesFamily& family : families_) {
    for (const QueuePoint& point : queuePoints(spec_.layout)) {
      tables.push_back(WatchedTable{FirewallPart::QueueRules,
                                    family.family == IpFamily::V4 ? kFamilyIpv4 : kFamilyIpv6,
                                    std::string(point.table),
                                    {std::string(point.chain), std::string(point.hook)}});
    }
  }
  return tables;
}

Status<> QueueRules::remove() {
  installed_ = false;
  if (kind_ == Kind::Nft) {
    // nft delete table inet ftpalg_queue
    if (auto removed = runNftScript(nftQueueRemoveScript(spec_));
        !removed && !isNoSuchObject(removed.error())) {
      return removed;
    }
    return okStatus();
  }
  return removeIptables();
}

Status<> QueueRules::removeIptables() const {
  std::vector<std::string> errors;
  for (const IptablesFamily& family : families_) {
    auto current = list(family);
    if (!current) {
      errors.push_back(current.error());
      continue;
    }
    const std::string input = iptablesRemoveRestoreInput(*current);
    if (input.empty()) continue;
    if (auto applied = restore(family, input); !applied) {
      errors.push_back(applied.error());
      continue;
    }
    auto after = list(family);
    if (!after) {
      errors.push_back(after.error());
    } else if (!iptablesRemoveRestoreInput(*after).empty()) {
      errors.push_back(family.save + " still lists ftpalg's chains or jumps after removing them");
    }
  }
  if (!errors.empty()) return Err("removing the queue rules: " + joined(errors, "; "));
  return okStatus();
}

}  // namespace ftpalg::firewall
