// The rules of `ftpalg run` / `ftpalg rules` and the kernel ftp helper detection: pure text in,
// text out (no root needed; in tests/e2e because it links the application library).
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include "../../src/app/live_rules.hpp"
#include "../../src/app/live_runner.hpp"
#include "backend/nft_backend.hpp"

namespace ftpalg::app {
namespace {

std::string joined(const Argv& args) {
  std::string text;
  for (const auto& arg : args) text += (text.empty() ? "" : " ") + arg;
  return text;
}

TEST(QueueRules, OneQueueQueuesClientToServerInMangleForwardAndServerToClientInRawPrerouting) {
  QueueRuleSpec spec;
  spec.queueNum = 5;
  const auto commands = iptablesInstallCommands(spec, false);
  std::vector<std::string> lines;
  for (const auto& command : commands) lines.push_back(joined(command));
  const std::vector<std::string> expected{
      "-w -t mangle -N ftpalg-c2s",
      "-w -t raw -N ftpalg-s2c",
      "-w -t mangle -A ftpalg-c2s -p tcp --dport 21 -j NFQUEUE --queue-num 5 --queue-bypass",
      "-w -t raw -A ftpalg-s2c -p tcp --sport 21 -j NFQUEUE --queue-num 5 --queue-bypass",
      "-w -t mangle -I FORWARD 1 -j ftpalg-c2s",
      "-w -t raw -I PREROUTING 1 -j ftpalg-s2c",
  };
  EXPECT_EQ(lines, expected);
}

TEST(QueueRules, FailClosedOmitsQueueBypass) {
  QueueRuleSpec spec;
  spec.bypass = false;
  for (const auto& command : iptablesInstallCommands(spec, false)) {
    EXPECT_EQ(joined(command).find("--queue-bypass"), std::string::npos);
  }
}

TEST(QueueRules, BalancedQueuesSplitByTheServersAddressInBothDirections) {
  QueueRuleSpec spec;
  spec.queueNum = 2;
  spec.queueCount = 2;
  std::string all;
  for (const auto& command : iptablesInstallCommands(spec, false)) all += joined(command) + "\n";
  EXPECT_NE(all.find("--dport 21 -m u32 --u32 16&0xFF=0:127 -j NFQUEUE --queue-num 2"), std::string::npos) << all;
  EXPECT_NE(all.find("--sport 21 -m u32 --u32 12&0xFF=0:127 -j NFQUEUE --queue-num 2"), std::string::npos) << all;
  EXPECT_NE(all.find("--dport 21 -m u32 --u32 16&0xFF=128:255 -j NFQUEUE --queue-num 3"), std::string::npos) << all;
  std::string v6;
  for (const auto& command : iptablesInstallCommands(spec, true)) v6 += joined(command) + "\n";
  EXPECT_NE(v6.find("36&0xFF=0:127"), std::string::npos) << v6;
  EXPECT_NE(v6.find("20&0xFF=128:255"), std::string::npos) << v6;
}

TEST(QueueRules, EveryControlPortGetsBothQueuePoints) {
  QueueRuleSpec spec;
  spec.controlPorts = {21, 2121};
  std::string all;
  for (const auto& command : iptablesInstallCommands(spec, false)) all += joined(command) + "\n";
  EXPECT_NE(all.find("--dport 2121"), std::string::npos);
  EXPECT_NE(all.find("--sport 2121"), std::string::npos);
}

TEST(QueueRules, RemovalUnhooksThenFlushesThenDeletesOwnChainsOnly) {
  std::vector<std::string> lines;
  for (const auto& command : iptablesRemoveCommands()) lines.push_back(joined(command));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "-w -t mangle -D FORWARD -j ftpalg-c2s");
  EXPECT_EQ(lines[5], "-w -t raw -X ftpalg-s2c");
}

TEST(QueueRules, NftQueueTableUsesTheSameHookPoints) {
  backend::NftQueueRules rules;
  rules.controlPorts = {21, 990};
  rules.queueNum = 1;
  const std::string script = backend::nftQueueTableScript(rules);
  EXPECT_NE(script.find("type filter hook forward priority mangle"), std::string::npos) << script;
  EXPECT_NE(script.find("type filter hook prerouting priority raw"), std::string::npos) << script;
  EXPECT_NE(script.find("tcp dport { 21, 990 } queue flags bypass num 1"), std::string::npos) << script;
}

TEST(HelperDetection, FindsAnNftFtpHelperAssignedToPort21) {
  const std::string ruleset = R"(table inet filter {
	ct helper ftp-standard {
		type "ftp" protocol tcp
		l3proto inet
	}

	chain prerouting {
		type filter hook prerouting priority filter; policy accept;
		tcp dport 21 ct helper set "ftp-standard"
	}
}
)";
  const auto found = helperAssignmentsFromNft(ruleset);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].ports, std::vector<std::uint16_t>{21});
  EXPECT_EQ(conflictingHelpers(found, {21}).size(), 1u);
  EXPECT_TRUE(conflictingHelpers(found, {2121}).empty());
}

TEST(HelperDetection, PortSetsAndMissingPortClauses) {
  const std::string ruleset = R"(table ip t {
	ct helper h {
		type "ftp" protocol tcp
		l3proto ip
	}
	chain c {
		tcp dport { 2100-2102, 990 } ct helper set "h"
		ct helper set "h"
	}
}
)";
  const auto found = helperAssignmentsFromNft(ruleset);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].ports, (std::vector<std::uint16_t>{2100, 2101, 2102, 990}));
  EXPECT_TRUE(found[1].ports.empty());  // applies to every port
  EXPECT_EQ(conflictingHelpers(found, {21}).size(), 1u);
}

TEST(HelperDetection, IgnoresOtherHelperTypes) {
  const std::string ruleset = R"(table inet f {
	ct helper sip-5060 {
		type "sip" protocol udp
		l3proto inet
	}
	chain c {
		udp dport 5060 ct helper set "sip-5060"
	}
}
)";
  EXPECT_TRUE(helperAssignmentsFromNft(ruleset).empty());
}

TEST(HelperDetection, FindsIptablesCtHelperFtp) {
  const std::string dump =
      "*raw\n:PREROUTING ACCEPT [0:0]\n"
      "-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp\n"
      "-A PREROUTING -p tcp -m multiport --dports 2121,3000:3001 -j CT --helper ftp\n"
      "-A PREROUTING -p udp -m udp --dport 69 -j CT --helper tftp\nCOMMIT\n";
  const auto found = helperAssignmentsFromIptablesSave(dump, "iptables-save");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].ports, std::vector<std::uint16_t>{21});
  EXPECT_EQ(found[1].ports, (std::vector<std::uint16_t>{2121, 3000, 3001}));
  EXPECT_EQ(conflictingHelpers(found, {3001}).size(), 1u);
}

TEST(RulesCommand, PrintsTheAcceptRuleAndTheQueueRules) {
  // As root, `rules` probes the kernel for the nft queue expression with a temporary table:
  // keep that probe inside a private network namespace.
  if (::geteuid() == 0) {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
  }
  AppConfig config;
  config.command = Command::Rules;
  config.rules.firewall = FirewallKind::Iptables;
  std::ostringstream out;
  EXPECT_EQ(printRules(config, out), 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("iptables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT"), std::string::npos) << text;
  EXPECT_NE(text.find("iptables -t mangle -A ftpalg-c2s -p tcp --dport 21 -j NFQUEUE --queue-num 0 --queue-bypass"),
            std::string::npos) << text;
  EXPECT_NE(text.find("table inet ftpalg {"), std::string::npos) << text;

  config.rules.firewall = FirewallKind::Nft;
  std::ostringstream nft;
  EXPECT_EQ(printRules(config, nft), 0);
  EXPECT_NE(nft.str().find("ct mark and 0x00010000 == 0x00010000 accept"), std::string::npos) << nft.str();
}

}  // namespace
}  // namespace ftpalg::app
