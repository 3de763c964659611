// The conntrack-owned mode's firewall text (src/firewall): its queue rules (one chain in mangle
// FORWARD for both directions, anchored connections only, never INVALID, -m bpf), the replacement
// of the other layout's chains, the check of what iptables-save lists, the anchor in ftpalg's nft
// table, and its part of `ftpalg rules`. The listing below is iptables-save output as iptables
// 1.8.9 (nf_tables) printed it for these rules on the development machine (`-m tcp` added, the
// u32 test in hex, the bytecode quoted), with the bytecode of queue_bpf.hpp spliced in.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "firewall/anchor_rules.hpp"
#include "firewall/pinhole_rules.hpp"
#include "firewall/queue_bpf.hpp"
#include "firewall/queue_rules.hpp"
#include "firewall/rules_report.hpp"

namespace ftpalg::firewall {
namespace {

std::string joined(const Argv& args) {
  std::string text;
  for (const auto& arg : args) text += (text.empty() ? "" : " ") + arg;
  return text;
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

QueueRuleSpec kernelSpec() {
  QueueRuleSpec spec;
  spec.layout = QueueLayout::ConntrackOwned;
  return spec;
}

const std::string kBpf4(kQueueBpfV4);
const std::string kBpf6(kQueueBpfV6);

TEST(ConntrackOwnedQueueRules, BothDirectionsInOneMangleForwardChainForAnchoredNonInvalidPayload) {
  std::vector<std::string> lines;
  for (const auto& command : iptablesInstallCommands(kernelSpec(), IpFamily::V4))
    lines.push_back(joined(command));
  const std::vector<std::string> expected{
      "-t mangle -N ftpalg-ct",
      "-t mangle -A ftpalg-ct -p tcp --dport 21 -m conntrack ! --ctstate INVALID --ctdir ORIGINAL -m "
      "connmark "
      "--mark 0x20000/0x20000 -m bpf --bytecode " +
          kBpf4 + " -j NFQUEUE --queue-num 0 --queue-bypass",
      "-t mangle -A ftpalg-ct -p tcp --sport 21 -m conntrack ! --ctstate INVALID --ctdir REPLY -m connmark "
      "--mark 0x20000/0x20000 -m bpf --bytecode " +
          kBpf4 + " -j NFQUEUE --queue-num 0 --queue-bypass",
      "-t mangle -I FORWARD 1 -j ftpalg-ct",
  };
  EXPECT_EQ(lines, expected);
}

TEST(ConntrackOwnedQueueRules, Ipv6UsesItsOwnProgramAndBalancingSplitsByTheServer) {
  QueueRuleSpec spec = kernelSpec();
  spec.queueCount = 2;
  spec.controlMark = 0x00800000;
  std::string all;
  for (const auto& command : iptablesInstallCommands(spec, IpFamily::V6)) all += joined(command) + "\n";
  EXPECT_TRUE(has(all, "--dport 21 -m u32 --u32 36&0xFF=0:127 -m conntrack")) << all;
  EXPECT_TRUE(has(all, "--sport 21 -m u32 --u32 20&0xFF=128:255 -m conntrack")) << all;
  EXPECT_TRUE(has(all, "-m connmark --mark 0x800000/0x800000 -m bpf --bytecode " + kBpf6 + " -j")) << all;
  EXPECT_FALSE(has(all, kBpf4)) << all;
}

TEST(ConntrackOwnedQueueRules, TheServerSplitMatchesTheU32Ranges) {
  // Two queues: 0-127 and 128-255; three: 0-84, 85-169, 170-255.
  EXPECT_EQ(queueIndexOfServer(0, 2), 0u);
  EXPECT_EQ(queueIndexOfServer(127, 2), 0u);
  EXPECT_EQ(queueIndexOfServer(128, 2), 1u);
  EXPECT_EQ(queueIndexOfServer(255, 2), 1u);
  EXPECT_EQ(queueIndexOfServer(84, 3), 0u);
  EXPECT_EQ(queueIndexOfServer(85, 3), 1u);
  EXPECT_EQ(queueIndexOfServer(169, 3), 1u);
  EXPECT_EQ(queueIndexOfServer(170, 3), 2u);
  EXPECT_EQ(queueIndexOfServer(200, 1), 0u);
  QueueRuleSpec spec = kernelSpec();
  spec.queueCount = 3;
  std::string all;
  for (const auto& command : iptablesInstallCommands(spec, IpFamily::V4)) all += joined(command) + "\n";
  EXPECT_TRUE(has(all, "--u32 16&0xFF=85:169 -m conntrack ! --ctstate INVALID --ctdir ORIGINAL")) << all;
}

// An engine-owned instance's chains, as iptables-save lists them after a crash.
constexpr const char* kEngineOwnedLeftovers =
    "*mangle\n"
    ":FORWARD ACCEPT [0:0]\n"
    ":ftpalg-c2s - [0:0]\n"
    "-A FORWARD -j ftpalg-c2s\n"
    "-A ftpalg-c2s -p tcp -m tcp --dport 21 -j NFQUEUE --queue-num 0 --queue-bypass\n"
    "COMMIT\n"
    "*raw\n"
    ":PREROUTING ACCEPT [0:0]\n"
    ":ftpalg-s2c - [0:0]\n"
    "-A PREROUTING -j ftpalg-s2c\n"
    "-A ftpalg-s2c -p tcp -m tcp --sport 21 -j NFQUEUE --queue-num 0 --queue-bypass\n"
    "COMMIT\n";

TEST(ConntrackOwnedQueueRules, InstallingReplacesTheOtherLayoutsChainsInTheSameCommits) {
  QueueRuleSpec spec = kernelSpec();
  spec.bypass = false;
  const std::string input =
      iptablesInstallRestoreInput(spec, IpFamily::V4, parseIptablesSave(kEngineOwnedLeftovers));
  const std::string expected =
      "*mangle\n"
      ":ftpalg-ct - [0:0]\n"
      "-A ftpalg-ct -p tcp --dport 21 -m conntrack ! --ctstate INVALID --ctdir ORIGINAL -m connmark --mark "
      "0x20000/0x20000 -m bpf --bytecode \"" +
      kBpf4 +
      "\" -j NFQUEUE --queue-num 0\n"
      "-A ftpalg-ct -p tcp --sport 21 -m conntrack ! --ctstate INVALID --ctdir REPLY -m connmark --mark "
      "0x20000/0x20000 -m bpf --bytecode \"" +
      kBpf4 +
      "\" -j NFQUEUE --queue-num 0\n"
      "-I FORWARD 1 -j ftpalg-ct\n"
      "-D FORWARD -j ftpalg-c2s\n"
      ":ftpalg-c2s - [0:0]\n"
      "-X ftpalg-c2s\n"
      "COMMIT\n"
      "*raw\n"
      "-D PREROUTING -j ftpalg-s2c\n"
      ":ftpalg-s2c - [0:0]\n"
      "-X ftpalg-s2c\n"
      "COMMIT\n";
  EXPECT_EQ(input, expected);
  // And the other way round: an engine-owned start removes a conntrack-owned instance's chain.
  const std::string kernelLeftovers =
      "*mangle\n:FORWARD ACCEPT [0:0]\n:ftpalg-ct - [0:0]\n-A FORWARD -j ftpalg-ct\nCOMMIT\n";
  const std::string engineInput =
      iptablesInstallRestoreInput(QueueRuleSpec{}, IpFamily::V4, parseIptablesSave(kernelLeftovers));
  EXPECT_TRUE(has(engineInput,
                  "-I FORWARD 1 -j ftpalg-c2s\n-D FORWARD -j ftpalg-ct\n:ftpalg-ct - [0:0]\n"
                  "-X ftpalg-ct\nCOMMIT\n"))
      << engineInput;
}

TEST(ConntrackOwnedQueueRules, RemovingTakesEveryLayoutsChains) {
  const std::string listing =
      "*mangle\n:FORWARD ACCEPT [0:0]\n:ftpalg-c2s - [0:0]\n:ftpalg-ct - [0:0]\n"
      "-A FORWARD -j ftpalg-ct\n-A FORWARD -j ftpalg-c2s\nCOMMIT\n";
  EXPECT_EQ(iptablesRemoveRestoreInput(parseIptablesSave(listing)),
            "*mangle\n-D FORWARD -j ftpalg-c2s\n:ftpalg-c2s - [0:0]\n-X ftpalg-c2s\n"
            "-D FORWARD -j ftpalg-ct\n:ftpalg-ct - [0:0]\n-X ftpalg-ct\nCOMMIT\n");
}

std::string installedListing(const std::string& bytecode) {
  return "*mangle\n"
         ":PREROUTING ACCEPT [0:0]\n"
         ":INPUT ACCEPT [0:0]\n"
         ":FORWARD ACCEPT [0:0]\n"
         ":OUTPUT ACCEPT [0:0]\n"
         ":POSTROUTING ACCEPT [0:0]\n"
         ":ftpalg-ct - [0:0]\n"
         "-A FORWARD -j ftpalg-ct\n"
         "-A ftpalg-ct -p tcp -m tcp --dport 21 -m conntrack ! --ctstate INVALID --ctdir ORIGINAL -m "
         "connmark "
         "--mark 0x20000/0x20000 -m bpf --bytecode \"" +
         bytecode +
         "\" -j NFQUEUE --queue-num 0 --queue-bypass\n"
         "-A ftpalg-ct -p tcp -m tcp --sport 21 -m conntrack ! --ctstate INVALID --ctdir REPLY -m connmark "
         "--mark 0x20000/0x20000 -m bpf --bytecode \"" +
         bytecode +
         "\" -j NFQUEUE --queue-num 0 --queue-bypass\n"
         "COMMIT\n"
         "*raw\n"
         ":PREROUTING ACCEPT [0:0]\n"
         ":OUTPUT ACCEPT [0:0]\n"
         "COMMIT\n";
}

std::string problemsOf(const std::string& listing, const QueueRuleSpec& spec,
                       IpFamily family = IpFamily::V4) {
  std::string text;
  for (const auto& problem : iptablesQueueRuleProblems(parseIptablesSave(listing), spec, family)) {
    text += problem + "\n";
  }
  return text;
}

TEST(ConntrackOwnedQueueRulesCheck, TheListedRulesAreInPlace) {
  EXPECT_EQ(problemsOf(installedListing(kBpf4), kernelSpec()), "");
  // Not for IPv6 (another program), another mark bit, or the engine-owned layout.
  EXPECT_NE(problemsOf(installedListing(kBpf4), kernelSpec(), IpFamily::V6), "");
  QueueRuleSpec otherMark = kernelSpec();
  otherMark.controlMark = 0x00080000;
  EXPECT_NE(problemsOf(installedListing(kBpf4), otherMark), "");
  EXPECT_NE(problemsOf(installedListing(kBpf4), QueueRuleSpec{}), "");
}

TEST(ConntrackOwnedQueueRulesCheck, AMissingConditionIsAMissingAndAnUnexpectedRule) {
  std::string listing = installedListing(kBpf4);
  const std::string condition = "-m conntrack ! --ctstate INVALID --ctdir REPLY ";
  listing.replace(listing.find(condition), condition.size(), "");
  const std::string problems = problemsOf(listing, kernelSpec());
  EXPECT_TRUE(has(problems, "table mangle: missing `-A ftpalg-ct -p tcp --sport 21 -m conntrack ! --ctstate"))
      << problems;
  EXPECT_TRUE(
      has(problems, "table mangle: unexpected rule `-A ftpalg-ct -p tcp -m tcp --sport 21 -m connmark"))
      << problems;
}

TEST(ConntrackOwnedQueueRulesCheck, AStaleChainOfTheOtherLayoutIsReported) {
  std::string listing = installedListing(kBpf4);
  listing.replace(listing.find(":ftpalg-ct - [0:0]\n"), 0, ":ftpalg-c2s - [0:0]\n");
  EXPECT_EQ(problemsOf(listing, kernelSpec()),
            "table mangle still has chain ftpalg-c2s of the other queue layout\n");
}

TEST(Anchor, TheTableHoldsTheHelperObjectAndTheMarkingChain) {
  NftTableSpec spec;
  spec.pinholeMaps = false;
  spec.anchor = AnchorSpec{{21, 2121}, 0x00020000};
  EXPECT_EQ(nftTableScript(spec, "42"),
            "table inet ftpalg {\n"
            "  comment \"ftpalg pid=42\"\n"
            "  ct helper ftp-anchor { type \"sane\" protocol tcp; l3proto inet; }\n"
            "  chain anchor { type filter hook prerouting priority mangle; policy accept;\n"
            "    tcp dport { 21, 2121 } ct state new ct helper set \"ftp-anchor\" ct mark set ct mark or "
            "0x00020000\n"
            "  }\n"
            "}\n");
  // With the nft pinhole backend, the maps and their chain follow the anchor.
  spec.pinholeMaps = true;
  const std::string both = nftTableScript(spec, "42");
  EXPECT_TRUE(has(both, "ct mark set ct mark or 0x00020000\n  }\n  map pinholes4 {")) << both;
  EXPECT_TRUE(has(both, "dnat ip6 to ip6 saddr . ip6 daddr . tcp dport map @pinholes6\n  }\n}\n")) << both;
}

// The probe is sent in nft's check mode only (nft_script.hpp: validated, never committed); it
// holds the helper object alone, in a table of its own, and no chain that could touch a packet.
TEST(Anchor, TheProbeIsTheHelperObjectAloneInATemporaryTable) {
  const std::string probe = nftAnchorProbeScript();
  EXPECT_EQ(probe,
            "table inet ftpalg_probe {\n"
            "  ct helper probe { type \"sane\" protocol tcp; l3proto inet; }\n"
            "}\n");
}

TEST(ConntrackOwnedRulesReport, SaysTheFirewallNeedsNothingOfFtpalgsAndShowsRulesAndAnchor) {
  NftTableSpec table;
  table.pinholeMaps = false;
  table.anchor = AnchorSpec{{21}, 0x00020000};
  const std::string nft =
      conntrackOwnedRulesReport(kernelSpec(), FirewallSyntax::Nft, true, table, 0x00040000);
  EXPECT_TRUE(has(nft, "this kernel has the sane helper it needs")) << nft;
  EXPECT_TRUE(has(nft, "# 1. Your own firewall needs NOTHING of ftpalg's: no accept rule, no mark.")) << nft;
  EXPECT_TRUE(has(nft, "\nct state established,related accept\ntcp dport { 21 } ct state new accept\n"))
      << nft;
  EXPECT_TRUE(has(nft, "ct mark bits 0x00020000 (every FTP control connection)\n#    and 0x00040000")) << nft;
  EXPECT_TRUE(has(nft, "\niptables -t mangle -N ftpalg-ct\n")) << nft;
  EXPECT_TRUE(has(nft, "\nip6tables -t mangle -I FORWARD 1 -j ftpalg-ct\n")) << nft;
  EXPECT_TRUE(has(nft, "-m bpf --bytecode '" + kBpf6 + "' -j NFQUEUE")) << nft;
  EXPECT_TRUE(has(nft, "ct helper set \"ftp-anchor\"")) << nft;
  EXPECT_FALSE(has(nft, "accept rule of the pinhole mark")) << nft;
  EXPECT_FALSE(has(nft, "map pinholes4")) << nft;

  const std::string iptables =
      conntrackOwnedRulesReport(kernelSpec(), FirewallSyntax::Iptables, false, table, 0x00040000);
  EXPECT_TRUE(has(iptables, "NOT available here")) << iptables;
  EXPECT_TRUE(has(iptables, "\niptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"))
      << iptables;
}

}  // namespace
}  // namespace ftpalg::firewall
