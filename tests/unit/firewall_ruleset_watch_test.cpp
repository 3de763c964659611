// Which nf_tables deletions concern ftpalg (src/firewall/ruleset_watch.hpp), and --dry-run's copy
// rules (src/firewall/copy_rules.hpp).
#include <gtest/gtest.h>

#include "firewall/copy_rules.hpp"
#include "firewall/ruleset_watch.hpp"

namespace ftpalg::firewall {
namespace {

using Object = RulesetChange::Object;

RulesetChange deleted(Object object, std::uint8_t family, std::string table, std::string chain = {}) {
  return RulesetChange{object, true, family, std::move(table), std::move(chain)};
}

// ftpalg's own table, and iptables-nft's mangle table with the engine-owned c2s chain.
std::vector<WatchedTable> watched() {
  return {WatchedTable{FirewallPart::OwnTable, kFamilyInet, "ftpalg", {}},
          WatchedTable{FirewallPart::QueueRules, kFamilyIpv4, "mangle", {"ftpalg-c2s", "FORWARD"}}};
}

TEST(RulesetWatch, AnyDeletionInsideAnOwnTableConcernsIt) {
  for (const Object object :
       {Object::Table, Object::Chain, Object::Rule, Object::Set, Object::StatefulObject}) {
    const auto hit = concernedPart(deleted(object, kFamilyInet, "ftpalg", "pre_dnat"), watched());
    ASSERT_TRUE(hit) << static_cast<int>(object);
    EXPECT_EQ(hit->part, FirewallPart::OwnTable);
    EXPECT_EQ(hit->table, "nft table inet ftpalg");
    EXPECT_EQ(hit->wholeTable, object == Object::Table);
  }
}

TEST(RulesetWatch, ElementChangesNeverConcernIt) {
  // ftpalg's own pinholes are element adds and deletes.
  EXPECT_FALSE(concernedPart(deleted(Object::Element, kFamilyInet, "ftpalg"), watched()));
}

TEST(RulesetWatch, AdditionsNeverConcernIt) {
  RulesetChange added = deleted(Object::Table, kFamilyInet, "ftpalg");
  added.deleted = false;
  EXPECT_FALSE(concernedPart(added, watched()));
}

TEST(RulesetWatch, InASharedTableOnlyItsChainsAndTheJumpChainsConcernIt) {
  const auto own = concernedPart(deleted(Object::Rule, kFamilyIpv4, "mangle", "ftpalg-c2s"), watched());
  ASSERT_TRUE(own);
  EXPECT_EQ(own->part, FirewallPart::QueueRules);
  EXPECT_EQ(own->what, "nft table ip mangle: a rule of chain ftpalg-c2s");
  EXPECT_TRUE(concernedPart(deleted(Object::Rule, kFamilyIpv4, "mangle", "FORWARD"), watched()));
  EXPECT_TRUE(concernedPart(deleted(Object::Chain, kFamilyIpv4, "mangle", "ftpalg-c2s"), watched()));
  EXPECT_TRUE(concernedPart(deleted(Object::Table, kFamilyIpv4, "mangle"), watched()));
  // The admin's own chains and sets in the same table, and other families' tables, do not.
  EXPECT_FALSE(concernedPart(deleted(Object::Rule, kFamilyIpv4, "mangle", "PREROUTING"), watched()));
  EXPECT_FALSE(concernedPart(deleted(Object::Set, kFamilyIpv4, "mangle"), watched()));
  EXPECT_FALSE(concernedPart(deleted(Object::Rule, kFamilyIpv6, "mangle", "FORWARD"), watched()));
  EXPECT_FALSE(concernedPart(deleted(Object::Table, kFamilyInet, "filter"), watched()));
}

TEST(RulesetWatch, DescriptionLeavesOutThePartsOfADeletedTableAndCounts) {
  const std::vector<WatchHit> hits = {
      *concernedPart(deleted(Object::Rule, kFamilyInet, "ftpalg", "pre_dnat"), watched()),
      *concernedPart(deleted(Object::Table, kFamilyInet, "ftpalg"), watched()),
      *concernedPart(deleted(Object::Rule, kFamilyIpv4, "mangle", "FORWARD"), watched()),
      *concernedPart(deleted(Object::Rule, kFamilyIpv4, "mangle", "FORWARD"), watched())};
  EXPECT_EQ(describeHits(hits), "nft table inet ftpalg, nft table ip mangle: a rule of chain FORWARD");
  EXPECT_EQ(describeHits(hits, 1), "nft table inet ftpalg and 1 more");
}

TEST(CopyRules, LogEachDirectionWhereLiveModeQueuesIt) {
  CopyRuleSpec spec;
  spec.controlPorts = {21, 2121};
  spec.group = 7;
  EXPECT_EQ(nftCopyTableScript(spec, "42"),
            "table inet ftpalg_dryrun {\n"
            "  comment \"ftpalg pid=42\"\n"
            "  chain c2s {\n"
            "    type filter hook forward priority mangle; policy accept;\n"
            "    tcp dport { 21, 2121 } log group 7\n"
            "  }\n"
            "  chain s2c {\n"
            "    type filter hook prerouting priority raw; policy accept;\n"
            "    tcp sport { 21, 2121 } log group 7\n"
            "  }\n"
            "}\n");
}

}  // namespace
}  // namespace ftpalg::firewall
