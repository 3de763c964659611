// Kernel ftp helper detection: see helper_detection.hpp.
#include "helper_detection.hpp"

#include <charconv>
#include <optional>
#include <sstream>

namespace ftpalg::firewall {

namespace {

using json::Value;

// "21", "21:22" (iptables range), "2121,3000:3001" (multiport).
std::vector<PortRange> parseIptablesPorts(std::string_view text) {
  std::vector<PortRange> ports;
  std::size_t i = 0;
  const auto number = [&](unsigned& value) {
    const char* begin = text.data() + i;
    const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value);
    if (ec != std::errc() || end == begin || value > 65535) return false;
    i += static_cast<std::size_t>(end - begin);
    return true;
  };
  while (i < text.size()) {
    unsigned first = 0, last = 0;
    if (!number(first)) break;
    last = first;
    if (i < text.size() && text[i] == ':') {
      ++i;
      if (!number(last)) last = first;
    }
    ports.push_back(PortRange{static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)});
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    break;
  }
  return ports;
}

const Value& unwrapElement(const Value& value) {
  if (const Value* element = value.find("elem"); element != nullptr) {
    if (const Value* inner = element->find("val"); inner != nullptr) return *inner;
  }
  return value;
}

// A port or port range constant; nullopt for anything else.
std::optional<PortRange> portRangeOf(const Value& raw) {
  const Value& value = unwrapElement(raw);
  if (value.isInteger() && value.asInteger() >= 0 && value.asInteger() <= 65535) {
    const auto port = static_cast<std::uint16_t>(value.asInteger());
    return PortRange{port, port};
  }
  if (const Value* range = value.find("range"); range != nullptr && range->isArray() &&
                                                range->items().size() == 2 && range->items()[0].isInteger() &&
                                                range->items()[1].isInteger()) {
    const auto lo = range->items()[0].asInteger();
    const auto hi = range->items()[1].asInteger();
    if (lo < 0 || hi > 65535 || lo > hi) return std::nullopt;
    return PortRange{static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
  }
  return std::nullopt;
}

bool isDestinationPort(const Value& expression) {
  const auto single = expression.single();
  if (!single || single->first != "payload") return false;
  const std::string_view protocol = single->second->stringAt("protocol");
  return (protocol == "tcp" || protocol == "th") && single->second->stringAt("field") == "dport";
}

// The elements of an anonymous set ({"set": [...]}), a named one ("@name" in `table`), or the
// value itself.
std::vector<Value> elementsOf(const Value& value, const NftRuleset& ruleset, const NftName& chain) {
  if (const Value* set = value.find("set"); set != nullptr && set->isArray()) return set->items();
  if (value.isString() && value.asString().starts_with("@")) {
    if (const NftSet* named = ruleset.set(NftName{chain.family, chain.table, value.asString().substr(1)}))
      return named->elements;
    return {};
  }
  return {value};
}

}  // namespace

std::vector<HelperAssignment> helperAssignmentsFromNft(const NftRuleset& ruleset, const RuleTexts& texts) {
  std::vector<HelperAssignment> found;
  for (const NftRule& rule : ruleset.rules) {
    const auto isFtpHelper = [&](const Value& name) {
      if (!name.isString()) return false;
      const NftCtHelper* helper =
          ruleset.helper(NftName{rule.chain.family, rule.chain.table, name.asString()});
      return helper != nullptr && helper->type == "ftp";
    };
    // The rule's own port condition: `tcp dport 21`, `tcp dport { ... }`, `tcp dport @set`; a
    // negated or unreadable one counts as every port (the conservative answer).
    std::optional<std::vector<PortRange>> rulePorts;
    bool everyPort = false;
    for (const Value& expression : rule.expressions.items()) {
      const auto single = expression.single();
      if (!single) continue;
      const auto& [key, body] = *single;
      if (key == "match") {
        const Value* left = body->find("left");
        const Value* right = body->find("right");
        if (left == nullptr || right == nullptr || !isDestinationPort(*left)) continue;
        const std::string_view op = body->stringAt("op");
        if (op != "==" && op != "in") {
          everyPort = true;
          continue;
        }
        std::vector<PortRange> ports;
        for (const Value& element : elementsOf(*right, ruleset, rule.chain)) {
          if (const auto range = portRangeOf(element)) {
            ports.push_back(*range);
          } else {
            everyPort = true;
          }
        }
        rulePorts = std::move(ports);
        continue;
      }
      if (key != "ct helper") continue;
      HelperAssignment assignment;
      assignment.where = "nft " + describeRule(rule, texts);
      if (body->isString()) {
        // ct helper set "NAME"
        if (!isFtpHelper(*body)) continue;
        if (rulePorts && !everyPort) assignment.ports = *rulePorts;
        found.push_back(std::move(assignment));
        continue;
      }
      // ct helper set KEY map { KEY : "NAME", ... } (or map @NAME): the keys that lead to an ftp
      // helper. A key that is not the destination port counts as every port.
      const Value* map = body->find("map");
      if (map == nullptr) continue;
      const Value* mapKey = map->find("key");
      const Value* data = map->find("data");
      if (mapKey == nullptr || data == nullptr) continue;
      bool ftp = false;
      bool byPort = isDestinationPort(*mapKey) && !everyPort;
      for (const Value& entry : elementsOf(*data, ruleset, rule.chain)) {
        if (!entry.isArray() || entry.items().size() != 2 || !isFtpHelper(entry.items()[1])) continue;
        ftp = true;
        if (const auto range = portRangeOf(entry.items()[0])) {
          assignment.ports.push_back(*range);
        } else {
          byPort = false;
        }
      }
      if (!ftp) continue;
      if (!byPort) assignment.ports.clear();
      found.push_back(std::move(assignment));
    }
  }
  return found;
}

std::vector<HelperAssignment> helperAssignmentsFromIptablesSave(std::string_view dump,
                                                                std::string_view tool) {
  std::vector<HelperAssignment> found;
  std::istringstream in{std::string(dump)};
  std::string line;
  std::string table;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '*') table = line.substr(1);
    if (line.rfind("-A ", 0) != 0) continue;
    if (line.find("-j CT") == std::string::npos || line.find("--helper ftp") == std::string::npos) continue;
    HelperAssignment assignment;
    assignment.where = std::string(tool) + " -t " + table + ": " + line;
    for (const std::string_view option : {"--dport ", "--dports "}) {
      if (const auto at = line.find(option); at != std::string::npos) {
        assignment.ports = parseIptablesPorts(std::string_view(line).substr(at + option.size()));
      }
    }
    found.push_back(std::move(assignment));
  }
  return found;
}

std::vector<HelperAssignment> conflictingHelpers(const std::vector<HelperAssignment>& all,
                                                 const std::vector<std::uint16_t>& controlPorts) {
  std::vector<HelperAssignment> conflicts;
  for (const auto& assignment : all) {
    bool covers = assignment.ports.empty();
    for (const PortRange& range : assignment.ports) {
      for (const std::uint16_t control : controlPorts)
        covers = covers || (control >= range.lo && control <= range.hi);
    }
    if (covers) conflicts.push_back(assignment);
  }
  return conflicts;
}

}  // namespace ftpalg::firewall
