// Which nf_tables changes concern ftpalg: see ruleset_watch.hpp.
#include "ruleset_watch.hpp"

#include <algorithm>

namespace ftpalg::firewall {

std::string familyName(std::uint8_t family) {
  switch (family) {
    case kFamilyInet: return "inet";
    case kFamilyIpv4: return "ip";
    case kFamilyIpv6: return "ip6";
    default: return std::to_string(family);
  }
}

std::optional<WatchHit> concernedPart(const RulesetChange& change, const std::vector<WatchedTable>& watched) {
  if (!change.deleted || change.object == RulesetChange::Object::Element ||
      change.object == RulesetChange::Object::Other) {
    return std::nullopt;
  }
  for (const WatchedTable& table : watched) {
    if (table.family != change.family || table.table != change.table) continue;
    WatchHit hit{table.part, "nft table " + familyName(table.family) + " " + table.table, {}, false};
    hit.what = hit.table;
    switch (change.object) {
      case RulesetChange::Object::Table: hit.wholeTable = true; return hit;
      case RulesetChange::Object::Chain: hit.what += ": chain " + change.chain; break;
      case RulesetChange::Object::Rule: hit.what += ": a rule of chain " + change.chain; break;
      case RulesetChange::Object::Set: hit.what += ": a set or map"; break;
      case RulesetChange::Object::StatefulObject: hit.what += ": a stateful object"; break;
      default: break;
    }
    if (table.chains.empty()) return hit;  // ftpalg owns all of it
    const bool inChain =
        change.object == RulesetChange::Object::Chain || change.object == RulesetChange::Object::Rule;
    if (inChain && std::find(table.chains.begin(), table.chains.end(), change.chain) != table.chains.end()) {
      return hit;
    }
  }
  return std::nullopt;
}

std::string describeHits(const std::vector<WatchHit>& hits, std::size_t limit) {
  std::vector<std::string> items;
  for (const WatchHit& hit : hits) {
    if (!hit.wholeTable && std::any_of(hits.begin(), hits.end(), [&](const WatchHit& other) {
          return other.wholeTable && other.table == hit.table;
        })) {
      continue;
    }
    if (std::find(items.begin(), items.end(), hit.what) == items.end()) items.push_back(hit.what);
  }
  std::string text;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) text += (i == 0 ? "" : ", ") + items[i];
  if (items.size() > limit) text += " and " + std::to_string(items.size() - limit) + " more";
  return text;
}

}  // namespace ftpalg::firewall
