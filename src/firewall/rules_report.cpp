// `ftpalg rules` text: see rules_report.hpp.
#include "rules_report.hpp"

#include <sstream>

namespace ftpalg::firewall {

std::string rulesReport(const QueueRuleSpec& queue, FirewallSyntax syntax,
                        std::optional<bool> kernelHasNftQueue, const NftTableSpec& table) {
  const bool nft = syntax == FirewallSyntax::Nft;
  std::ostringstream out;
  out << "# 1. Add to your own firewall: accept the data connections ftpalg admits (its pinholes\n"
         "#    set this conntrack mark on their first packet). Put it before your final drop.\n";
  if (nft) {
    out << "#    nftables, in your forward chain (type filter hook forward):\n"
        << nftAcceptRule(table.mark) << "\n";
  } else {
    out << iptablesAcceptRule("iptables", table.mark) << "\n"
        << iptablesAcceptRule("ip6tables", table.mark) << "\n";
  }
  out << "#    Also keep (usual on a stateful firewall): accept established,related; accept new\n"
         "#    connections to the FTP control port(s) you serve.\n\n";

  out << "# 2. Queue rules `ftpalg run` installs at start and removes at exit (review only;\n"
         "#    with --no-queue-rules you install them yourself).\n";
  const bool showNft = nft && kernelHasNftQueue.value_or(true);
  const bool showIptables = !nft || !kernelHasNftQueue.value_or(false);
  if (showNft) {
    out << (kernelHasNftQueue ? "#    This kernel has the nft queue expression: run uses this table.\n"
                              : "#    Where the kernel has the nft queue expression (CONFIG_NFT_QUEUE):\n")
        << nftQueueTableScript(queue);
  }
  if (showIptables) {
    if (showNft) {
      out << "#    Otherwise (no nft queue expression):\n";
    } else if (kernelHasNftQueue && !*kernelHasNftQueue) {
      out << "#    This kernel has no nft queue expression: run uses iptables NFQUEUE.\n";
    }
    for (const IpFamily family : {IpFamily::V4, IpFamily::V6}) {
      for (const Argv& args : iptablesInstallCommands(queue, family)) {
        out << (family == IpFamily::V6 ? "ip6tables" : "iptables");
        // Shell quoting for the one argument with a shell metacharacter (the u32 test).
        for (const auto& arg : args)
          out << ' ' << (arg.find('&') != std::string::npos ? "'" + arg + "'" : arg);
        out << '\n';
      }
    }
  }
  out << "\n# 3. The pinhole table `ftpalg run` creates (and deletes at exit):\n"
      << nftTableScript(table, "PID");
  return out.str();
}

}  // namespace ftpalg::firewall
