// Users of ftpalg's mark bits: see mark_users.hpp.
#include "mark_users.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <optional>
#include <sstream>

namespace ftpalg::firewall {

namespace {

using json::Value;

// What an assignment does to one bit of the mark.
enum class BitEffect : std::uint8_t { Keep, Set, Clear, Flip, Unknown };

BitEffect orOf(BitEffect a, BitEffect b) {
  if (a == BitEffect::Set || b == BitEffect::Set) return BitEffect::Set;
  if (a == BitEffect::Clear) return b;
  if (b == BitEffect::Clear) return a;
  if (a == BitEffect::Keep && b == BitEffect::Keep) return BitEffect::Keep;
  return BitEffect::Unknown;
}
BitEffect andOf(BitEffect a, BitEffect b) {
  if (a == BitEffect::Clear || b == BitEffect::Clear) return BitEffect::Clear;
  if (a == BitEffect::Set) return b;
  if (b == BitEffect::Set) return a;
  if (a == BitEffect::Keep && b == BitEffect::Keep) return BitEffect::Keep;
  return BitEffect::Unknown;
}
BitEffect xorOf(BitEffect a, BitEffect b) {
  if (a == BitEffect::Clear) return b;
  if (b == BitEffect::Clear) return a;
  if (a == BitEffect::Unknown || b == BitEffect::Unknown) return BitEffect::Unknown;
  if (a == b) return a == BitEffect::Set ? BitEffect::Clear : BitEffect::Unknown;  // Keep^Keep = 0
  if ((a == BitEffect::Set && b == BitEffect::Keep) || (a == BitEffect::Keep && b == BitEffect::Set))
    return BitEffect::Flip;
  return BitEffect::Unknown;
}

// The effect of `ct mark set EXPR` on `bit`.
BitEffect effectOn(const Value& expression, std::uint32_t bit, int depth = 0) {
  if (depth > 32) return BitEffect::Unknown;
  if (expression.isInteger()) return (expression.asInteger() & bit) != 0 ? BitEffect::Set : BitEffect::Clear;
  const auto single = expression.single();
  if (!single) return BitEffect::Unknown;
  const auto& [key, body] = *single;
  if (key == "ct" && body->stringAt("key") == "mark" && body->find("dir") == nullptr) return BitEffect::Keep;
  if ((key == "|" || key == "&" || key == "^") && body->isArray() && body->items().size() == 2) {
    const BitEffect a = effectOn(body->items()[0], bit, depth + 1);
    const BitEffect b = effectOn(body->items()[1], bit, depth + 1);
    if (key == "|") return orOf(a, b);
    if (key == "&") return andOf(a, b);
    if (a == BitEffect::Keep && b == BitEffect::Keep) return BitEffect::Clear;  // x ^ x
    return xorOf(a, b);
  }
  return BitEffect::Unknown;
}

bool isCtMark(const Value& expression) {
  const auto single = expression.single();
  return single && single->first == "ct" && single->second->stringAt("key") == "mark";
}

// The bits of the mark a match's left side reads: `ct mark` (all), `ct mark & M` (M); 0 when it
// does not read the mark.
std::uint32_t bitsRead(const Value& left) {
  if (isCtMark(left)) return 0xffffffffu;
  const auto single = left.single();
  if (single && single->first == "&" && single->second->isArray() && single->second->items().size() == 2 &&
      isCtMark(single->second->items()[0]) && single->second->items()[1].isInteger()) {
    return static_cast<std::uint32_t>(single->second->items()[1].asInteger());
  }
  return 0;
}

// Collects writes: for each bit of `bits`, the effect; one MarkUse per kind of effect.
void addWrites(std::vector<MarkUse>& out, const std::string& where, std::uint32_t bits,
               const auto& effectOfBit) {
  std::uint32_t set = 0, cleared = 0, changed = 0;
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1) {
    if (!(bits & bit)) continue;
    switch (effectOfBit(bit)) {
      case BitEffect::Keep: break;
      case BitEffect::Set: set |= bit; break;
      case BitEffect::Clear: cleared |= bit; break;
      case BitEffect::Flip:
      case BitEffect::Unknown: changed |= bit; break;
    }
  }
  if (set) out.push_back(MarkUse{MarkUse::Kind::Sets, set, where, false});
  if (cleared) out.push_back(MarkUse{MarkUse::Kind::Clears, cleared, where, false});
  if (changed) out.push_back(MarkUse{MarkUse::Kind::Changes, changed, where, false});
}

}  // namespace

std::vector<MarkUse> markUsersFromNft(const NftRuleset& ruleset, const RuleTexts& texts, std::uint32_t bits,
                                      const std::vector<std::string>& ownTables) {
  std::vector<MarkUse> out;
  for (const NftRule& rule : ruleset.rules) {
    if (rule.chain.family == "inet" &&
        std::find(ownTables.begin(), ownTables.end(), rule.chain.table) != ownTables.end())
      continue;
    const std::string where = "nft " + describeRule(rule, texts);
    const auto& expressions = rule.expressions.items();
    for (std::size_t i = 0; i < expressions.size(); ++i) {
      const auto single = expressions[i].single();
      if (!single) continue;
      const auto& [key, body] = *single;
      if (key == "mangle") {
        const Value* target = body->find("key");
        const Value* value = body->find("value");
        if (target == nullptr || value == nullptr || !isCtMark(*target)) continue;
        addWrites(out, where, bits, [&](std::uint32_t bit) { return effectOn(*value, bit); });
      } else if (key == "match" || key == "vmap") {
        const Value* left = body->find(key == "match" ? "left" : "key");
        if (left == nullptr) continue;
        const std::uint32_t read = bitsRead(*left) & bits;
        if (read == 0) continue;
        MarkUse use{MarkUse::Kind::Reads, read, where, false};
        if (key == "match") {
          // ct mark and B == B accept: the accept rule of the pinhole bit.
          const auto left1 = left->single();
          const Value* right = body->find("right");
          use.acceptsBit = expressions.size() == 2 && i == 0 && body->stringAt("op") == "==" && left1 &&
                           left1->first == "&" && right != nullptr && right->isInteger() &&
                           std::popcount(static_cast<std::uint32_t>(right->asInteger())) == 1 &&
                           bitsRead(*left) == static_cast<std::uint32_t>(right->asInteger()) &&
                           expressions[1].single() && expressions[1].single()->first == "accept";
        }
        out.push_back(std::move(use));
      }
    }
  }
  return out;
}

namespace {

std::optional<std::uint32_t> number(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// "V/M" or "V" (mask all ones).
std::optional<std::pair<std::uint32_t, std::uint32_t>> valueAndMask(std::string_view text) {
  const auto slash = text.find('/');
  const auto value = number(text.substr(0, slash));
  if (!value) return std::nullopt;
  if (slash == std::string_view::npos) return std::pair<std::uint32_t, std::uint32_t>{*value, 0xffffffffu};
  const auto mask = number(text.substr(slash + 1));
  if (!mask) return std::nullopt;
  return std::pair<std::uint32_t, std::uint32_t>{*value, *mask};
}

std::vector<std::string> splitWords(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

}  // namespace

std::vector<MarkUse> markUsersFromIptablesSave(std::string_view dump, std::string_view tool,
                                               std::uint32_t bits) {
  std::vector<MarkUse> out;
  std::istringstream in{std::string(dump)};
  std::string line, table;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '*') table = line.substr(1);
    if (line.rfind("-A ", 0) != 0) continue;
    const auto words = splitWords(line);
    if (words.size() < 2 || words[1].rfind("ftpalg-", 0) == 0) continue;  // ftpalg's own chains
    const std::string where = std::string(tool) + " -t " + table + ": " + line;
    bool connmarkTarget = false, accepts = false;
    for (std::size_t i = 0; i + 1 < words.size(); ++i) {
      if (words[i] == "-j" && words[i + 1] == "CONNMARK") connmarkTarget = true;
      if (words[i] == "-j" && words[i + 1] == "ACCEPT") accepts = true;
    }
    std::string module;  // the match module the options belong to (-m NAME)
    for (std::size_t i = 0; i < words.size(); ++i) {
      const std::string& option = words[i];
      const bool hasValue = i + 1 < words.size();
      if ((option == "-m" || option == "-j") && hasValue) {
        module = option == "-m" ? words[i + 1] : "";
        ++i;
      } else if (connmarkTarget && option == "--set-xmark" && hasValue) {
        // ctmark = (ctmark & ~M) ^ V
        const auto vm = valueAndMask(words[i + 1]);
        if (!vm) continue;
        addWrites(out, where, bits, [&](std::uint32_t bit) {
          if (vm->second & bit) return (vm->first & bit) ? BitEffect::Set : BitEffect::Clear;
          return (vm->first & bit) ? BitEffect::Flip : BitEffect::Keep;
        });
      } else if (connmarkTarget && option == "--save-mark") {
        // ctmark = (ctmark & ~ctmask) | (nfmark & nfmask): the bits in ctmask follow the packet mark.
        std::uint32_t ctmask = 0xffffffffu;
        for (std::size_t j = i + 1; j + 1 < words.size(); ++j) {
          if (words[j] == "--ctmask" || words[j] == "--mask") {
            if (const auto mask = number(words[j + 1])) ctmask = *mask;
          }
        }
        addWrites(out, where, bits,
                  [&](std::uint32_t bit) { return (ctmask & bit) ? BitEffect::Unknown : BitEffect::Keep; });
      } else if (module == "connmark" && option == "--mark" && hasValue) {
        const auto vm = valueAndMask(words[i + 1]);
        if (!vm || (vm->second & bits) == 0) continue;
        MarkUse use{MarkUse::Kind::Reads, vm->second & bits, where, false};
        use.acceptsBit = accepts && vm->first == vm->second && std::popcount(vm->second) == 1;
        out.push_back(std::move(use));
      }
    }
  }
  return out;
}

}  // namespace ftpalg::firewall
