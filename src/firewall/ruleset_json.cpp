// The ruleset's JSON: see ruleset_json.hpp.
#include "ruleset_json.hpp"

#include <charconv>

namespace ftpalg::firewall {

const NftChain* NftRuleset::chain(const NftName& name) const {
  for (const NftChain& candidate : chains) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

const NftSet* NftRuleset::set(const NftName& name) const {
  for (const NftSet& candidate : sets) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

const NftCtHelper* NftRuleset::helper(const NftName& name) const {
  for (const NftCtHelper& candidate : helpers) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

const NftTable* NftRuleset::table(std::string_view family, std::string_view name) const {
  for (const NftTable& candidate : tables) {
    if (candidate.family == family && candidate.name == name) return &candidate;
  }
  return nullptr;
}

namespace {

NftName nameOf(const json::Value& object, std::string_view nameKey = "name") {
  return NftName{std::string(object.stringAt("family")), std::string(object.stringAt("table")),
                 std::string(object.stringAt(nameKey))};
}

}  // namespace

RulesetResult readRulesetJson(std::string_view text) {
  RulesetResult result;
  auto parsed = json::parse(text);
  if (!parsed.value) {
    result.error = "nft JSON: " + parsed.error;
    return result;
  }
  const json::Value* list = parsed.value->find("nftables");
  if (list == nullptr || !list->isArray()) {
    result.error = "nft JSON: no \"nftables\" array";
    return result;
  }
  NftRuleset ruleset;
  for (const json::Value& entry : list->items()) {
    const auto single = entry.single();
    if (!single) continue;
    const auto& [kind, object] = *single;
    if (!object->isObject()) continue;
    if (kind == "table") {
      ruleset.tables.push_back(NftTable{std::string(object->stringAt("family")),
                                        std::string(object->stringAt("name")),
                                        std::string(object->stringAt("comment"))});
    } else if (kind == "chain") {
      NftChain chain;
      chain.name = nameOf(*object);
      if (const std::string_view hook = object->stringAt("hook"); !hook.empty()) {
        chain.hook = std::string(hook);
        chain.type = std::string(object->stringAt("type"));
        chain.priority = object->integerAt("prio").value_or(0);
        if (const std::string_view policy = object->stringAt("policy"); !policy.empty()) {
          chain.policy = std::string(policy);
        }
      }
      ruleset.chains.push_back(std::move(chain));
    } else if (kind == "rule") {
      NftRule rule;
      rule.chain = nameOf(*object, "chain");
      rule.handle = object->integerAt("handle").value_or(0);
      if (const json::Value* expressions = object->find("expr");
          expressions != nullptr && expressions->isArray()) {
        rule.expressions = *expressions;
      } else {
        rule.expressions = json::Value::array({});
      }
      // Rules are listed after their chain (libnftables lists table by table, chains first).
      NftChain* chain = nullptr;
      for (NftChain& candidate : ruleset.chains) {
        if (candidate.name == rule.chain) chain = &candidate;
      }
      if (chain == nullptr) {
        result.error = "nft JSON: a rule of chain " + rule.chain.family + " " + rule.chain.table + " " +
                       rule.chain.name + " before its chain";
        return result;
      }
      chain->rules.push_back(ruleset.rules.size());
      ruleset.rules.push_back(std::move(rule));
    } else if (kind == "set" || kind == "map") {
      NftSet set;
      set.name = nameOf(*object);
      set.map = kind == "map";
      if (const json::Value* elements = object->find("elem"); elements != nullptr && elements->isArray()) {
        set.elements = elements->items();
      }
      ruleset.sets.push_back(std::move(set));
    } else if (kind == "ct helper") {
      ruleset.helpers.push_back(NftCtHelper{nameOf(*object), std::string(object->stringAt("type"))});
    }
  }
  result.ruleset = std::move(ruleset);
  return result;
}

namespace {

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// "table inet filter { # handle 1" -> {"inet", "filter"}; "chain forward { # handle 2" -> "forward".
std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

RuleTexts ruleTextsFromListing(std::string_view listing) {
  RuleTexts texts;
  std::string family, table, chain;
  std::size_t start = 0;
  constexpr std::string_view kHandle = " # handle ";
  while (start < listing.size()) {
    auto end = listing.find('\n', start);
    if (end == std::string_view::npos) end = listing.size();
    const std::string_view line = trimmed(listing.substr(start, end - start));
    start = end + 1;
    const auto at = line.rfind(kHandle);
    const std::string_view body = trimmed(at == std::string_view::npos ? line : line.substr(0, at));
    const auto w = words(body);
    // A block's header ("table inet filter {", "chain forward {", "set ports {", "ct helper x {"):
    // only a chain's lines are rules.
    if (body.ends_with("{")) {
      if (w.size() >= 4 && w[0] == "table") {
        family = std::string(w[1]);
        table = std::string(w[2]);
        chain.clear();
      } else if (w.size() >= 3 && w[0] == "chain") {
        chain = std::string(w[1]);
      } else {
        chain.clear();
      }
      continue;
    }
    if (at == std::string_view::npos || chain.empty()) continue;
    const std::string_view number = line.substr(at + kHandle.size());
    std::int64_t handle = 0;
    const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), handle);
    if (ec != std::errc() || ptr != number.data() + number.size()) continue;
    texts[{family, table, chain, handle}] = std::string(body);
  }
  return texts;
}

std::string describeRule(const NftRule& rule, const RuleTexts& texts) {
  std::string where = "table " + rule.chain.family + " " + rule.chain.table + " chain " + rule.chain.name;
  const auto found = texts.find({rule.chain.family, rule.chain.table, rule.chain.name, rule.handle});
  if (found != texts.end()) return where + ": " + found->second;
  return where + ", rule handle " + std::to_string(rule.handle);
}

}  // namespace ftpalg::firewall
