// The pinhole table script and the admin's accept rule (src/firewall/pinhole_rules.hpp): both
// carry the one pinhole mark, so a different mark changes every place it appears.
#include <gtest/gtest.h>

#include <string>

#include "firewall/pinhole_rules.hpp"

namespace ftpalg::firewall {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(AcceptRule, NftAndIptablesSpellingsOfTheMarkBit) {
  EXPECT_EQ(nftAcceptRule(), "ct mark and 0x00010000 == 0x00010000 accept");
  EXPECT_EQ(iptablesAcceptRule("iptables"),
            "iptables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT");
  EXPECT_EQ(iptablesAcceptRule("ip6tables"),
            "ip6tables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT");
}

TEST(AcceptRule, FollowsTheMark) {
  EXPECT_EQ(nftAcceptRule(0x80000000u), "ct mark and 0x80000000 == 0x80000000 accept");
  EXPECT_EQ(iptablesAcceptRule("iptables", 0x4), "iptables -A FORWARD -m connmark --mark 0x4/0x4 -j ACCEPT");
}

TEST(PinholeTableScript, MarksAndDnatsWithTheSameMarkTheAcceptRuleNames) {
  const std::string script = nftTableScript(NftTableSpec{}, "1234");
  EXPECT_EQ(script.rfind("table inet ftpalg {\n  comment \"ftpalg pid=1234\"\n", 0), 0u) << script;
  // Set by the two token-consuming rules, tested by the two DNAT rules.
  EXPECT_EQ(count(script, "ct mark set ct mark or 0x00010000"), 2u) << script;
  EXPECT_EQ(count(script, "ct mark and 0x00010000 == 0x00010000 meta nfproto"), 2u) << script;
  EXPECT_NE(script.find("type nat hook prerouting priority dstnat - 1; policy accept;"), std::string::npos);
  EXPECT_NE(
      script.find(
          "set armed4 { type ipv4_addr . ipv4_addr . inet_service; size 262144; flags dynamic,timeout; }"),
      std::string::npos)
      << script;
  EXPECT_NE(script.find("dnat ip6 to ip6 saddr . ip6 daddr . tcp dport map @pinholes6"), std::string::npos);

  NftTableSpec other;
  other.table = "ftpalg_test";
  other.mark = 0x00200000;
  other.armedSetSize = 16;
  const std::string changed = nftTableScript(other, "PID");
  EXPECT_EQ(changed.rfind("table inet ftpalg_test {\n  comment \"ftpalg pid=PID\"\n", 0), 0u) << changed;
  EXPECT_EQ(count(changed, "0x00010000"), 0u) << changed;
  EXPECT_EQ(count(changed, "0x00200000"), 6u) << changed;
  EXPECT_EQ(count(changed, "size 16;"), 2u) << changed;
}

TEST(PinholeTableOwner, ThePidComesFromTheComment) {
  // `nft list table inet ftpalg` output.
  EXPECT_EQ(tableOwnerPid("table inet ftpalg {\n\tcomment \"ftpalg pid=4321\"\n\tmap pinholes4 {\n"), 4321);
  EXPECT_EQ(tableOwnerPid("table inet ftpalg {\n\tmap pinholes4 {\n"), std::nullopt);
  EXPECT_EQ(tableOwnerPid("table inet ftpalg {\n\tcomment \"ftpalg pid=\"\n"), std::nullopt);
  EXPECT_EQ(tableOwnerPid("table inet ftpalg {\n\tcomment \"ftpalg pid=0\"\n"), std::nullopt);
  EXPECT_EQ(tableOwnerPid("table inet ftpalg {\n\tcomment \"my table\"\n"), std::nullopt);
}

}  // namespace
}  // namespace ftpalg::firewall
