// See stated_decisions.hpp.
#include "stated_decisions.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>

namespace ftpalg::golden {

namespace {

// Keys each stated event must name (pcap-fixtures/generators/decisions.py, REQUIRED_KEYS); "flow"
// may be added.
const std::map<std::string, std::vector<std::string>>& requiredKeys() {
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"rewrite", {"dir", "verb", "before", "after"}},
      {"pinhole", {"from", "to", "nat_to"}},
      {"pinhole_close", {"from", "to", "reason"}},
      {"reject", {"dir", "verb", "reason", "line"}},
      {"anomaly", {"dir", "reason", "inspection_stopped"}},
      {"opaque", {"reason"}},
      {"session_close", {"reason"}},
  };
  return keys;
}

bool isDecision(const FlatObject& object) {
  const std::string event = textOf(object, "event");
  return event != "session_open" && event != "stats";
}

bool isUnsignedNumber(const JsonValue& value) {
  return !value.isString && !value.text.empty() &&
         std::all_of(value.text.begin(), value.text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

JsonValue str(std::string text) { return JsonValue{std::move(text), true}; }

// ---- loading --------------------------------------------------------------------------------

std::optional<std::string> validateRule(const FlatObject& rule) {
  static const std::set<std::string> allowed = {"rule", "dir",    "verb",    "count", "from",
                                                "to",   "nat_to", "replace", "with"};
  for (const auto& [key, value] : rule) {
    if (allowed.count(key) == 0) return "unknown key \"" + key + "\"";
  }
  if (textOf(rule, "rule") != "each_announcement") return "unknown rule \"" + textOf(rule, "rule") + "\"";
  const std::string dir = textOf(rule, "dir");
  if (dir != "c2s" && dir != "s2c") return "\"dir\" must be \"c2s\" or \"s2c\"";
  const std::string verb = textOf(rule, "verb");
  if (verb != "PORT" && verb != "EPRT" && verb != "227" && verb != "229") {
    return "\"verb\" must be PORT, EPRT, 227 or 229";
  }
  if (rule.count("count") == 0 || !isUnsignedNumber(rule.at("count"))) return "\"count\" must be a number";
  for (const char* key : {"from", "to"}) {
    if (rule.count(key) == 0 || !rule.at(key).isString)
      return std::string("\"") + key + "\" must be a string";
  }
  if (rule.count("nat_to") == 0 || (!rule.at("nat_to").isString && rule.at("nat_to").text != "null")) {
    return "\"nat_to\" must be an address or null";
  }
  if (rule.count("replace") != rule.count("with")) return "\"replace\" and \"with\" go together";
  return std::nullopt;
}

std::optional<std::string> validateEvent(const FlatObject& event) {
  const std::string name = textOf(event, "event");
  if (name == "stats") {
    if (event.size() < 2) return "stats names no counter";
    for (const auto& [key, value] : event) {
      if (key != "event" && !isUnsignedNumber(value)) return "stats counter \"" + key + "\" is not a number";
    }
    return std::nullopt;
  }
  const auto required = requiredKeys().find(name);
  if (required == requiredKeys().end()) return "unknown decision event \"" + name + "\"";
  for (const std::string& key : required->second) {
    if (event.count(key) == 0) return name + " states no \"" + key + "\"";
  }
  for (const auto& [key, value] : event) {
    if (key != "event" && key != "flow" &&
        std::find(required->second.begin(), required->second.end(), key) == required->second.end()) {
      return name + " has an unknown key \"" + key + "\"";
    }
  }
  return std::nullopt;
}

// ---- rules ----------------------------------------------------------------------------------

bool startsWithVerb(const std::string& line, const std::string& verb) {
  if (line.size() <= verb.size()) return false;
  for (std::size_t i = 0; i < verb.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(line[i])) != verb[i]) return false;
  }
  const char next = line[verb.size()];
  return next == ' ' || (next == '-' && std::isdigit(static_cast<unsigned char>(verb[0])));
}

// The data port a well-formed announcement names (see the header), or nullopt.
std::optional<unsigned> announcedPort(const std::string& line, const std::string& verb) {
  std::vector<unsigned> numbers;
  for (std::size_t i = verb.size(); i < line.size();) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) {
      ++i;
      continue;
    }
    unsigned value = 0;
    const auto [end, error] = std::from_chars(line.data() + i, line.data() + line.size(), value);
    if (error != std::errc()) return std::nullopt;
    numbers.push_back(value);
    i = static_cast<std::size_t>(end - line.data());
  }
  if (verb == "PORT" || verb == "227") {
    if (numbers.size() < 6) return std::nullopt;
    const unsigned high = numbers[numbers.size() - 2];
    const unsigned low = numbers.back();
    if (high > 255 || low > 255) return std::nullopt;
    return high * 256 + low;
  }
  if (numbers.empty() || numbers.back() > 65535) return std::nullopt;
  return numbers.back();
}

std::string endpointText(const std::string& address, unsigned port) {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
         std::to_string(port);
}

using PerConnection = std::map<DirectionKey, std::vector<FlatObject>>;

PerConnection expandRule(const FlatObject& rule, const CaptureContents& input,
                         std::vector<std::string>& problems) {
  PerConnection expected;
  const std::string verb = textOf(rule, "verb");
  const bool clientAnnounces = textOf(rule, "dir") == "c2s";
  const std::string from = textOf(rule, "from");
  const std::string to = textOf(rule, "to");
  const JsonValue natTo = rule.at("nat_to");
  const bool rewrites = rule.count("replace") != 0;
  const std::string replace = textOf(rule, "replace");
  const std::string with = textOf(rule, "with");
  std::size_t announcements = 0;

  for (const DirectionKey& connection : input.connections()) {
    const DirectionKey reverse{connection.second, connection.first};
    const StreamAssembler& c2s = input.controlStreams.at(connection);
    const auto s2cIt = input.controlStreams.find(reverse);
    const StreamAssembler* s2c = s2cIt == input.controlStreams.end() ? nullptr : &s2cIt->second;
    const StreamAssembler* announcer = clientAnnounces ? &c2s : s2c;
    std::vector<FlatObject>& events = expected[connection];
    std::optional<std::string> open;  // the connection's current pinhole ("to")
    for (const std::string& line : announcer ? streamLines(announcer->text()) : std::vector<std::string>{}) {
      if (!startsWithVerb(line, verb)) continue;
      ++announcements;
      const auto port = announcedPort(line, verb);
      if (!port) {
        problems.push_back("rule: the input's announcement \"" + line + "\" names no port");
        continue;
      }
      if (rewrites) {
        const std::size_t at = line.find(replace);
        if (at == std::string::npos) {
          problems.push_back("rule: the input's announcement \"" + line + "\" does not contain \"" + replace +
                             "\"");
          continue;
        }
        std::string after = line;
        after.replace(at, replace.size(), with);
        events.push_back({{"event", str("rewrite")},
                          {"dir", str(textOf(rule, "dir"))},
                          {"verb", str(verb)},
                          {"before", str(line)},
                          {"after", str(after)}});
      }
      const std::string target = endpointText(to, *port);
      if (open) {
        events.push_back({{"event", str("pinhole_close")},
                          {"from", str(from)},
                          {"to", str(*open)},
                          {"reason", str("replaced")}});
      }
      events.push_back({{"event", str("pinhole")},
                        {"from", str(from)},
                        {"to", str(target)},
                        {"nat_to", natTo.isString ? str(endpointText(natTo.text, *port)) : natTo}});
      open = target;
    }
    if (open) {
      events.push_back({{"event", str("pinhole_close")},
                        {"from", str(from)},
                        {"to", str(*open)},
                        {"reason", str("session_closed")}});
    }
    const bool reset = c2s.sawRst() || (s2c != nullptr && s2c->sawRst());
    const bool finished = c2s.sawFin() && s2c != nullptr && s2c->sawFin();
    events.push_back({{"event", str("session_close")},
                      {"reason", str(reset      ? "rst"
                                     : finished ? "fin"
                                                : "shutdown")}});
  }
  const std::string count = textOf(rule, "count");
  if (std::to_string(announcements) != count) {
    problems.push_back("rule: the input holds " + std::to_string(announcements) + " " + verb +
                       " announcements, the statement says " + count);
  }
  return expected;
}

// ---- comparing ------------------------------------------------------------------------------

bool matches(const FlatObject& statement, const FlatObject& logged) {
  for (const auto& [key, value] : statement) {
    const auto it = logged.find(key);
    if (it == logged.end() || !(it->second == value)) return false;
  }
  return true;
}

std::string listOf(const std::vector<FlatObject>& events) {
  std::string out;
  for (const FlatObject& event : events) out += "\n    " + describeObject(event);
  return out.empty() ? "\n    (none)" : out;
}

void compareSequence(const std::string& where, const std::vector<FlatObject>& stated,
                     const std::vector<FlatObject>& logged, std::vector<std::string>& problems) {
  const std::size_t common = std::min(stated.size(), logged.size());
  std::size_t first = 0;
  while (first < common && matches(stated[first], logged[first])) ++first;
  if (first == common && stated.size() == logged.size()) return;
  std::string problem =
      where + ": the decisions differ from the statement at decision " + std::to_string(first + 1);
  problem += first < stated.size() ? "\n  stated: " + describeObject(stated[first]) : "\n  stated: (no more)";
  problem += first < logged.size() ? "\n  logged: " + describeObject(logged[first]) : "\n  logged: (no more)";
  problem += "\n  all stated (" + std::to_string(stated.size()) + "):" + listOf(stated);
  problem += "\n  all logged (" + std::to_string(logged.size()) + "):" + listOf(logged);
  problems.push_back(problem);
}

}  // namespace

std::optional<StatedDecisions> loadStatedDecisions(const fs::path& caseDir,
                                                   std::vector<std::string>& problems) {
  const fs::path path = caseDir / "decisions.jsonl";
  if (!fs::is_regular_file(path)) {
    problems.push_back(path.string() +
                       " is missing: state the case's decisions (pcap-fixtures/generators/decisions.py, "
                       "or scripts/capture-fixtures.sh for a real capture) and run scripts/make-fixtures.sh");
    return std::nullopt;
  }
  StatedDecisions stated;
  const std::size_t before = problems.size();
  std::size_t number = 0;
  for (const std::string& line : readLines(path)) {
    ++number;
    if (line.empty()) continue;
    const std::string where = path.string() + ":" + std::to_string(number) + ": ";
    const auto object = parseFlatJson(line);
    if (!object) {
      problems.push_back(where + "not a flat JSON object");
      continue;
    }
    if (object->count("rule") != 0) {
      if (const auto error = validateRule(*object)) {
        problems.push_back(where + *error);
      } else if (stated.rule) {
        problems.push_back(where + "a second rule");
      } else {
        stated.rule = *object;
      }
      continue;
    }
    if (const auto error = validateEvent(*object)) {
      problems.push_back(where + *error);
    } else if (textOf(*object, "event") == "stats") {
      if (stated.stats) problems.push_back(where + "a second stats statement");
      stated.stats = *object;
    } else {
      stated.events.push_back(*object);
    }
  }
  if (stated.rule && (!stated.events.empty() || stated.stats)) {
    problems.push_back(path.string() + ": a rule stands alone (no events or stats beside it)");
  }
  if (!stated.rule && stated.events.empty()) {
    problems.push_back(path.string() + ": states no decision (a session's close is one)");
  }
  if (problems.size() != before) return std::nullopt;
  return stated;
}

std::vector<std::string> checkDecisions(const StatedDecisions& stated,
                                        const std::vector<std::string>& logLines,
                                        const CaptureContents& input, const LogCheck& options) {
  std::vector<std::string> problems;
  std::vector<FlatObject> decisions;
  std::optional<FlatObject> statsLine;
  for (const std::string& line : logLines) {
    const auto object = parseFlatJson(line);
    if (!object) {
      problems.push_back("log line is not a flat JSON object: " + line);
      continue;
    }
    if (textOf(*object, "event") == "stats") {
      statsLine = *object;
    } else if (isDecision(*object)) {
      decisions.push_back(*object);
    }
  }

  if (stated.rule) {
    const PerConnection expected = expandRule(*stated.rule, input, problems);
    PerConnection logged;
    for (const FlatObject& decision : decisions) {
      const auto flow = parseFlow(textOf(decision, "flow"));
      if (!flow) {
        problems.push_back("decision without a valid flow: " + describeObject(decision));
        continue;
      }
      logged[{flow->client, flow->server}].push_back(decision);
    }
    for (const auto& [connection, events] : expected) {
      const auto it = logged.find(connection);
      compareSequence("flow " + connection.first.toString() + "-" + connection.second.toString(), events,
                      it == logged.end() ? std::vector<FlatObject>{} : it->second, problems);
    }
    for (const auto& [connection, events] : logged) {
      if (expected.count(connection) == 0) {
        problems.push_back("decisions for a flow that is no control connection of the input: " +
                           connection.first.toString() + "-" + connection.second.toString() + listOf(events));
      }
    }
  } else {
    compareSequence("the log", stated.events, decisions, problems);
  }

  if (stated.stats) {
    if (!statsLine) {
      if (options.statsLineRequired)
        problems.push_back("the log has no stats line; the statement pins counters");
    } else {
      for (const auto& [key, value] : *stated.stats) {
        if (key == "event") continue;
        const auto it = statsLine->find(key);
        if (it == statsLine->end()) {
          problems.push_back("the stats line has no counter \"" + key + "\"");
        } else if (!(it->second == value)) {
          problems.push_back("stats counter \"" + key + "\": stated " + value.text + ", logged " +
                             it->second.text);
        }
      }
    }
  }
  return problems;
}

}  // namespace ftpalg::golden
