// The text of `ftpalg rules` (src/firewall/rules_report.hpp): which parts it shows for each
// firewall and for what is known about the kernel.
#include <gtest/gtest.h>

#include <string>

#include "firewall/rules_report.hpp"

namespace ftpalg::firewall {
namespace {

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

TEST(RulesReport, IptablesShowsBothAcceptRulesAndTheCommandsForBothFamilies) {
  const std::string text = rulesReport(QueueRuleSpec{}, FirewallSyntax::Iptables, false);
  EXPECT_TRUE(has(text,
                  "\niptables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT\n"
                  "ip6tables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT\n"))
      << text;
  EXPECT_TRUE(has(text,
                  "#    This kernel has no nft queue expression: run uses iptables NFQUEUE.\n"
                  "iptables -t mangle -N ftpalg-c2s\n"))
      << text;
  EXPECT_TRUE(has(
      text, "\niptables -t mangle -A ftpalg-c2s -p tcp --dport 21 -j NFQUEUE --queue-num 0 --queue-bypass\n"))
      << text;
  EXPECT_TRUE(has(text, "\nip6tables -t raw -I PREROUTING 1 -j ftpalg-s2c\n")) << text;
  EXPECT_FALSE(has(text, "table inet ftpalg_queue")) << text;
  EXPECT_FALSE(has(text, "== 0x00010000 accept")) << text;  // the nft accept rule
}

TEST(RulesReport, TheU32TestIsQuotedForTheShell) {
  QueueRuleSpec spec;
  spec.queueCount = 2;
  const std::string text = rulesReport(spec, FirewallSyntax::Iptables, std::nullopt);
  EXPECT_TRUE(has(text, "-m u32 --u32 '16&0xFF=0:127' -j NFQUEUE --queue-num 0")) << text;
}

TEST(RulesReport, NftOnAKernelWithQueueShowsOnlyTheQueueTable) {
  const std::string text = rulesReport(QueueRuleSpec{}, FirewallSyntax::Nft, true);
  EXPECT_TRUE(has(text,
                  "#    nftables, in your forward chain (type filter hook forward):\n"
                  "ct mark and 0x00010000 == 0x00010000 accept\n"))
      << text;
  EXPECT_TRUE(has(text,
                  "#    This kernel has the nft queue expression: run uses this table.\n"
                  "table inet ftpalg_queue {\n"))
      << text;
  EXPECT_FALSE(has(text, "NFQUEUE")) << text;
}

TEST(RulesReport, NftOnAKernelWithoutQueueShowsTheIptablesRulesRunUses) {
  const std::string text = rulesReport(QueueRuleSpec{}, FirewallSyntax::Nft, false);
  EXPECT_FALSE(has(text, "table inet ftpalg_queue")) << text;
  EXPECT_TRUE(has(text, "run uses iptables NFQUEUE.\niptables -t mangle -N ftpalg-c2s\n")) << text;
}

TEST(RulesReport, UnprobedKernelShowsBothWithTheirConditions) {
  const std::string text = rulesReport(QueueRuleSpec{}, FirewallSyntax::Nft, std::nullopt);
  EXPECT_TRUE(has(
      text,
      "#    Where the kernel has the nft queue expression (CONFIG_NFT_QUEUE):\ntable inet ftpalg_queue {"))
      << text;
  EXPECT_TRUE(has(text, "}\n#    Otherwise (no nft queue expression):\niptables -t mangle -N ftpalg-c2s\n"))
      << text;
}

TEST(RulesReport, EndsWithThePinholeTableWithAPlaceholderPid) {
  const std::string text = rulesReport(QueueRuleSpec{}, FirewallSyntax::Nft, false);
  const auto at = text.find(
      "\n# 3. The pinhole table `ftpalg run` creates (and deletes at exit):\n"
      "table inet ftpalg {\n  comment \"ftpalg pid=PID\"\n");
  ASSERT_NE(at, std::string::npos) << text;
  const std::string end = "dnat ip6 to ip6 saddr . ip6 daddr . tcp dport map @pinholes6\n  }\n}\n";
  ASSERT_GT(text.size(), end.size());
  EXPECT_EQ(text.substr(text.size() - end.size()), end) << text;
}

}  // namespace
}  // namespace ftpalg::firewall
