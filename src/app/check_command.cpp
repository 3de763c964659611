// `ftpalg check`: see check_command.hpp. The order of the lines: privileges, kernel features,
// sysctls, ftpalg's own tables and queue rules, then the admin's ruleset (kernel ftp helper,
// forward chain, mark bits).
#include "check_command.hpp"

#include <sys/utsname.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "firewall/kernel_helper.hpp"
#include "firewall/nft_script.hpp"
#include "firewall/pinhole_table.hpp"
#include "firewall/preflight.hpp"
#include "firewall/queue_rule_installer.hpp"
#include "firewall/run_command.hpp"
#include "io/conntrack_netlink.hpp"
#include "live_system.hpp"
#include "rules_command.hpp"
#include "wiring.hpp"

namespace ftpalg::app {

namespace {

using firewall::CheckLine;
using Level = CheckLine::Level;

CheckLine line(Level level, std::string name, std::string detail, std::string fix = {}) {
  return CheckLine{level, std::move(name), std::move(detail), std::move(fix)};
}

bool fileContains(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  for (std::string text; std::getline(in, text);) {
    if (text.find(needle) != std::string::npos) return true;
  }
  return false;
}

// Where the running kernel's modules are listed.
std::string modulesDir() {
  utsname uts{};
  ::uname(&uts);
  return std::string("/lib/modules/") + uts.release;
}

// A kernel feature that is present when `present` says so (loaded or built in); else whether
// `module` can be loaded (listed in the running kernel's modules.dep: the kernel loads it when
// run first uses it); else a failure with the fix.
CheckLine kernelFeature(const std::string& name, const std::string& module, const std::string& what,
                        const std::string& config, bool present, const std::string& evidence) {
  if (present) return line(Level::Ok, name, what + " (" + module + "): " + evidence);
  const std::string dir = modulesDir();
  if (fileContains(dir + "/modules.dep", "/" + module + ".ko")) {
    return line(Level::Ok, name, what + " (" + module + ") is a module, loaded on first use");
  }
  return line(Level::Fail, name,
              what + " (" + module + ") is neither in the kernel nor in " + dir + "/modules.dep",
              "modprobe " + module + ", or a kernel with " + config);
}

// nfnetlink_queue registers /proc/net/netfilter/nfnetlink_queue in every network namespace once
// it is in the kernel (loaded or built in).
CheckLine queueFeature() {
  std::error_code error;
  const bool present = std::filesystem::exists("/proc/net/netfilter/nfnetlink_queue", error);
  return kernelFeature("kernel nfnetlink_queue", "nfnetlink_queue", "NFQUEUE, how run receives packets",
                       "CONFIG_NETFILTER_NETLINK_QUEUE", present,
                       "/proc/net/netfilter/nfnetlink_queue exists");
}

// ctnetlink: a GET of a conntrack entry that does not exist (TEST-NET addresses, port 0) is
// answered ENOENT by ctnetlink and EOPNOTSUPP without it; a read, nothing changes.
CheckLine ctnetlinkFeature() {
  const std::string name = "kernel ctnetlink";
  const std::string what = "conntrack over netlink, how run learns NAT and installs expectations";
  auto netlink = io::ConntrackNetlink::open();
  if (!netlink) return line(Level::Fail, name, netlink.error(), "modprobe nf_conntrack_netlink");
  io::ConntrackTuple probe;
  probe.src = *Endpoint::parse("192.0.2.1:0");
  probe.dst = *Endpoint::parse("192.0.2.2:0");
  auto got = netlink.value()->get(probe, io::ConntrackDir::Original);
  if (got) return line(Level::Ok, name, what + " (nf_conntrack_netlink): answers a conntrack GET");
  return kernelFeature(name, "nf_conntrack_netlink",
                       what + " (a conntrack GET failed: " + got.error().message + ")",
                       "CONFIG_NF_CT_NETLINK", false, "");
}

// A sysctl's value, or nullopt when it does not exist.
std::optional<std::string> sysctl(const std::string& name) {
  std::string path = "/proc/sys/" + name;
  for (char& c : path) {
    if (c == '.') c = '/';
  }
  std::ifstream in(path);
  std::string value;
  if (!std::getline(in, value)) return std::nullopt;
  return value;
}

firewall::DataPath dataPath(const AppConfig& config, SequenceOwner owner) {
  switch (livePinholeBackend(config, owner)) {
    case PinholeBackendKind::Nft: return firewall::DataPath::NftPinholes;
    case PinholeBackendKind::Conntrack: return firewall::DataPath::Expectations;
    case PinholeBackendKind::Auto:
    case PinholeBackendKind::None: break;
  }
  return firewall::DataPath::None;
}

class Checks {
 public:
  explicit Checks(std::ostream& out) : out_(out) {}
  void add(const CheckLine& checked) {
    out_ << firewall::formatCheckLine(checked) << '\n';
    if (checked.level == Level::Fail) ++failures_;
    if (checked.level == Level::Warn) ++warnings_;
  }
  int failures() const { return failures_; }
  int warnings() const { return warnings_; }

 private:
  std::ostream& out_;
  int failures_ = 0, warnings_ = 0;
};

}  // namespace

ExitCode runCheck(const AppConfig& config, std::ostream& out) {
  const RunConfig& run = config.run;
  Checks checks(out);
  if (!hasNetAdminCapability()) {
    checks.add(line(Level::Fail, "privileges",
                    "no CAP_NET_ADMIN: the firewall and conntrack cannot be read (run needs it too)",
                    "run ftpalg check as root"));
    out << "check: 1 failure; the other checks need CAP_NET_ADMIN\n";
    return ExitCode::Failed;
  }
  checks.add(line(Level::Ok, "privileges", "CAP_NET_ADMIN"));
  if (run.user) {
    // The same checks run makes before it installs anything (its exit status 2).
    auto account = lookUpAccount(*run.user);
    if (!account) {
      checks.add(line(Level::Fail, "user", account.error(), "create the account, or change --user"));
    } else if (auto reopenable = checkAccountCanReopenLog(account.value(), config.logPath); !reopenable) {
      checks.add(line(Level::Fail, "user", reopenable.error(),
                      "give the account write access to the log's directory"));
    } else {
      checks.add(line(Level::Ok, "user", "run drops to account " + *run.user + " after set-up"));
    }
  }

  // Kernel features.
  checks.add(queueFeature());
  checks.add(ctnetlinkFeature());
  auto kernelRuleset = firewall::readKernelRuleset();
  if (kernelRuleset) {
    checks.add(line(Level::Ok, "kernel nf_tables",
                    "the ruleset is readable (" + std::to_string(kernelRuleset->ruleset.tables.size()) +
                        " tables, " + std::to_string(kernelRuleset->ruleset.rules.size()) + " rules)"));
  } else {
    checks.add(line(Level::Fail, "kernel nf_tables", "nft list ruleset failed: " + kernelRuleset.error(),
                    "modprobe nf_tables, or a kernel with CONFIG_NF_TABLES"));
  }

  // The sequence owner: --seq-owner kernel needs the anchor's helper (probed in nft's check mode).
  SequenceOwner owner = run.seqOwner;
  if (owner == SequenceOwner::Kernel) {
    if (auto probed = firewall::probeAnchorHelper(); probed) {
      checks.add(line(
          Level::Ok, "kernel helper anchor",
          "the kernel accepts the ct helper object of type \"sane\" the anchor uses (--seq-owner kernel)"));
    } else if (run.pinholeBackend == PinholeBackendKind::Conntrack) {
      checks.add(line(Level::Fail, "kernel helper anchor",
                      probed.error() + "; --pinhole-backend conntrack needs it",
                      "modprobe nf_conntrack_sane, or --seq-owner engine --pinhole-backend nft"));
    } else {
      checks.add(line(Level::Warn, "kernel helper anchor",
                      probed.error() + "; run falls back to --seq-owner engine",
                      "modprobe nf_conntrack_sane, or set --seq-owner engine"));
      owner = SequenceOwner::Engine;
    }
  } else {
    checks.add(line(Level::Skip, "kernel helper anchor", "not used (--seq-owner engine)"));
  }

  // Sysctls.
  const auto forward4 = sysctl("net.ipv4.ip_forward");
  if (forward4 == std::optional<std::string>("1")) {
    checks.add(line(Level::Ok, "ip-forwarding ipv4", "net.ipv4.ip_forward = 1"));
  } else {
    checks.add(line(Level::Fail, "ip-forwarding ipv4",
                    "net.ipv4.ip_forward = " + forward4.value_or("(missing)") + ": this host routes no IPv4",
                    "sysctl -w net.ipv4.ip_forward=1, and net.ipv4.ip_forward = 1 in /etc/sysctl.d/"));
  }
  const auto forward6 = sysctl("net.ipv6.conf.all.forwarding");
  if (forward6 == std::optional<std::string>("1")) {
    checks.add(line(Level::Ok, "ip-forwarding ipv6", "net.ipv6.conf.all.forwarding = 1"));
  } else {
    checks.add(line(Level::Warn, "ip-forwarding ipv6",
                    "net.ipv6.conf.all.forwarding = " + forward6.value_or("(missing)") +
                        ": this host routes no IPv6 (IPv4 FTP is unaffected)",
                    "sysctl -w net.ipv6.conf.all.forwarding=1 if IPv6 FTP should pass"));
  }
  const auto liberal = sysctl("net.netfilter.nf_conntrack_tcp_be_liberal");
  if (!liberal) {
    checks.add(line(Level::Fail, "conntrack tcp_be_liberal",
                    "net.netfilter.nf_conntrack_tcp_be_liberal is missing: conntrack is not loaded",
                    "modprobe nf_conntrack"));
  } else {
    checks.add(line(Level::Ok, "conntrack tcp_be_liberal",
                    "nf_conntrack_tcp_be_liberal = " + *liberal +
                        (owner == SequenceOwner::Engine
                             ? " (the engine keeps conntrack's window in step either way)"
                             : " (conntrack adjusts a rewritten connection's sequence numbers itself)")));
  }

  // ftpalg's own nft table and queue rules.
  if (const auto tableSpec = liveTableSpec(config, owner)) {
    auto free = firewall::checkPinholeTableFree(*tableSpec);
    if (!free) {
      checks.add(line(Level::Fail, "nft table", free.error(), "choose another name with --nft-table"));
    } else if (*free) {
      checks.add(line(Level::Ok, "nft table",
                      "table inet " + tableSpec->table + " was left by ftpalg pid " + std::to_string(**free) +
                          " (gone): run replaces it"));
    } else {
      checks.add(line(Level::Ok, "nft table", "table inet " + tableSpec->table + " is free for run"));
    }
  } else {
    checks.add(line(Level::Skip, "nft table", "run creates no nft table with these options"));
  }
  if (run.installQueueRules) {
    auto planned = firewall::QueueRules::plan(queueRuleSpec(config, owner));
    if (planned) {
      std::string warnings;
      for (const auto& warning : planned->warnings()) warnings += "; " + warning;
      checks.add(line(warnings.empty() ? Level::Ok : Level::Warn, "queue rules",
                      "run installs them as " + planned->description() + warnings));
    } else {
      checks.add(
          line(Level::Fail, "queue rules", planned.error(),
               "install iptables (with iptables-save/-restore) or use a kernel with CONFIG_NFT_QUEUE"));
    }
  } else {
    checks.add(line(Level::Skip, "queue rules", "--no-queue-rules: the admin installs them (ftpalg rules)"));
  }

  // The admin's ruleset.
  auto conflicts = firewall::kernelHelperConflicts(config.controlPorts);
  if (conflicts) {
    checks.add(firewall::kernelHelperCheck(*conflicts, config.controlPorts));
  } else {
    checks.add(line(Level::Fail, "kernel-ftp-helper", conflicts.error(), "see kernel nf_tables above"));
  }
  firewall::RulesetCheckSpec spec;
  spec.dataPath = dataPath(config, owner);
  spec.pinholeMark = run.pinholeMark;
  spec.controlMark = run.controlMark;
  spec.verifiedMark = run.verifiedMark;
  spec.conntrackOwned = owner == SequenceOwner::Kernel;
  spec.dataPortFloor = config.engine.policy.dataPortFloor;
  spec.ownTables = {run.nftTable, run.nftQueueTable};
  if (kernelRuleset) {
    for (const auto family : {firewall::PacketFamily::V4, firewall::PacketFamily::V6}) {
      checks.add(firewall::forwardAdmissionCheck(kernelRuleset->ruleset, kernelRuleset->texts, spec, family));
    }
    const std::uint32_t bits = firewall::markBitsInUse(spec);
    auto uses =
        firewall::markUsersFromNft(kernelRuleset->ruleset, kernelRuleset->texts, bits, spec.ownTables);
    for (const char* tool : {"iptables-save", "ip6tables-save"}) {
      if (const auto program = firewall::findProgram(tool)) {
        const auto dump = firewall::runCommand(*program, {});
        if (dump.exitStatus == 0) {
          for (auto& use : firewall::markUsersFromIptablesSave(dump.output, tool, bits))
            uses.push_back(std::move(use));
        }
      }
    }
    checks.add(firewall::markUsersCheck(
        uses, bits, spec.dataPath == firewall::DataPath::NftPinholes ? spec.pinholeMark : 0));
  }

  out << "check: " << checks.failures() << " failure(s), " << checks.warnings() << " warning(s)\n";
  return checks.failures() == 0 ? ExitCode::Success : ExitCode::Failed;
}

}  // namespace ftpalg::app
