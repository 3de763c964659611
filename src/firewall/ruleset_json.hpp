// The ruleset as nft lists it in JSON (`nft -j list ruleset`, libnftables with
// NFT_CTX_OUTPUT_JSON: the schema of libnftables-json(5)), read into tables, chains, rules, sets,
// maps and ct helper objects (standard library only). `ftpalg check` evaluates it
// (forward_admission.hpp, mark_users.hpp) and `run` finds a kernel ftp helper in it
// (helper_detection.hpp): the JSON names every expression, whatever syntax wrote the rule
// (`ct helper set "x"`, `ct helper set tcp dport map { 21 : "x" }`, a vmap, a named set ...), which
// the text listing does not.
//
// `nft -j` shows a rule that iptables-nft wrote through an xtables extension as
// {"xt": {"type": "match"|"target", "name": ...}} without its arguments: such expressions are
// opaque here; iptables-save lists them (mark_users.hpp reads that).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "json.hpp"

namespace ftpalg::firewall {

// A table, chain or set is named by family ("ip", "ip6", "inet", "arp", "bridge", "netdev"),
// table and name.
struct NftName {
  std::string family, table, name;
  friend bool operator==(const NftName&, const NftName&) = default;
  friend auto operator<=>(const NftName&, const NftName&) = default;
};

struct NftTable {
  std::string family, name;
  std::string comment;  // "" when none
};

struct NftChain {
  NftName name;
  // Base chains only: hook ("prerouting", "input", "forward", "output", "postrouting", ...),
  // type ("filter", "nat", "route"), priority (a number) and policy ("accept" or "drop").
  std::optional<std::string> hook;
  std::string type;
  std::int64_t priority = 0;
  std::string policy = "accept";
  std::vector<std::size_t> rules;  // indexes into NftRuleset::rules, in chain order
};

struct NftRule {
  NftName chain;  // the chain it is in (name = chain name)
  std::int64_t handle = 0;
  json::Value expressions;  // the "expr" array
};

// A named set or map (`@name` in a rule) and its elements as listed: plain values, or for a map
// [key, data] pairs.
struct NftSet {
  NftName name;
  bool map = false;
  std::vector<json::Value> elements;
};

// A `ct helper` object (`ct helper NAME { type "ftp" ... }`).
struct NftCtHelper {
  NftName name;
  std::string type;  // the kernel helper: "ftp", "sane", ...
};

struct NftRuleset {
  std::vector<NftTable> tables;
  std::vector<NftChain> chains;
  std::vector<NftRule> rules;
  std::vector<NftSet> sets;
  std::vector<NftCtHelper> helpers;

  const NftChain* chain(const NftName& name) const;
  const NftSet* set(const NftName& name) const;
  const NftCtHelper* helper(const NftName& name) const;
  const NftTable* table(std::string_view family, std::string_view name) const;
};

struct RulesetResult {
  std::optional<NftRuleset> ruleset;
  std::string error;  // when ruleset is empty: the JSON or schema error
};

// Reads `nft -j list ruleset` (or `list table`) output. Objects it does not know (flowtables,
// counters, quotas, ...) are skipped.
RulesetResult readRulesetJson(std::string_view text);

// The text of each rule, from `nft -a list ruleset` (handles shown: each rule line ends with
// "# handle N"), keyed by (family, table, chain, handle): how messages quote a rule as its author
// wrote it.
using RuleTexts = std::map<std::tuple<std::string, std::string, std::string, std::int64_t>, std::string>;
RuleTexts ruleTextsFromListing(std::string_view listing);

// "table inet filter chain forward: ct state established,related accept" (the rule's text from
// `texts`, else its handle).
std::string describeRule(const NftRule& rule, const RuleTexts& texts);

}  // namespace ftpalg::firewall
