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

namespace {

void printIptablesCommands(std::ostream& out, const QueueRuleSpec& queue) {
  for (const IpFamily family : {IpFamily::V4, IpFamily::V6}) {
    for (const Argv& args : iptablesInstallCommands(queue, family)) {
      out << (family == IpFamily::V6 ? "ip6tables" : "iptables");
      // Shell quoting for the arguments with a shell metacharacter (the u32 test, the bytecode).
      for (const auto& arg : args) {
        const bool quote = arg.find_first_of("&! ,") != std::string::npos && arg != "!";
        out << ' ' << (quote ? "'" + arg + "'" : arg);
      }
      out << '\n';
    }
  }
}

}  // namespace

std::string conntrackOwnedRulesReport(const QueueRuleSpec& queue, FirewallSyntax syntax,
                                      std::optional<bool> kernelHasSaneHelper, const NftTableSpec& table,
                                      std::uint32_t verifiedMark) {
  const bool nft = syntax == FirewallSyntax::Nft;
  std::string ports;
  for (const std::uint16_t port : queue.controlPorts)
    ports += (ports.empty() ? "" : ", ") + std::to_string(port);
  std::ostringstream out;
  out << "# Conntrack-owned mode (--seq-owner kernel, the default";
  if (kernelHasSaneHelper) {
    out << (*kernelHasSaneHelper
                ? "; this kernel has the sane helper it needs"
                : "; NOT available here: this kernel lacks the sane helper, run falls back to "
                  "the engine-owned mode below");
  } else {
    out << " where the kernel has the sane conntrack helper";
  }
  out << ").\n"
      << "# 1. Your own firewall needs NOTHING of ftpalg's: no accept rule, no mark. The usual\n"
         "#    stateful rules admit the data connections, which arrive RELATED (conntrack\n"
         "#    expectations, `conntrack -L expect`):\n";
  if (nft) {
    out << "ct state established,related accept\n"
        << "tcp dport { " << ports << " } ct state new accept\n";
  } else {
    out << "iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
        << "iptables -A FORWARD -p tcp -m multiport --dports " << ports
        << " -m conntrack --ctstate NEW -j ACCEPT\n"
        << "#    (the same with ip6tables)\n";
  }
  out << "#    ftpalg uses the ct mark bits " << nftMarkText(queue.controlMark)
      << " (every FTP control connection)\n"
      << "#    and " << nftMarkText(verifiedMark)
      << " (its FTP dialog was verified): nothing else on the router may set them\n"
         "#    (--control-mark, --verified-mark). With --pinhole-backend nft the data connections are\n"
         "#    not RELATED: add the accept rule of the engine-owned mode (its section 1).\n\n";
  out << "# 2. Queue rules `ftpalg run` installs at start and removes at exit (review only; with\n"
         "#    --no-queue-rules you install them yourself). Always iptables: only -m bpf can tell a\n"
         "#    segment with payload from a pure ACK.\n";
  printIptablesCommands(out, queue);
  out << "\n# 3. The nft table `ftpalg run` creates (and deletes at exit), with the anchor:\n"
      << nftTableScript(table, "PID");
  return out.str();
}

}  // namespace ftpalg::firewall
