// `ftpalg check`'s verdicts on the ruleset (src/firewall/preflight.hpp, forward_admission.hpp,
// mark_users.hpp, ruleset_json.hpp, json.hpp). The fixtures are `nft -j list ruleset` objects as
// nft 1.0.6 (Debian 12) prints them for the nft rules quoted above each; the expected verdicts
// follow from netfilter's semantics (a base chain's accept ends that chain only; the policy
// applies when no rule decides), not from the code.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "firewall/json.hpp"
#include "firewall/preflight.hpp"

namespace ftpalg::firewall {
namespace {

std::string rulesetJson(const std::vector<std::string>& objects) {
  std::string text = R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}})";
  for (const std::string& object : objects) text += ", " + object;
  return text + "]}";
}

NftRuleset read(const std::vector<std::string>& objects) {
  auto result = readRulesetJson(rulesetJson(objects));
  EXPECT_TRUE(result.ruleset.has_value()) << result.error;
  return result.ruleset.value_or(NftRuleset{});
}

// table inet filter {
//   chain forward {
//     type filter hook forward priority filter; policy drop;
//     ct state invalid drop                                                  # handle 11
//     ct state established,related accept                                    # handle 12
//     iifname "lan0" oifname "wan0" tcp dport 21 ct state new accept         # handle 13
//     ct mark and 0x00010000 == 0x00010000 accept                            # handle 14
//   }
// }
const std::string kTable = R"({"table": {"family": "inet", "name": "filter", "handle": 1}})";
const std::string kForwardDrop =
    R"({"chain": {"family": "inet", "table": "filter", "name": "forward", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}})";
const std::string kInvalidDrop =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 11, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}, {"drop": null}]}})";
const std::string kEstablishedAccept =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 12, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}})";
const std::string kControlAccept =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 13, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lan0"}}, {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wan0"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 21}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}}, {"accept": null}]}})";
const std::string kMarkAccept =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 14, "expr": [{"match": {"op": "==", "left": {"&": [{"ct": {"key": "mark"}}, 65536]}, "right": 65536}}, {"accept": null}]}})";
// iifname "wan0" drop   # handle 15 (something the check cannot know about the packet)
const std::string kWanDrop =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 15, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wan0"}}, {"drop": null}]}})";
// table ip legacy { chain fwd { type filter hook forward priority 10; policy drop; } }
const std::string kIpTable = R"({"table": {"family": "ip", "name": "legacy", "handle": 2}})";
const std::string kIpForwardDrop =
    R"({"chain": {"family": "ip", "table": "legacy", "name": "fwd", "handle": 1, "type": "filter", "hook": "forward", "prio": 10, "policy": "drop"}})";

const RuleTexts kTexts = ruleTextsFromListing(
    "table inet filter { # handle 1\n"
    "\tchain forward { # handle 2\n"
    "\t\ttype filter hook forward priority filter; policy drop;\n"
    "\t\tct state invalid drop # handle 11\n"
    "\t\tct state established,related accept # handle 12\n"
    "\t\tiifname \"lan0\" oifname \"wan0\" tcp dport 21 ct state new accept # handle 13\n"
    "\t\tct mark & 0x00010000 == 0x00010000 accept # handle 14\n"
    "\t\tiifname \"wan0\" drop # handle 15\n"
    "\t}\n"
    "}\n");

RulesetCheckSpec nftPinholes() {
  RulesetCheckSpec spec;
  spec.dataPath = DataPath::NftPinholes;
  spec.ownTables = {"ftpalg", "ftpalg_queue"};
  return spec;
}

RulesetCheckSpec expectations() {
  RulesetCheckSpec spec = nftPinholes();
  spec.dataPath = DataPath::Expectations;
  spec.conntrackOwned = true;
  return spec;
}

TEST(ForwardAdmission, TheLabsStrictFirewallAdmitsPinholesThroughTheMarkRule) {
  const auto ruleset =
      read({kTable, kForwardDrop, kInvalidDrop, kEstablishedAccept, kControlAccept, kMarkAccept});
  for (const auto family : {PacketFamily::V4, PacketFamily::V6}) {
    const CheckLine line = forwardAdmissionCheck(ruleset, kTexts, nftPinholes(), family);
    EXPECT_EQ(line.level, CheckLine::Level::Ok) << formatCheckLine(line);
    EXPECT_NE(line.detail.find("ct mark & 0x00010000 == 0x00010000 accept"), std::string::npos)
        << line.detail;
  }
  // An expectation's connection is RELATED: the established,related rule admits it.
  const CheckLine related = forwardAdmissionCheck(ruleset, kTexts, expectations(), PacketFamily::V4);
  EXPECT_EQ(related.level, CheckLine::Level::Ok) << formatCheckLine(related);
  EXPECT_NE(related.detail.find("ct state established,related accept"), std::string::npos) << related.detail;
}

TEST(ForwardAdmission, WithoutTheMarkRuleThePolicyDropsAndTheFixIsTheRule) {
  const auto ruleset = read({kTable, kForwardDrop, kInvalidDrop, kEstablishedAccept, kControlAccept});
  const CheckLine line = forwardAdmissionCheck(ruleset, kTexts, nftPinholes(), PacketFamily::V4);
  EXPECT_EQ(line.level, CheckLine::Level::Fail);
  EXPECT_EQ(
      formatCheckLine(line),
      "FAIL  forward-chain ipv4: a data connection through an nft pinhole (ct state new, ct mark "
      "0x00010000) is dropped by table inet filter chain forward: policy drop; fix: nft insert rule inet "
      "filter forward ct mark and 0x00010000 == 0x00010000 accept");
  // Another pinhole bit: the fix names it.
  RulesetCheckSpec other = nftPinholes();
  other.pinholeMark = 0x00800000;
  EXPECT_NE(forwardAdmissionCheck(ruleset, kTexts, other, PacketFamily::V4)
                .fix.find("ct mark and 0x00800000 == 0x00800000 accept"),
            std::string::npos);
  // ... and the existing rule for 0x00010000 does not admit pinholes that set 0x00800000.
  const auto withRule = read({kTable, kForwardDrop, kEstablishedAccept, kMarkAccept});
  EXPECT_EQ(forwardAdmissionCheck(withRule, kTexts, other, PacketFamily::V4).level, CheckLine::Level::Fail);
}

TEST(ForwardAdmission, ExpectationsNeedTheEstablishedRelatedRule) {
  const auto ruleset = read({kTable, kForwardDrop, kInvalidDrop, kControlAccept});
  const CheckLine line = forwardAdmissionCheck(ruleset, kTexts, expectations(), PacketFamily::V6);
  EXPECT_EQ(line.level, CheckLine::Level::Fail) << formatCheckLine(line);
  EXPECT_EQ(line.fix, "nft insert rule inet filter forward ct state established,related accept");
}

TEST(ForwardAdmission, AnExpectationsMarkIsItsMastersSoOtherBitsAreUnknown) {
  // The related connection inherits the control connection's mark: whether it carries 0x00010000
  // is not known, so the mark rule may or may not accept it before the policy drops it.
  const auto ruleset = read({kTable, kForwardDrop, kInvalidDrop, kControlAccept, kMarkAccept});
  EXPECT_EQ(forwardAdmissionCheck(ruleset, kTexts, expectations(), PacketFamily::V4).level,
            CheckLine::Level::Warn);
}

TEST(ForwardAdmission, ADropOnWhatCannotBeKnownIsAWarningNamingTheRule) {
  const auto ruleset = read({kTable, kForwardDrop, kWanDrop, kMarkAccept});
  const CheckLine line = forwardAdmissionCheck(ruleset, kTexts, nftPinholes(), PacketFamily::V4);
  EXPECT_EQ(line.level, CheckLine::Level::Warn) << formatCheckLine(line);
  EXPECT_NE(line.detail.find("iifname \"wan0\" drop"), std::string::npos) << line.detail;
}

TEST(ForwardAdmission, EveryBaseChainMustAccept) {
  // The inet chain accepts, then the ip chain (priority 10) drops everything: IPv4 fails, IPv6
  // (which the ip table does not see) passes.
  const auto ruleset = read({kTable, kForwardDrop, kMarkAccept, kIpTable, kIpForwardDrop});
  EXPECT_EQ(forwardAdmissionCheck(ruleset, kTexts, nftPinholes(), PacketFamily::V4).level,
            CheckLine::Level::Fail);
  EXPECT_EQ(forwardAdmissionCheck(ruleset, kTexts, nftPinholes(), PacketFamily::V6).level,
            CheckLine::Level::Ok);
  const CheckLine ipv4 = forwardAdmissionCheck(ruleset, kTexts, nftPinholes(), PacketFamily::V4);
  EXPECT_EQ(ipv4.fix, "nft insert rule ip legacy fwd ct mark and 0x00010000 == 0x00010000 accept");
}

TEST(ForwardAdmission, NoForwardChainAdmitsEverything) {
  const CheckLine line = forwardAdmissionCheck(read({kTable}), kTexts, nftPinholes(), PacketFamily::V4);
  EXPECT_EQ(line.level, CheckLine::Level::Ok);
  EXPECT_NE(line.detail.find("no filter chain at hook forward"), std::string::npos);
  RulesetCheckSpec none = nftPinholes();
  none.dataPath = DataPath::None;
  EXPECT_EQ(forwardAdmissionCheck(read({kTable}), kTexts, none, PacketFamily::V4).level,
            CheckLine::Level::Skip);
}

// table inet filter { chain mangle { type filter hook prerouting priority mangle; policy accept;
//   ct mark set 0x00000005                          # handle 15
//   ct mark set ct mark | 0x00020000                # handle 16
//   meta mark 0x00000007 ct mark set meta mark      # handle 17
// } }
const std::string kMangleChain =
    R"({"chain": {"family": "inet", "table": "filter", "name": "mangle", "handle": 3, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}})";
const std::string kMarkConstant =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "mangle", "handle": 15, "expr": [{"mangle": {"key": {"ct": {"key": "mark"}}, "value": 5}}]}})";
const std::string kMarkOr =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "mangle", "handle": 16, "expr": [{"mangle": {"key": {"ct": {"key": "mark"}}, "value": {"|": [{"ct": {"key": "mark"}}, 131072]}}}]}})";
const std::string kMarkFromMeta =
    R"({"rule": {"family": "inet", "table": "filter", "chain": "mangle", "handle": 17, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 7}}, {"mangle": {"key": {"ct": {"key": "mark"}}, "value": {"meta": {"key": "mark"}}}}]}})";
// The same `ct mark set ct mark | 0x00010000` in ftpalg's own table (its pre_dnat chain).
const std::string kOwnTable = R"({"table": {"family": "inet", "name": "ftpalg", "handle": 9}})";
const std::string kOwnChain =
    R"({"chain": {"family": "inet", "table": "ftpalg", "name": "pre_dnat", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -110, "policy": "accept"}})";
const std::string kOwnMarkOr =
    R"({"rule": {"family": "inet", "table": "ftpalg", "chain": "pre_dnat", "handle": 5, "expr": [{"mangle": {"key": {"ct": {"key": "mark"}}, "value": {"|": [{"ct": {"key": "mark"}}, 65536]}}}]}})";

TEST(MarkUsers, WritersOfFtpalgsBitsFailAndTheAcceptRuleIsNotAUser) {
  const auto ruleset = read({kTable, kForwardDrop, kMarkAccept, kMangleChain, kMarkConstant, kMarkOr,
                             kMarkFromMeta, kOwnTable, kOwnChain, kOwnMarkOr});
  // The pinhole bit alone: `ct mark set 0x5` clears it, `ct mark set meta mark` changes it; the
  // OR of 0x00020000 leaves it; the accept rule and ftpalg's own table do not count.
  const auto pinhole = markUsersFromNft(ruleset, kTexts, 0x00010000, {"ftpalg", "ftpalg_queue"});
  const CheckLine line = markUsersCheck(pinhole, 0x00010000, 0x00010000);
  EXPECT_EQ(line.level, CheckLine::Level::Fail) << formatCheckLine(line);
  EXPECT_NE(line.detail.find("clears 0x00010000: nft table inet filter chain mangle"), std::string::npos)
      << line.detail;
  EXPECT_NE(line.detail.find("changes 0x00010000"), std::string::npos) << line.detail;
  EXPECT_EQ(line.detail.find("pre_dnat"), std::string::npos) << line.detail;
  EXPECT_EQ(line.detail.find("handle 16"), std::string::npos) << line.detail;

  // The control bit: the OR sets it (it would anchor connections as if ftpalg had).
  const auto control = markUsersFromNft(read({kTable, kMangleChain, kMarkOr}), kTexts, 0x00020000, {});
  ASSERT_EQ(control.size(), 1u);
  EXPECT_EQ(control[0].kind, MarkUse::Kind::Sets);

  // Only the accept rule: nothing to report.
  const auto clean = markUsersFromNft(read({kTable, kForwardDrop, kMarkAccept}), kTexts, 0x00010000, {});
  EXPECT_EQ(markUsersCheck(clean, 0x00010000, 0x00010000).level, CheckLine::Level::Ok);
  // In the conntrack-owned mode with expectations no accept rule is asked for: one that tests
  // the control bit acts on every control connection and is named.
  const auto control2 = markUsersFromNft(read({kTable, kForwardDrop, kMarkAccept}), kTexts, 0x00010000, {});
  const CheckLine noPinholes = markUsersCheck(control2, 0x00010000, 0);
  EXPECT_EQ(noPinholes.level, CheckLine::Level::Warn) << formatCheckLine(noPinholes);
}

TEST(MarkUsers, IptablesConnmarkRules) {
  const std::string dump =
      "*mangle\n"
      "-A PREROUTING -j CONNMARK --set-xmark 0x10000/0x10000\n"
      "-A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT\n"
      "-A ftpalg-c2s -m connmark --mark 0x20000/0x20000 -j NFQUEUE --queue-num 0\n"
      "COMMIT\n";
  const auto uses = markUsersFromIptablesSave(dump, "iptables-save", 0x00030000);
  ASSERT_EQ(uses.size(), 2u);  // ftpalg's own chain is skipped
  EXPECT_EQ(uses[0].kind, MarkUse::Kind::Sets);
  EXPECT_EQ(uses[0].bits, 0x00010000u);
  EXPECT_EQ(uses[1].kind, MarkUse::Kind::Reads);
  EXPECT_TRUE(uses[1].acceptsBit);
}

TEST(KernelHelperCheck, AConflictFailsWithTheRule) {
  const CheckLine none = kernelHelperCheck({}, {21});
  EXPECT_EQ(none.level, CheckLine::Level::Ok);
  const CheckLine found = kernelHelperCheck(
      {HelperAssignment{"nft table inet filter chain pre: ct helper set tcp dport map { 21 : "
                        "\"ftp-std\" }",
                        {{21, 21}}}},
      {21, 2121});
  EXPECT_EQ(found.level, CheckLine::Level::Fail);
  EXPECT_NE(found.detail.find("ct helper set tcp dport map { 21 : \"ftp-std\" }"), std::string::npos);
  EXPECT_NE(found.detail.find("control port 21,2121"), std::string::npos);
  EXPECT_FALSE(found.fix.empty());
}

TEST(Json, ValuesNumbersStringsAndErrors) {
  const auto parsed = json::parse(R"( {"a": [1, -2, 3.5, true, null, "x\u00e9\ud83d\ude00\n"], "b": {}} )");
  ASSERT_TRUE(parsed.value.has_value()) << parsed.error;
  const json::Value& a = *parsed.value->find("a");
  ASSERT_EQ(a.items().size(), 6u);
  EXPECT_EQ(a.items()[0].asInteger(), 1);
  EXPECT_EQ(a.items()[1].asInteger(), -2);
  EXPECT_DOUBLE_EQ(a.items()[2].asReal(), 3.5);
  EXPECT_TRUE(a.items()[3].asBool());
  EXPECT_TRUE(a.items()[4].isNull());
  EXPECT_EQ(a.items()[5].asString(), "x\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_EQ(json::parse("[1,]").error.rfind("offset 3", 0), 0u) << json::parse("[1,]").error;
  EXPECT_FALSE(json::parse("{\"a\": 1} x").value.has_value());
  EXPECT_FALSE(json::parse(std::string(200, '[') + std::string(200, ']')).value.has_value());  // too deep
  EXPECT_FALSE(json::parse("\"\\ud83d\"").value.has_value());  // a lone surrogate
}

TEST(RulesetJson, AnErrorNamesWhatIsWrong) {
  EXPECT_FALSE(readRulesetJson("{\"nftables\": 5}").ruleset.has_value());
  EXPECT_FALSE(readRulesetJson("not json").ruleset.has_value());
  const auto empty = readRulesetJson(rulesetJson({}));
  ASSERT_TRUE(empty.ruleset.has_value()) << empty.error;
  EXPECT_TRUE(empty.ruleset->rules.empty());
}

}  // namespace
}  // namespace ftpalg::firewall
