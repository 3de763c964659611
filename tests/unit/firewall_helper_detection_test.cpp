// Detection of the kernel's ftp helper from `nft -j list ruleset` JSON and `iptables-save -t raw`
// text (src/firewall/helper_detection.hpp). The rulesets are written as nft and iptables-save
// print them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "firewall/helper_detection.hpp"

namespace ftpalg::firewall {
namespace {

// `nft -j list ruleset` output of nft 1.0.6 (Debian 12), one object per line as nft prints them,
// for the ruleset:
//   table inet filter {
//     ct helper ftp-std { type "ftp" protocol tcp; l3proto inet; }
//     ct helper sip-5060 { type "sip" protocol udp; l3proto inet; }
//     set ftpports { type inet_service; elements = { 21, 2121 } }
//     chain pre { type filter hook prerouting priority filter; policy accept;
//       ct helper set tcp dport map { 21 : "ftp-std" }          # handle 7
//       tcp dport 990 ct helper set "ftp-std"                    # handle 8
//       tcp dport @ftpports ct helper set "ftp-std"              # handle 9
//       tcp dport 2100-2102 ct helper set "ftp-std"              # handle 10
//       udp dport 5060 ct helper set "sip-5060"                  # handle 11
//       ct helper set "ftp-std"                                  # handle 12
//     }
//   }
std::string rulesetJson(const std::vector<std::string>& objects) {
  std::string text = R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}})";
  for (const std::string& object : objects) text += ", " + object;
  return text + "]}";
}

const std::string kTable = R"({"table": {"family": "inet", "name": "filter", "handle": 1}})";
const std::string kFtpHelper =
    R"({"ct helper": {"family": "inet", "name": "ftp-std", "table": "filter", "handle": 4, "type": "ftp", "protocol": "tcp", "l3proto": "inet"}})";
const std::string kSipHelper =
    R"({"ct helper": {"family": "inet", "name": "sip-5060", "table": "filter", "handle": 6, "type": "sip", "protocol": "udp", "l3proto": "inet"}})";
const std::string kPortSet =
    R"({"set": {"family": "inet", "name": "ftpports", "table": "filter", "type": "inet_service", "handle": 5, "elem": [21, 2121]}})";
const std::string kPreChain =
    R"({"chain": {"family": "inet", "table": "filter", "name": "pre", "handle": 1, "type": "filter", "hook": "prerouting", "prio": 0, "policy": "accept"}})";
const std::string kMapRule =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 7, "expr": [{"ct helper": {"map": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": {"set": [[21, "ftp-std"]]}}}}]}})";
const std::string kPortRule =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 990}}, {"ct helper": "ftp-std"}]}})";
const std::string kNamedSetRule =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@ftpports"}}, {"ct helper": "ftp-std"}]}})";
const std::string kRangeRule =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 10, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [2100, 2102]}}}, {"ct helper": "ftp-std"}]}})";
const std::string kSipRule =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 11, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5060}}, {"ct helper": "sip-5060"}]}})";
const std::string kEveryPortRule =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 12, "expr": [{"ct helper": "ftp-std"}]}})";

NftRuleset read(const std::vector<std::string>& objects) {
  auto result = readRulesetJson(rulesetJson(objects));
  EXPECT_TRUE(result.ruleset.has_value()) << result.error;
  return result.ruleset.value_or(NftRuleset{});
}

// `nft -a list ruleset` lines for the rules above, so messages quote them.
const RuleTexts kTexts = ruleTextsFromListing(
    "table inet filter { # handle 1\n"
    "\tchain pre { # handle 1\n"
    "\t\ttype filter hook prerouting priority filter; policy accept;\n"
    "\t\tct helper set tcp dport map { 21 : \"ftp-std\" } # handle 7\n"
    "\t\ttcp dport 990 ct helper set \"ftp-std\" # handle 8\n"
    "\t}\n"
    "}\n");

TEST(HelperDetection, TheMapSyntaxAssigningTheFtpHelperToPort21IsFound) {
  const auto found = helperAssignmentsFromNft(read({kTable, kFtpHelper, kPreChain, kMapRule}), kTexts);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].ports, (std::vector<PortRange>{{21, 21}}));
  EXPECT_EQ(found[0].where,
            "nft table inet filter chain pre: ct helper set tcp dport map { 21 : \"ftp-std\" }");
  EXPECT_EQ(conflictingHelpers(found, {21}).size(), 1u);
  EXPECT_TRUE(conflictingHelpers(found, {2121}).empty());
}

TEST(HelperDetection, APortAPortSetARangeAndNoPortAtAll) {
  const auto found = helperAssignmentsFromNft(
      read({kTable, kFtpHelper, kPortSet, kPreChain, kPortRule, kNamedSetRule, kRangeRule, kEveryPortRule}),
      kTexts);
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[0].ports, (std::vector<PortRange>{{990, 990}}));
  EXPECT_EQ(found[0].where, "nft table inet filter chain pre: tcp dport 990 ct helper set \"ftp-std\"");
  EXPECT_EQ(found[1].ports, (std::vector<PortRange>{{21, 21}, {2121, 2121}}));  // from the named set
  EXPECT_EQ(found[2].ports, (std::vector<PortRange>{{2100, 2102}}));
  EXPECT_TRUE(found[3].ports.empty());  // every port
  // A rule without text in `texts` is named by its handle.
  EXPECT_NE(found[3].where.find("handle 12"), std::string::npos) << found[3].where;
  EXPECT_EQ(conflictingHelpers(found, {2101}).size(), 2u);  // the range and the every-port rule
  EXPECT_EQ(conflictingHelpers(found, {2121}).size(), 2u);  // the set and the every-port rule
}

TEST(HelperDetection, OtherHelperTypesAreNotTheFtpHelper) {
  EXPECT_TRUE(helperAssignmentsFromNft(read({kTable, kSipHelper, kPreChain, kSipRule}), kTexts).empty());
}

TEST(HelperDetection, FindsIptablesCtHelperFtp) {
  const std::string dump =
      "*raw\n:PREROUTING ACCEPT [0:0]\n"
      "-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp\n"
      "-A PREROUTING -p tcp -m multiport --dports 2121,3000:3001 -j CT --helper ftp\n"
      "-A PREROUTING -p udp -m udp --dport 69 -j CT --helper tftp\nCOMMIT\n";
  const auto found = helperAssignmentsFromIptablesSave(dump, "iptables-save");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].ports, (std::vector<PortRange>{{21, 21}}));
  EXPECT_EQ(found[1].ports, (std::vector<PortRange>{{2121, 2121}, {3000, 3001}}));
  EXPECT_EQ(conflictingHelpers(found, {3001}).size(), 1u);
}

TEST(HelperDetection, TheToolNameAndTheRuleSayWhereTheAssignmentIs) {
  const auto found = helperAssignmentsFromIptablesSave(
      "*raw\n-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp\nCOMMIT\n", "ip6tables-save");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].where,
            "ip6tables-save -t raw: -A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp");
}

}  // namespace
}  // namespace ftpalg::firewall
