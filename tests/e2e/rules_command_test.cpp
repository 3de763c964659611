// `ftpalg rules` as the application runs it: it only prints, also as root (no probe table: the
// nf_tables generation does not move). The test moves into a private network namespace first.
// The text itself is unit-tested (tests/unit/firewall_rules_report_test.cpp).
#include "../../src/app/rules_command.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include "../../src/firewall/ruleset_monitor.hpp"
#include "no_skip_under_root.hpp"

namespace ftpalg::app {
namespace {

TEST(RulesCommand, PrintsTheAcceptRuleAndTheQueueRules) {
  if (::geteuid() == 0) {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
  }
  AppConfig config;
  config.command = Command::Rules;
  config.rules.firewall = FirewallKind::Iptables;
  std::ostringstream out;
  const auto before = firewall::RulesetMonitor::currentGeneration();
  EXPECT_EQ(printRules(config, out), ExitCode::Success);
  if (::geteuid() == 0) {
    // Nothing was committed to nf_tables: no probe table was created and deleted.
    ASSERT_TRUE(before) << before.error();
    const auto after = firewall::RulesetMonitor::currentGeneration();
    ASSERT_TRUE(after) << after.error();
    EXPECT_EQ(after.value(), before.value());
  }
  const std::string text = out.str();
  EXPECT_NE(text.find("iptables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT"), std::string::npos)
      << text;
  EXPECT_NE(
      text.find("iptables -t mangle -A ftpalg-c2s -p tcp --dport 21 -j NFQUEUE --queue-num 0 --queue-bypass"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("table inet ftpalg {"), std::string::npos) << text;

  config.rules.firewall = FirewallKind::Nft;
  std::ostringstream nft;
  EXPECT_EQ(printRules(config, nft), ExitCode::Success);
  EXPECT_NE(nft.str().find("ct mark and 0x00010000 == 0x00010000 accept"), std::string::npos) << nft.str();
}

TEST(RulesCommand, QueueRuleSpecTakesPortsQueuesAndFailMode) {
  AppConfig config;
  config.controlPorts = {21, 2121};
  config.run.queueNum = 4;
  config.run.queueCount = 0;  // "no balancing" still means one queue
  config.run.failOpen = false;
  const firewall::QueueRuleSpec spec = queueRuleSpec(config);
  EXPECT_EQ(spec.controlPorts, (std::vector<std::uint16_t>{21, 2121}));
  EXPECT_EQ(spec.queueNum, 4);
  EXPECT_EQ(spec.queueCount, 1);
  EXPECT_FALSE(spec.bypass);
}

}  // namespace
}  // namespace ftpalg::app
