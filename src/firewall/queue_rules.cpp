// Queue rules as text: see queue_rules.hpp for the rules and the replace-in-one-transaction
// contract.
#include "queue_rules.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <tuple>
#include <utility>

#include "queue_bpf.hpp"

namespace ftpalg::firewall {

namespace {

// Byte range [lo, hi] of the last address byte that queue `index` of `count` serves.
std::pair<unsigned, unsigned> shareOf(unsigned index, unsigned count) {
  const unsigned lo = 256 * index / count;
  const unsigned hi = 256 * (index + 1) / count - 1;
  return {lo, hi};
}

// One queue rule: direction `toServer`, control port `port`, queue number queueNum + `index`.
Argv queueRule(const QueueRuleSpec& spec, bool toServer, IpFamily family, std::uint16_t port,
               unsigned index) {
  Argv rule{"-p", "tcp", toServer ? "--dport" : "--sport", std::to_string(port)};
  if (spec.queueCount > 1) {
    // Offset of the last 32-bit word of the server's address in the IP header: the destination
    // address for client->server packets, the source address for server->client ones.
    const bool v6 = family == IpFamily::V6;
    const std::string word = toServer ? (v6 ? "36" : "16") : (v6 ? "20" : "12");
    const auto [lo, hi] = shareOf(index, spec.queueCount);
    rule.insert(rule.end(),
                {"-m", "u32", "--u32", word + "&0xFF=" + std::to_string(lo) + ":" + std::to_string(hi)});
  }
  if (spec.layout == QueueLayout::ConntrackOwned) {
    const std::string mark = iptablesMarkText(spec.controlMark);
    rule.insert(rule.end(),
                {"-m", "conntrack", "!", "--ctstate", "INVALID", "--ctdir", toServer ? "ORIGINAL" : "REPLY",
                 "-m", "connmark", "--mark", mark + "/" + mark, "-m", "bpf", "--bytecode",
                 std::string(family == IpFamily::V6 ? kQueueBpfV6 : kQueueBpfV4)});
  }
  rule.insert(rule.end(), {"-j", "NFQUEUE", "--queue-num", std::to_string(spec.queueNum + index)});
  if (spec.bypass) rule.push_back("--queue-bypass");
  return rule;
}

// --- reading iptables-save ---------------------------------------------------------------------

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// Splits a rule line the way iptables-restore does: on blanks, with "double quoted" tokens in
// which a backslash escapes the next character (iptables-save quotes strings that way).
Argv tokens(std::string_view line) {
  Argv out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::string token;
    if (line[i] == '"') {
      ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        token += line[i++];
      }
      ++i;  // the closing quote
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') token += line[i++];
    }
    out.push_back(std::move(token));
  }
  return out;
}

// The inverse, for iptables-restore input: tokens with blanks, quotes or backslashes quoted.
std::string restoreText(const Argv& args) {
  std::string text;
  for (const auto& arg : args) {
    if (!text.empty()) text += ' ';
    if (!arg.empty() && arg.find_first_of(" \t\"\\'") == std::string::npos) {
      text += arg;
      continue;
    }
    text += '"';
    for (const char c : arg) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
  }
  return text;
}

// The chain a rule jumps or goes to, or "".
std::string_view targetOf(const Argv& spec) {
  for (std::size_t i = 0; i + 1 < spec.size(); ++i) {
    if (spec[i] == "-j" || spec[i] == "-g" || spec[i] == "--jump" || spec[i] == "--goto") return spec[i + 1];
  }
  return {};
}

std::vector<const IptablesRule*> jumpsTo(const IptablesTable& table, std::string_view chain) {
  std::vector<const IptablesRule*> jumps;
  for (const auto& rule : table.rules) {
    if (targetOf(rule.spec) == chain) jumps.push_back(&rule);
  }
  return jumps;
}

bool declares(const IptablesTable& table, std::string_view chain) {
  return std::find(table.chains.begin(), table.chains.end(), chain) != table.chains.end();
}

// Unsigned number, decimal or 0x-hexadecimal (iptables-save prints u32 values in hex).
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

// The meaning of one queue rule, however iptables spells it: ftpalg writes
// `-p tcp --dport 21 -m u32 --u32 16&0xFF=0:127 -j NFQUEUE --queue-num 2`, iptables-save lists
// `-p tcp -m tcp --dport 21 -m u32 --u32 "0x10&0xff=0x0:0x7f" -j NFQUEUE --queue-num 2`; the
// conntrack-owned rules add `-m conntrack ! --ctstate INVALID --ctdir ORIGINAL -m connmark
// --mark 0x20000/0x20000 -m bpf --bytecode "..."`, listed as written.
struct QueueRuleMeaning {
  bool toServer = false;
  std::uint32_t port = 0;
  bool hasShare = false;
  std::uint32_t shareOffset = 0, shareMask = 0, shareLo = 0, shareHi = 0;
  bool notInvalid = false;  // ! --ctstate INVALID
  std::string ctdir;        // ORIGINAL, REPLY or "" (any)
  bool hasConnmark = false;
  std::uint32_t connmarkValue = 0, connmarkMask = 0;
  std::string bytecode;  // "" without -m bpf
  std::uint32_t queue = 0;
  bool bypass = false;
  auto key() const {
    return std::tie(toServer, port, hasShare, shareOffset, shareMask, shareLo, shareHi, notInvalid, ctdir,
                    hasConnmark, connmarkValue, connmarkMask, bytecode, queue, bypass);
  }
  bool operator==(const QueueRuleMeaning& other) const { return key() == other.key(); }
};

// nullopt: not a rule of this shape (anything else in ftpalg's chain is unexpected).
std::optional<QueueRuleMeaning> meaningOf(const Argv& spec) {
  QueueRuleMeaning meaning;
  bool tcp = false, port = false, nfqueue = false, negate = false;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const std::string& option = spec[i];
    const bool hasValue = i + 1 < spec.size();
    if (option == "--queue-bypass") {
      meaning.bypass = true;
      continue;
    }
    if (option == "!") {  // negates the next match option: only `! --ctstate INVALID` is ours
      if (negate) return std::nullopt;
      negate = true;
      continue;
    }
    if (!hasValue) return std::nullopt;
    const std::string& value = spec[++i];
    const bool negated = std::exchange(negate, false);
    if (negated && option != "--ctstate") return std::nullopt;
    if (option == "-p") {
      tcp = value == "tcp";
      if (!tcp) return std::nullopt;
    } else if (option == "-m") {
      if (value != "tcp" && value != "u32" && value != "conntrack" && value != "connmark" && value != "bpf")
        return std::nullopt;
    } else if (option == "--dport" || option == "--sport") {
      const auto parsed = number(value);
      if (!parsed || port) return std::nullopt;
      meaning.toServer = option == "--dport";
      meaning.port = *parsed;
      port = true;
    } else if (option == "--u32") {
      // OFFSET&MASK=LO[:HI]
      const auto amp = value.find('&');
      const auto eq = value.find('=');
      if (amp == std::string::npos || eq == std::string::npos || eq < amp || meaning.hasShare)
        return std::nullopt;
      const std::string_view text(value);
      const auto colon = value.find(':', eq);
      const auto offset = number(text.substr(0, amp));
      const auto mask = number(text.substr(amp + 1, eq - amp - 1));
      const auto lo =
          number(text.substr(eq + 1, colon == std::string::npos ? std::string_view::npos : colon - eq - 1));
      const auto hi = colon == std::string::npos ? lo : number(text.substr(colon + 1));
      if (!offset || !mask || !lo || !hi) return std::nullopt;
      meaning.hasShare = true;
      meaning.shareOffset = *offset;
      meaning.shareMask = *mask;
      meaning.shareLo = *lo;
      meaning.shareHi = *hi;
    } else if (option == "--ctstate") {
      if (!negated || value != "INVALID" || meaning.notInvalid) return std::nullopt;
      meaning.notInvalid = true;
    } else if (option == "--ctdir") {
      if ((value != "ORIGINAL" && value != "REPLY") || !meaning.ctdir.empty()) return std::nullopt;
      meaning.ctdir = value;
    } else if (option == "--mark") {
      // VALUE/MASK
      const auto slash = value.find('/');
      if (slash == std::string::npos || meaning.hasConnmark) return std::nullopt;
      const std::string_view text(value);
      const auto markValue = number(text.substr(0, slash));
      const auto markMask = number(text.substr(slash + 1));
      if (!markValue || !markMask) return std::nullopt;
      meaning.hasConnmark = true;
      meaning.connmarkValue = *markValue;
      meaning.connmarkMask = *markMask;
    } else if (option == "--bytecode") {
      if (!meaning.bytecode.empty()) return std::nullopt;
      meaning.bytecode = value;
    } else if (option == "-j") {
      nfqueue = value == "NFQUEUE";
      if (!nfqueue) return std::nullopt;
    } else if (option == "--queue-num") {
      const auto parsed = number(value);
      if (!parsed) return std::nullopt;
      meaning.queue = *parsed;
    } else {
      return std::nullopt;
    }
  }
  if (!tcp || !port || !nfqueue || negate) return std::nullopt;
  return meaning;
}

std::string ruleText(std::string_view chain, const Argv& spec) {
  return "-A " + std::string(chain) + " " + restoreText(spec);
}

}  // namespace

unsigned queueIndexOfServer(std::uint8_t lastAddressByte, unsigned queueCount) {
  for (unsigned index = 0; index + 1 < queueCount; ++index) {
    if (lastAddressByte <= shareOf(index, queueCount).second) return index;
  }
  return queueCount == 0 ? 0 : queueCount - 1;
}

std::vector<QueuePoint> queuePoints(QueueLayout layout) {
  if (layout == QueueLayout::ConntrackOwned) return {kConntrackOwnedPoint};
  return {std::begin(kQueuePoints), std::end(kQueuePoints)};
}

namespace {

// The rules of `point` for one control port and queue: one per direction it queues.
std::vector<Argv> pointRules(const QueueRuleSpec& spec, const QueuePoint& point, IpFamily family,
                             std::uint16_t port, unsigned index) {
  std::vector<Argv> rules;
  if (point.directions != QueuedDirections::ServerToClient)
    rules.push_back(queueRule(spec, true, family, port, index));
  if (point.directions != QueuedDirections::ClientToServer)
    rules.push_back(queueRule(spec, false, family, port, index));
  return rules;
}

}  // namespace

std::vector<Argv> queueChainRules(const QueueRuleSpec& spec, const QueuePoint& point, IpFamily family) {
  std::vector<Argv> rules;
  for (const std::uint16_t port : spec.controlPorts) {
    for (unsigned i = 0; i < spec.queueCount; ++i) {
      for (Argv& rule : pointRules(spec, point, family, port, i)) rules.push_back(std::move(rule));
    }
  }
  return rules;
}

std::vector<Argv> iptablesInstallCommands(const QueueRuleSpec& spec, IpFamily family) {
  const std::vector<QueuePoint> points = queuePoints(spec.layout);
  std::vector<Argv> commands;
  for (const QueuePoint& point : points) {
    commands.push_back({"-t", std::string(point.table), "-N", std::string(point.chain)});
  }
  for (const std::uint16_t port : spec.controlPorts) {
    for (unsigned i = 0; i < spec.queueCount; ++i) {
      for (const QueuePoint& point : points) {
        for (const Argv& rule : pointRules(spec, point, family, port, i)) {
          Argv command{"-t", std::string(point.table), "-A", std::string(point.chain)};
          command.insert(command.end(), rule.begin(), rule.end());
          commands.push_back(std::move(command));
        }
      }
    }
  }
  for (const QueuePoint& point : points) {
    commands.push_back(
        {"-t", std::string(point.table), "-I", std::string(point.hook), "1", "-j", std::string(point.chain)});
  }
  return commands;
}

const IptablesTable* IptablesListing::find(std::string_view table) const {
  for (const auto& candidate : tables) {
    if (candidate.name == table) return &candidate;
  }
  return nullptr;
}

IptablesListing parseIptablesSave(std::string_view text) {
  IptablesListing listing;
  IptablesTable* table = nullptr;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = trimmed(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '*') {
      listing.tables.push_back(IptablesTable{std::string(line.substr(1)), {}, {}});
      table = &listing.tables.back();
    } else if (!table) {
      continue;
    } else if (line.front() == ':') {
      const auto space = line.find(' ');
      table->chains.emplace_back(
          line.substr(1, space == std::string_view::npos ? std::string_view::npos : space - 1));
    } else if (line.rfind("-A ", 0) == 0) {
      Argv parts = tokens(line.substr(3));
      if (parts.empty()) continue;
      IptablesRule rule;
      rule.chain = std::move(parts.front());
      rule.spec.assign(std::make_move_iterator(parts.begin() + 1), std::make_move_iterator(parts.end()));
      table->rules.push_back(std::move(rule));
    } else if (line == "COMMIT") {
      table = nullptr;
    }
  }
  return listing;
}

namespace {

bool isActive(const QueuePoint& point, const std::vector<QueuePoint>& active) {
  return std::any_of(active.begin(), active.end(),
                     [&](const QueuePoint& other) { return other.chain == point.chain; });
}

// The tables of `points`, each once, in order of first appearance.
std::vector<std::string_view> tablesOf(const std::vector<QueuePoint>& points) {
  std::vector<std::string_view> tables;
  for (const QueuePoint& point : points) {
    if (std::find(tables.begin(), tables.end(), point.table) == tables.end()) tables.push_back(point.table);
  }
  return tables;
}

// Lines that remove `point`'s chain as `table` lists it (its jumps, then the chain), or "".
std::string removalLines(const IptablesTable& table, const QueuePoint& point) {
  std::ostringstream out;
  for (const IptablesRule* jump : jumpsTo(table, point.chain))
    out << "-D " << jump->chain << ' ' << restoreText(jump->spec) << '\n';
  if (declares(table, point.chain)) out << ':' << point.chain << " - [0:0]\n-X " << point.chain << '\n';
  return out.str();
}

}  // namespace

std::string iptablesInstallRestoreInput(const QueueRuleSpec& spec, IpFamily family,
                                        const IptablesListing& current) {
  const std::vector<QueuePoint> active = queuePoints(spec.layout);
  std::vector<QueuePoint> ordered = active;  // the active points first, then the stale ones
  for (const QueuePoint& point : kAllQueuePoints) {
    if (!isActive(point, active)) ordered.push_back(point);
  }
  std::ostringstream out;
  for (const std::string_view tableName : tablesOf(ordered)) {
    const IptablesTable* table = current.find(tableName);
    std::ostringstream block;
    for (const QueuePoint& point : ordered) {
      if (point.table != tableName) continue;
      const std::string chain(point.chain);
      if (!isActive(point, active)) {
        if (table) block << removalLines(*table, point);
        continue;
      }
      block << ':' << chain << " - [0:0]\n";
      if (table) {
        for (const IptablesRule* jump : jumpsTo(*table, chain)) {
          block << "-D " << jump->chain << ' ' << restoreText(jump->spec) << '\n';
        }
      }
      for (const Argv& rule : queueChainRules(spec, point, family)) block << ruleText(chain, rule) << '\n';
      block << "-I " << point.hook << " 1 -j " << chain << '\n';
    }
    if (!block.str().empty()) out << '*' << tableName << '\n' << block.str() << "COMMIT\n";
  }
  return out.str();
}

std::string iptablesRemoveRestoreInput(const IptablesListing& current) {
  const std::vector<QueuePoint> all(std::begin(kAllQueuePoints), std::end(kAllQueuePoints));
  std::ostringstream out;
  for (const std::string_view tableName : tablesOf(all)) {
    const IptablesTable* table = current.find(tableName);
    if (!table) continue;
    std::string lines;
    for (const QueuePoint& point : all) {
      if (point.table == tableName) lines += removalLines(*table, point);
    }
    if (!lines.empty()) out << '*' << tableName << '\n' << lines << "COMMIT\n";
  }
  return out.str();
}

std::vector<std::string> iptablesQueueRuleProblems(const IptablesListing& listed, const QueueRuleSpec& spec,
                                                   IpFamily family) {
  std::vector<std::string> problems;
  const std::vector<QueuePoint> active = queuePoints(spec.layout);
  for (const QueuePoint& point : active) {
    const std::string where = "table " + std::string(point.table);
    const IptablesTable* table = listed.find(point.table);
    if (!table) {
      problems.push_back(where + " is not listed");
      continue;
    }
    if (!declares(*table, point.chain))
      problems.push_back(where + " has no chain " + std::string(point.chain));

    const auto jumps = jumpsTo(*table, point.chain);
    const Argv plainJump{"-j", std::string(point.chain)};
    const bool onePlainJump =
        jumps.size() == 1 && jumps[0]->chain == point.hook && jumps[0]->spec == plainJump;
    if (!onePlainJump) {
      std::string problem = where + ": " + std::to_string(jumps.size()) + " jump(s) to " +
                            std::string(point.chain) + ", expected exactly `-A " + std::string(point.hook) +
                            " -j " + std::string(point.chain) + "`";
      for (const IptablesRule* jump : jumps)
        problem += "; listed `" + ruleText(jump->chain, jump->spec) + "`";
      problems.push_back(std::move(problem));
    }

    // Each listed rule answers at most one expected rule; what is left over on either side is
    // reported with its text.
    std::vector<std::pair<QueueRuleMeaning, const IptablesRule*>> listedRules;
    for (const IptablesRule& rule : table->rules) {
      if (rule.chain != point.chain) continue;
      if (const auto meaning = meaningOf(rule.spec)) {
        listedRules.emplace_back(*meaning, &rule);
      } else {
        problems.push_back(where + ": unexpected rule `" + ruleText(rule.chain, rule.spec) + "`");
      }
    }
    for (const Argv& rule : queueChainRules(spec, point, family)) {
      const auto meaning = meaningOf(rule);  // always parses: queueRule() writes only that shape
      const auto at =
          !meaning ? listedRules.end()
                   : std::find_if(listedRules.begin(), listedRules.end(),
                                  [&](const auto& listedRule) { return listedRule.first == *meaning; });
      if (at != listedRules.end()) {
        listedRules.erase(at);
      } else {
        problems.push_back(where + ": missing `" + ruleText(point.chain, rule) + "`");
      }
    }
    for (const auto& [meaning, rule] : listedRules) {
      problems.push_back(where + ": unexpected rule `" + ruleText(rule->chain, rule->spec) + "`");
    }
  }
  // The other layout's chains: a stale copy the install did not replace.
  for (const QueuePoint& point : kAllQueuePoints) {
    if (isActive(point, active)) continue;
    const IptablesTable* table = listed.find(point.table);
    if (table && (declares(*table, point.chain) || !jumpsTo(*table, point.chain).empty())) {
      problems.push_back("table " + std::string(point.table) + " still has chain " +
                         std::string(point.chain) + " of the other queue layout");
    }
  }
  return problems;
}

// --- nft -----------------------------------------------------------------------------------------

std::string nftQueueTableScript(const QueueRuleSpec& spec) {
  std::string ports;
  if (spec.controlPorts.size() == 1) {
    ports = std::to_string(spec.controlPorts.front());
  } else {
    ports = "{ ";
    for (std::size_t i = 0; i < spec.controlPorts.size(); ++i) {
      if (i) ports += ", ";
      ports += std::to_string(spec.controlPorts[i]);
    }
    ports += " }";
  }
  // One queue: `queue flags bypass num N`. Several: the queue is chosen by a hash of the
  // SERVER's real address, which both queue points see (c2s: daddr after DNAT; s2c: saddr before
  // conntrack), so both directions of a flow reach the same engine. (The kernel's own
  // `queue num A-B` balancing hashes both addresses, which differ between the views under NAT.)
  auto target = [&](std::string_view family, std::string_view field) {
    std::string text = "queue";
    if (spec.bypass) text += " flags bypass";
    if (spec.queueCount <= 1) {
      text += " num " + std::to_string(spec.queueNum);
    } else {
      text += " to jhash " + std::string(family) + " " + std::string(field) + " mod " +
              std::to_string(spec.queueCount) + " offset " + std::to_string(spec.queueNum);
    }
    return text;
  };
  std::ostringstream out;
  out << "table inet " << spec.queueTable << " {\n"
      << "  # client->server control packets, after conntrack and DNAT (mangle FORWARD)\n"
      << "  chain c2s_queue { type filter hook forward priority mangle; policy accept;\n"
      << "    meta nfproto ipv4 tcp dport " << ports << " " << target("ip", "daddr") << "\n"
      << "    meta nfproto ipv6 tcp dport " << ports << " " << target("ip6", "daddr") << "\n"
      << "  }\n"
      << "  # server->client control packets, before conntrack (raw PREROUTING)\n"
      << "  chain s2c_queue { type filter hook prerouting priority raw; policy accept;\n"
      << "    meta nfproto ipv4 tcp sport " << ports << " " << target("ip", "saddr") << "\n"
      << "    meta nfproto ipv6 tcp sport " << ports << " " << target("ip6", "saddr") << "\n"
      << "  }\n"
      << "}\n";
  return out.str();
}

std::string nftQueueInstallScript(const QueueRuleSpec& spec) {
  const std::string& table = spec.queueTable;
  return "add table inet " + table + "\ndelete table inet " + table + "\n" + nftQueueTableScript(spec);
}

std::string nftQueueRemoveScript(const QueueRuleSpec& spec) {
  return "delete table inet " + spec.queueTable + "\n";
}

std::vector<std::string> nftQueueTableProblems(std::string_view listing, const QueueRuleSpec& spec) {
  // The listing's statement syntax varies between nft versions (`queue num 0 bypass`,
  // `queue flags bypass to 0`), so the check counts, per chain, the rules that match the port
  // in the chain's direction and queue: one per address family.
  std::vector<std::string> problems;
  if (listing.find("table inet " + spec.queueTable + " {") == std::string_view::npos) {
    problems.push_back("table inet " + spec.queueTable + " is not listed");
    return problems;
  }
  struct Chain {
    std::string_view name, hook, portMatch;
  };
  for (const Chain& chain : {Chain{"c2s_queue", "hook forward", "tcp dport"},
                             Chain{"s2c_queue", "hook prerouting", "tcp sport"}}) {
    const std::string header = "chain " + std::string(chain.name) + " {";
    const auto at = listing.find(header);
    if (at == std::string_view::npos) {
      problems.push_back("table inet " + spec.queueTable + " has no chain " + std::string(chain.name));
      continue;
    }
    // The chain's body: up to the first line that is only "}".
    std::string_view body = listing.substr(at + header.size());
    bool hooked = false;
    int queueRules = 0;
    std::size_t start = 0;
    while (start < body.size()) {
      auto end = body.find('\n', start);
      if (end == std::string_view::npos) end = body.size();
      const std::string_view line = trimmed(body.substr(start, end - start));
      start = end + 1;
      if (line == "}") break;
      if (line.find(chain.hook) != std::string_view::npos) hooked = true;
      if (line.find(chain.portMatch) != std::string_view::npos &&
          line.find("queue") != std::string_view::npos) {
        ++queueRules;
      }
    }
    if (!hooked)
      problems.push_back("chain " + std::string(chain.name) + " is not at " + std::string(chain.hook));
    if (queueRules != 2) {
      problems.push_back("chain " + std::string(chain.name) + " has " + std::to_string(queueRules) +
                         " queue rule(s), expected 2 (IPv4 and IPv6)");
    }
  }
  return problems;
}

}  // namespace ftpalg::firewall
