// The forward-chain evaluation: see forward_admission.hpp. Expressions follow libnftables-json(5).
#include "forward_admission.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace ftpalg::firewall {

DataConnectionPacket engineOwnedDataPacket(PacketFamily family, std::uint32_t pinholeMark,
                                           std::uint16_t dataPortFloor) {
  DataConnectionPacket packet;
  packet.family = family;
  packet.ctState = "new";
  packet.expected = false;
  // A new connection's mark starts at 0 (only an expected connection inherits its master's), and
  // ftpalg's pre_dnat chain sets the pinhole bit. A rule of the admin's that sets other bits
  // before the forward hook is not modelled; one that touches ftpalg's bits is mark_users.hpp's.
  packet.markKnownBits = 0xffffffffu;
  packet.markValue = pinholeMark;
  packet.dataPortFloor = dataPortFloor;
  return packet;
}

DataConnectionPacket conntrackOwnedDataPacket(PacketFamily family, std::uint32_t controlMark,
                                              std::uint16_t dataPortFloor) {
  DataConnectionPacket packet;
  packet.family = family;
  packet.ctState = "related";
  packet.expected = true;
  packet.markKnownBits = controlMark;
  packet.markValue = controlMark;
  packet.dataPortFloor = dataPortFloor;
  return packet;
}

namespace {

using json::Value;

enum class Truth : std::uint8_t { False, True, Unknown };

Truth both(Truth a, Truth b) {
  if (a == Truth::False || b == Truth::False) return Truth::False;
  if (a == Truth::True && b == Truth::True) return Truth::True;
  return Truth::Unknown;
}
Truth either(Truth a, Truth b) {
  if (a == Truth::True || b == Truth::True) return Truth::True;
  if (a == Truth::False && b == Truth::False) return Truth::False;
  return Truth::Unknown;
}
Truth negated(Truth a) {
  if (a == Truth::Unknown) return a;
  return a == Truth::True ? Truth::False : Truth::True;
}
Truth truth(bool value) { return value ? Truth::True : Truth::False; }

// TCP flag names (nft's tcp_flag type) and their bits.
const std::map<std::string, std::uint64_t, std::less<>>& tcpFlagBits() {
  static const std::map<std::string, std::uint64_t, std::less<>> bits{
      {"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08},
      {"ack", 0x10}, {"urg", 0x20}, {"ecn", 0x40}, {"cwr", 0x80}};
  return bits;
}

// What the evaluation knows about the value an expression yields for the packet.
struct Abstract {
  enum class Kind : std::uint8_t {
    Unknown,  // could be anything
    Absent,   // the packet has no such header (e.g. `ip saddr` of an IPv6 packet): no match
    Symbol,   // a known name: ct state, ct direction, meta nfproto, meta l4proto
    Bits,     // a number with some bits known: ct mark, tcp flags
    Range,    // a number in [lo, hi]: tcp ports
    Flags,    // ct status: each flag true, false or unknown
  };
  Kind kind = Kind::Unknown;
  std::string symbol;
  std::uint64_t known = 0, value = 0, width = 0xffffffff;
  std::uint64_t lo = 0, hi = 0;
  std::map<std::string, Truth, std::less<>> flags;
  const std::map<std::string, std::uint64_t, std::less<>>* names = nullptr;  // Bits: named values

  static Abstract unknown() { return {}; }
  static Abstract absent() {
    Abstract a;
    a.kind = Kind::Absent;
    return a;
  }
  static Abstract name(std::string text) {
    Abstract a;
    a.kind = Kind::Symbol;
    a.symbol = std::move(text);
    return a;
  }
};

// A constant of a match's right side or a map key.
struct Constant {
  enum class Kind : std::uint8_t { Unknown, Integer, Text, Range };
  Kind kind = Kind::Unknown;
  std::uint64_t integer = 0, lo = 0, hi = 0;
  std::string text;
};

class Evaluator {
 public:
  Evaluator(const NftRuleset& ruleset, const DataConnectionPacket& packet, const RuleTexts& texts)
      : ruleset_(ruleset), packet_(packet), texts_(texts) {}

  static constexpr unsigned kAccept = 1, kDrop = 2, kContinue = 4, kReturn = 8;

  struct Outcome {
    unsigned set = 0;
    std::string acceptedBy, droppedBy;  // the first rule (or policy) that does it (maybe)
    void add(unsigned bits, const std::string& by) {
      if ((bits & kAccept) && acceptedBy.empty()) acceptedBy = by;
      if ((bits & kDrop) && droppedBy.empty()) droppedBy = by;
      set |= bits;
    }
    void merge(const Outcome& other, unsigned mask) {
      if ((other.set & mask & kAccept) && acceptedBy.empty()) acceptedBy = other.acceptedBy;
      if ((other.set & mask & kDrop) && droppedBy.empty()) droppedBy = other.droppedBy;
      set |= other.set & mask;
    }
  };

  Outcome chain(const NftChain& chain, int depth) {
    Outcome result;
    if (depth > 16) {  // nft refuses deeper jumps; a loop cannot be loaded
      result.add(kAccept | kDrop, chainText(chain) + " (jumps nested too deep to follow)");
      return result;
    }
    bool running = true;
    for (const std::size_t index : chain.rules) {
      const NftRule& rule = ruleset_.rules[index];
      const Outcome ruleOutcome = this->rule(rule, depth);
      result.merge(ruleOutcome, kAccept | kDrop | kReturn);
      if (!(ruleOutcome.set & kContinue)) {
        running = false;
        break;
      }
    }
    if (running) {
      if (chain.hook) {
        result.add(chain.policy == "drop" ? kDrop : kAccept, chainText(chain) + ": policy " + chain.policy);
      } else {
        result.add(kReturn, "");
      }
    }
    if (chain.hook && (result.set & kReturn)) {
      // `return` (or a goto that fell off) in a base chain: the policy decides.
      result.set &= ~kReturn;
      result.add(chain.policy == "drop" ? kDrop : kAccept, chainText(chain) + ": policy " + chain.policy);
    }
    return result;
  }

 private:
  std::string chainText(const NftChain& chain) const {
    return "table " + chain.name.family + " " + chain.name.table + " chain " + chain.name.name;
  }

  // What a verdict statement does, given that the rule got this far with `condition`.
  Outcome verdict(std::string_view key, const Value& body, const NftRule& rule, int depth) {
    Outcome out;
    const std::string by = describeRule(rule, texts_);
    if (key == "accept") {
      out.add(kAccept, by);
    } else if (key == "drop" || key == "reject") {
      out.add(kDrop, by);
    } else if (key == "return") {
      out.add(kReturn, by);
    } else if (key == "continue") {
      out.add(kContinue, by);
    } else if (key == "queue") {
      out.add(kAccept | kDrop, by + " (queued to a program: its verdict is unknown)");
    } else if (key == "jump" || key == "goto") {
      const std::string_view target = body.stringAt("target");
      const NftChain* chain =
          ruleset_.chain(NftName{rule.chain.family, rule.chain.table, std::string(target)});
      if (chain == nullptr) {
        out.add(kAccept | kDrop, by + " (jump to an unlisted chain)");
        return out;
      }
      const Outcome sub = this->chain(*chain, depth + 1);
      out.merge(sub, kAccept | kDrop);
      if (sub.set & kReturn) out.add(key == "jump" ? kContinue : kReturn, by);
    }
    return out;
  }

  static bool isVerdict(std::string_view key) {
    return key == "accept" || key == "drop" || key == "reject" || key == "return" || key == "continue" ||
           key == "queue" || key == "jump" || key == "goto";
  }

  Outcome rule(const NftRule& rule, int depth) {
    Truth condition = Truth::True;
    Outcome out;
    const auto finish = [&](const Outcome& effect) {
      // The effect happens when the condition holds; otherwise the rule falls through.
      Outcome result;
      if (condition == Truth::True) return effect;
      result.merge(effect, kAccept | kDrop | kReturn | kContinue);
      result.set |= kContinue;
      return result;
    };
    for (const Value& expression : rule.expressions.items()) {
      const auto single = expression.single();
      if (!single) continue;
      const auto& [key, body] = *single;
      if (key == "match") {
        condition = both(condition, match(*body, rule));
        if (condition == Truth::False) {
          out.set = kContinue;
          return out;
        }
      } else if (isVerdict(key)) {
        return finish(verdict(key, *body, rule, depth));
      } else if (key == "vmap") {
        return finish(verdictMap(*body, rule, depth));
      } else if (key == "xt") {
        // An iptables-nft extension: its arguments are not listed in JSON.
        const std::string_view type = body->stringAt("type");
        const std::string_view name = body->stringAt("name");
        if (type == "match") {
          condition = both(condition, Truth::Unknown);
        } else if (name == "REJECT") {
          return finish(verdict("drop", *body, rule, depth));
        } else if (name != "LOG" && name != "NFLOG" && name != "CONNMARK" && name != "MARK" && name != "CT" &&
                   name != "TCPMSS" && name != "TRACE" && name != "CLASSIFY" && name != "DSCP" &&
                   name != "TOS" && name != "TTL" && name != "HL" && name != "SECMARK" &&
                   name != "CONNSECMARK") {
          Outcome unknown;
          unknown.add(kAccept | kDrop | kContinue,
                      describeRule(rule, texts_) + " (iptables target " + std::string(name) + ")");
          return finish(unknown);
        }
      } else if (key == "limit" || key == "quota" || key == "ct count" || key == "meter" ||
                 key == "synproxy" || key == "numgen" || key == "connlimit") {
        // Statements that stop the rule for some packets.
        condition = both(condition, Truth::Unknown);
      }
      // Anything else is a statement that lets the packet go on (counter, log, mangle, ...).
    }
    out.set = kContinue;
    return out;
  }

  Outcome verdictMap(const Value& body, const NftRule& rule, int depth) {
    Outcome out;
    const Value* keyExpression = body.find("key");
    const Value* data = body.find("data");
    if (keyExpression == nullptr || data == nullptr) {
      out.add(kAccept | kDrop | kContinue,
              describeRule(rule, texts_) + " (a verdict map ftpalg cannot read)");
      return out;
    }
    const Abstract key = abstractOf(*keyExpression);
    bool someSure = false;
    for (const Value& entry : entriesOf(*data, rule)) {
      if (!entry.isArray() || entry.items().size() != 2) continue;
      const Truth hit = equalsAny(key, constantsOf(entry.items()[0], rule));
      if (hit == Truth::False) continue;
      const auto single = entry.items()[1].single();
      if (!single) continue;
      const Outcome effect = verdict(single->first, *single->second, rule, depth);
      if (hit == Truth::True) {
        out.merge(effect, kAccept | kDrop | kReturn | kContinue);
        someSure = true;
        break;
      }
      out.merge(effect, kAccept | kDrop | kReturn | kContinue);
    }
    if (!someSure) out.set |= kContinue;
    return out;
  }

  // The elements of an anonymous set/map ({"set": [...]}) or a named one ("@name").
  std::vector<Value> entriesOf(const Value& data, const NftRule& rule) const {
    if (const Value* set = data.find("set"); set != nullptr && set->isArray()) return set->items();
    if (data.isString() && data.asString().starts_with("@")) {
      const NftSet* named =
          ruleset_.set(NftName{rule.chain.family, rule.chain.table, data.asString().substr(1)});
      if (named != nullptr) return named->elements;
    }
    return {};
  }

  static const Value& unwrapElement(const Value& value) {
    // {"elem": {"val": X, "timeout": ...}}
    if (const Value* element = value.find("elem"); element != nullptr) {
      if (const Value* inner = element->find("val"); inner != nullptr) return *inner;
    }
    return value;
  }

  Constant constantOf(const Value& raw) const {
    const Value& value = unwrapElement(raw);
    Constant c;
    if (value.isInteger() && value.asInteger() >= 0) {
      c.kind = Constant::Kind::Integer;
      c.integer = static_cast<std::uint64_t>(value.asInteger());
    } else if (value.isString()) {
      c.kind = Constant::Kind::Text;
      c.text = value.asString();
    } else if (const Value* range = value.find("range");
               range != nullptr && range->isArray() && range->items().size() == 2 &&
               range->items()[0].isInteger() && range->items()[1].isInteger()) {
      c.kind = Constant::Kind::Range;
      c.lo = static_cast<std::uint64_t>(range->items()[0].asInteger());
      c.hi = static_cast<std::uint64_t>(range->items()[1].asInteger());
    }
    return c;
  }

  // The constants a right side stands for: one value, an anonymous set, a named set.
  std::vector<Constant> constantsOf(const Value& right, const NftRule& rule) const {
    std::vector<Constant> out;
    if (right.isString() && right.asString().starts_with("@")) {
      for (const Value& element : entriesOf(right, rule)) out.push_back(constantOf(element));
      if (out.empty()) out.push_back(Constant{});  // an unlisted or empty set: unknown
      return out;
    }
    if (const Value* set = right.find("set"); set != nullptr && set->isArray()) {
      for (const Value& element : set->items()) out.push_back(constantOf(element));
      return out;
    }
    out.push_back(constantOf(right));
    return out;
  }

  Abstract abstractOf(const Value& expression) const {
    const bool v4 = packet_.family == PacketFamily::V4;
    const auto single = expression.single();
    if (!single) return Abstract::unknown();
    const auto& [kind, body] = *single;
    if (kind == "ct") {
      const std::string_view key = body->stringAt("key");
      if (key == "state") return Abstract::name(packet_.ctState);
      if (key == "direction") return Abstract::name("original");
      if (key == "l3proto") return Abstract::name(v4 ? "ipv4" : "ipv6");
      if (key == "protocol") return Abstract::name("tcp");
      if (key == "mark") {
        Abstract a;
        a.kind = Abstract::Kind::Bits;
        a.known = packet_.markKnownBits;
        a.value = packet_.markValue;
        a.width = 0xffffffff;
        return a;
      }
      if (key == "status") {
        Abstract a;
        a.kind = Abstract::Kind::Flags;
        a.flags = {{"expected", truth(packet_.expected)},
                   {"seen-reply", Truth::False},
                   {"assured", Truth::False},
                   {"confirmed", Truth::False},
                   {"dying", Truth::False},
                   {"snat", Truth::Unknown},
                   {"dnat", Truth::Unknown}};
        return a;
      }
      return Abstract::unknown();
    }
    if (kind == "meta") {
      const std::string_view key = body->stringAt("key");
      if (key == "l4proto") return Abstract::name("tcp");
      if (key == "nfproto") return Abstract::name(v4 ? "ipv4" : "ipv6");
      if (key == "protocol") return Abstract::name(v4 ? "ip" : "ip6");
      return Abstract::unknown();
    }
    if (kind == "payload") {
      const std::string_view protocol = body->stringAt("protocol");
      const std::string_view field = body->stringAt("field");
      if (protocol.empty()) return Abstract::unknown();  // a raw payload expression
      if (protocol == "ip") {
        if (!v4) return Abstract::absent();
        return field == "protocol" ? Abstract::name("tcp") : Abstract::unknown();
      }
      if (protocol == "ip6") {
        if (v4) return Abstract::absent();
        return field == "nexthdr" ? Abstract::name("tcp") : Abstract::unknown();
      }
      if (protocol == "tcp" || protocol == "th") {
        Abstract a;
        if (field == "dport" || field == "sport") {
          a.kind = Abstract::Kind::Range;
          a.lo = field == "dport" ? packet_.dataPortFloor : 1;
          a.hi = 65535;
          return a;
        }
        if (field == "flags" && protocol == "tcp") {
          a.kind = Abstract::Kind::Bits;
          a.known = 0x3f;  // ECE and CWR depend on the peer's ECN choice
          a.value = 0x02;  // the first packet: SYN
          a.width = 0xff;
          a.names = &tcpFlagBits();
          return a;
        }
        return Abstract::unknown();
      }
      // udp, icmp, icmpv6, sctp, ...: a TCP packet has no such header.
      if (protocol == "udp" || protocol == "udplite" || protocol == "icmp" || protocol == "icmpv6" ||
          protocol == "sctp" || protocol == "dccp" || protocol == "esp" || protocol == "ah" ||
          protocol == "comp" || protocol == "igmp" || protocol == "gre" || protocol == "arp" ||
          protocol == "vlan") {
        return Abstract::absent();
      }
      return Abstract::unknown();
    }
    if (kind == "&" && body->isArray() && body->items().size() == 2) {
      Abstract a = abstractOf(body->items()[0]);
      if (a.kind == Abstract::Kind::Absent) return a;
      if (a.kind != Abstract::Kind::Bits) return Abstract::unknown();
      const auto mask = maskOf(body->items()[1], a);
      if (!mask) return Abstract::unknown();
      a.known |= ~*mask & a.width;  // masked-out bits are known zeros
      a.value &= *mask;
      return a;
    }
    return Abstract::unknown();
  }

  // A bit mask: a number, a flag name, or a list of flag names (OR).
  static std::optional<std::uint64_t> maskOf(const Value& value, const Abstract& bits) {
    if (value.isInteger() && value.asInteger() >= 0) return static_cast<std::uint64_t>(value.asInteger());
    const auto named = [&](const Value& v) -> std::optional<std::uint64_t> {
      if (!v.isString() || bits.names == nullptr) return std::nullopt;
      const auto found = bits.names->find(v.asString());
      if (found == bits.names->end()) return std::nullopt;
      return found->second;
    };
    if (value.isString()) return named(value);
    if (value.isArray()) {
      std::uint64_t mask = 0;
      for (const Value& item : value.items()) {
        const auto bit = named(item);
        if (!bit) return std::nullopt;
        mask |= *bit;
      }
      return mask;
    }
    return std::nullopt;
  }

  // Whether `value` equals one of `constants`.
  static Truth equalsAny(const Abstract& value, const std::vector<Constant>& constants) {
    Truth result = Truth::False;
    for (const Constant& constant : constants) result = either(result, equals(value, constant));
    return result;
  }

  static Truth equals(const Abstract& value, const Constant& constant) {
    switch (value.kind) {
      case Abstract::Kind::Absent: return Truth::False;
      case Abstract::Kind::Unknown: return Truth::Unknown;
      case Abstract::Kind::Symbol: {
        if (constant.kind == Constant::Kind::Text) return truth(constant.text == value.symbol);
        if (constant.kind == Constant::Kind::Integer) {
          // Protocol and family numbers: tcp 6, ipv4 2, ipv6 10.
          if (value.symbol == "tcp") return truth(constant.integer == 6);
          if (value.symbol == "ipv4") return truth(constant.integer == 2);
          if (value.symbol == "ipv6") return truth(constant.integer == 10);
        }
        return Truth::Unknown;
      }
      case Abstract::Kind::Bits: {
        std::optional<std::uint64_t> number;
        if (constant.kind == Constant::Kind::Integer) number = constant.integer;
        if (constant.kind == Constant::Kind::Text && value.names != nullptr) {
          if (const auto found = value.names->find(constant.text); found != value.names->end())
            number = found->second;
        }
        if (!number) return Truth::Unknown;
        if ((*number ^ value.value) & value.known) return Truth::False;
        return (value.known & value.width) == value.width ? Truth::True : Truth::Unknown;
      }
      case Abstract::Kind::Range: {
        std::uint64_t lo = 0, hi = 0;
        if (constant.kind == Constant::Kind::Integer) {
          lo = hi = constant.integer;
        } else if (constant.kind == Constant::Kind::Range) {
          lo = constant.lo;
          hi = constant.hi;
        } else {
          return Truth::Unknown;
        }
        if (hi < value.lo || lo > value.hi) return Truth::False;
        if (lo <= value.lo && hi >= value.hi) return Truth::True;
        return Truth::Unknown;
      }
      case Abstract::Kind::Flags: {
        if (constant.kind != Constant::Kind::Text) return Truth::Unknown;
        const auto found = value.flags.find(constant.text);
        return found == value.flags.end() ? Truth::Unknown : found->second;
      }
    }
    return Truth::Unknown;
  }

  // A flag test (`ct status dnat`, `ct state established,related`): any of the named flags set.
  Truth anyFlag(const Abstract& value, const Value& right) const {
    std::vector<Constant> names;
    if (right.isArray()) {
      for (const Value& item : right.items()) names.push_back(constantOf(item));
    } else {
      names.push_back(constantOf(right));
    }
    if (value.kind == Abstract::Kind::Bits) {
      std::uint64_t mask = 0;
      for (const Constant& name : names) {
        if (name.kind == Constant::Kind::Integer) {
          mask |= name.integer;
          continue;
        }
        if (name.kind != Constant::Kind::Text || value.names == nullptr) return Truth::Unknown;
        const auto bit = value.names->find(name.text);
        if (bit == value.names->end()) return Truth::Unknown;
        mask |= bit->second;
      }
      if (value.value & value.known & mask) return Truth::True;
      if ((mask & ~value.known) == 0) return Truth::False;
      return Truth::Unknown;
    }
    return equalsAny(value, names);  // Symbol (ct state), Flags (ct status), ...
  }

  Truth compareOrder(std::string_view op, const Abstract& value, const Value& right) const {
    const Constant constant = constantOf(right);
    if (value.kind == Abstract::Kind::Absent) return Truth::False;
    if (value.kind != Abstract::Kind::Range || constant.kind != Constant::Kind::Integer)
      return Truth::Unknown;
    const std::uint64_t n = constant.integer;
    const auto test = [&](std::uint64_t x) {
      if (op == "<") return x < n;
      if (op == "<=") return x <= n;
      if (op == ">") return x > n;
      return x >= n;
    };
    const bool atLo = test(value.lo), atHi = test(value.hi);  // monotonic in x
    if (atLo && atHi) return Truth::True;
    if (!atLo && !atHi) return Truth::False;
    return Truth::Unknown;
  }

  Truth match(const Value& body, const NftRule& rule) const {
    const std::string_view op = body.stringAt("op");
    const Value* left = body.find("left");
    const Value* right = body.find("right");
    if (left == nullptr || right == nullptr) return Truth::Unknown;
    const Abstract value = abstractOf(*left);
    if (value.kind == Abstract::Kind::Absent) return Truth::False;  // the implicit protocol test fails
    if (op == "in") {
      if (const Value* set = right->find("set");
          set != nullptr || (right->isString() && right->asString().starts_with("@")))
        return equalsAny(value, constantsOf(*right, rule));
      return anyFlag(value, *right);
    }
    if (op == "==" || op == "!=") {
      Truth result;
      if (right->isArray()) {
        result = anyFlag(value, *right);  // a flag list compared as a whole: treat as a test
      } else {
        result = equalsAny(value, constantsOf(*right, rule));
      }
      return op == "==" ? result : negated(result);
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") return compareOrder(op, value, *right);
    return Truth::Unknown;
  }

  const NftRuleset& ruleset_;
  const DataConnectionPacket& packet_;
  const RuleTexts& texts_;
};

}  // namespace

AdmissionResult evaluateForward(const NftRuleset& ruleset, const DataConnectionPacket& packet,
                                const RuleTexts& texts) {
  std::vector<const NftChain*> bases;
  const std::string_view family = packet.family == PacketFamily::V4 ? "ip" : "ip6";
  for (const NftChain& chain : ruleset.chains) {
    if (!chain.hook || *chain.hook != "forward" || chain.type != "filter") continue;
    if (chain.name.family != family && chain.name.family != "inet") continue;
    bases.push_back(&chain);
  }
  std::stable_sort(bases.begin(), bases.end(),
                   [](const NftChain* a, const NftChain* b) { return a->priority < b->priority; });
  AdmissionResult result;
  result.baseChains = bases.size();
  Evaluator evaluator(ruleset, packet, texts);
  bool surelyReached = true;
  std::vector<std::string> acceptedBy;
  std::string mayDrop;
  NftName mayDropChain;
  for (const NftChain* chain : bases) {
    const auto outcome = evaluator.chain(*chain, 0);
    const bool accepts = outcome.set & Evaluator::kAccept;
    const bool drops = outcome.set & Evaluator::kDrop;
    if (drops && !accepts && surelyReached) {
      result.admission = Admission::Dropped;
      result.decidedBy = {outcome.droppedBy};
      result.chain = chain->name;
      return result;
    }
    if (drops && mayDrop.empty()) {
      mayDrop = outcome.droppedBy;
      mayDropChain = chain->name;
    }
    if (accepts) acceptedBy.push_back(outcome.acceptedBy);
    if (drops) surelyReached = false;
  }
  if (!mayDrop.empty()) {
    result.admission = Admission::Uncertain;
    result.decidedBy = {mayDrop};
    result.chain = mayDropChain;
    return result;
  }
  result.admission = Admission::Accepted;
  result.decidedBy = std::move(acceptedBy);
  return result;
}

}  // namespace ftpalg::firewall
