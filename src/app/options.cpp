// Command-line and config-file parsing (see options.hpp).
//
// Every option is one row of optionTable(): its name, the commands it belongs to, how a value is
// validated and stored into AppConfig, and how the stored field is printed back. The help text,
// the Boost.Program_options description of the command line, the config-file reader and
// --print-config are all generated from that table. No default is written in this file: the help
// shows what printing a default-constructed AppConfig gives, i.e. the default member initializers
// in app_config.hpp and include/ftpalg/engine/policy.hpp.
//
// Boost.Program_options only splits the command line into option names and raw strings; the
// config file is read by readConfigFile(). Every value is validated here, by hand, so that each
// error names the option (and for a file, the file and line), quotes the value and says what is
// wrong with it.
#include "options.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "exit_code.hpp"
#include "firewall/ct_marks.hpp"

#ifndef FTPALG_VERSION
#define FTPALG_VERSION "unknown"
#endif

namespace ftpalg::app {

namespace po = boost::program_options;

namespace {

// Internal: the first validation error, turned into Err by parseCommandLine.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- values and where they came from ----------------------------------------------------------

// The command line (empty file) or one line of the --config file.
struct Origin {
  std::string file;
  std::size_t line = 0;
};

// How errors name an option: "--queue" on the command line, "FILE:LINE: queue" in a file.
std::string optionAt(const Origin& origin, std::string_view option) {
  if (origin.file.empty()) return "--" + std::string(option);
  return origin.file + ":" + std::to_string(origin.line) + ": " + std::string(option);
}

// How a message mentions another option in the same place: "--queue" or "queue".
std::string spelled(const Origin& origin, std::string_view option) {
  return (origin.file.empty() ? "--" : "") + std::string(option);
}

// One value of one option, as written.
struct Value {
  std::string_view option;  // the table's name
  std::string text;
  Origin origin;
};

// The values each given option has in one source (or, after merging, the values stored), by name.
using Given = std::map<std::string_view, std::vector<Value>>;

[[noreturn]] void fail(const Value& value, std::string_view reason) {
  throw UsageError(optionAt(value.origin, value.option) + ": \"" + value.text + "\": " + std::string(reason));
}

// ---- value parsers --------------------------------------------------------------------------

// Strict decimal: digits only (no sign, no spaces, no hex), within [min, max].
std::uint64_t parseNumber(const Value& value, std::uint64_t min, std::uint64_t max) {
  const std::string& text = value.text;
  if (text.empty()) fail(value, "empty value; expected a number");
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    fail(value, "not a decimal number");
  }
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || number < min || number > max) {
    fail(value, "out of range " + std::to_string(min) + "-" + std::to_string(max));
  }
  return number;
}

// A switch's value in a config file: the words Boost.Program_options accepts, in any case; an
// empty value means true.
bool parseBool(const Value& value) {
  std::string word = value.text;
  std::transform(word.begin(), word.end(), word.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  if (word.empty() || word == "true" || word == "yes" || word == "on" || word == "1") return true;
  if (word == "false" || word == "no" || word == "off" || word == "0") return false;
  fail(value, "expected true or false (or yes/no, on/off, 1/0)");
}

template <typename Enum>
using Choices = std::vector<std::pair<std::string_view, Enum>>;

template <typename Enum>
Enum parseChoice(const Value& value, const Choices<Enum>& choices) {
  std::string names;
  for (const auto& [name, choice] : choices) {
    if (value.text == name) return choice;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  fail(value, "expected one of: " + names);
}

IpAddress parseAddress(const Value& value, std::string_view address) {
  const auto parsed = IpAddress::parse(address);
  if (!parsed) fail(value, "\"" + std::string(address) + "\" is not an IPv4 or IPv6 address");
  return *parsed;
}

IpPrefix parsePrefix(const Value& value, std::string_view prefixText) {
  const std::size_t slash = prefixText.find('/');
  const IpAddress network = parseAddress(value, prefixText.substr(0, slash));
  const unsigned maxLength = network.isV4() ? 32 : 128;
  if (slash != std::string_view::npos) {
    const std::string_view lengthText = prefixText.substr(slash + 1);
    unsigned length = 0;
    const auto [end, error] =
        std::from_chars(lengthText.data(), lengthText.data() + lengthText.size(), length);
    if (lengthText.empty() || error == std::errc::invalid_argument ||
        end != lengthText.data() + lengthText.size()) {
      fail(value, "prefix length \"" + std::string(lengthText) + "\" is not a number");
    }
    if (error == std::errc::result_out_of_range || length > maxLength) {
      fail(value,
           "prefix length " + std::string(lengthText) + " is out of range 0-" + std::to_string(maxLength));
    }
  }
  const auto prefix = IpPrefix::parse(prefixText);
  if (!prefix) fail(value, "\"" + std::string(prefixText) + "\" is not a prefix (ADDRESS/LENGTH)");
  return *prefix;
}

SnatRule parseSnat(const Value& value) {
  const std::string_view text = value.text;
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos)
    fail(value, "expected CIDR=ADDRESS, e.g. 192.168.77.0/24=203.0.113.1");
  SnatRule rule;
  rule.inside = parsePrefix(value, text.substr(0, equals));
  rule.outside = parseAddress(value, text.substr(equals + 1));
  if (rule.inside.network.family() != rule.outside.family()) {
    fail(value, "the prefix and the address are of different IP versions");
  }
  if (rule.outside.isUnspecified()) fail(value, "the outside address is unspecified");
  return rule;
}

Endpoint parseEndpoint(const Value& value, std::string_view endpointText) {
  const auto endpoint = Endpoint::parse(endpointText);
  if (!endpoint) {
    fail(value,
         "\"" + std::string(endpointText) + "\" is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT, port 1-65535)");
  }
  if (endpoint->port == 0) fail(value, "port 0 in \"" + std::string(endpointText) + "\"");
  return *endpoint;
}

DnatRule parseDnat(const Value& value) {
  const std::string_view text = value.text;
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    fail(value, "expected ADDRESS:PORT=ADDRESS:PORT, e.g. 203.0.113.1:21=192.168.78.10:21");
  }
  DnatRule rule;
  rule.outside = parseEndpoint(value, text.substr(0, equals));
  rule.inside = parseEndpoint(value, text.substr(equals + 1));
  if (rule.outside.address.family() != rule.inside.address.family()) {
    fail(value, "the two endpoints are of different IP versions");
  }
  return rule;
}

// ---- the option table -----------------------------------------------------------------------

// The help's sections, in the order they are shown.
enum class Group : std::uint8_t { General, Replay, Queues, ControlPorts, Rules, Run, Log, Policy, Limits };
constexpr Group kGroups[] = {Group::General, Group::Replay, Group::Queues, Group::ControlPorts, Group::Rules,
                             Group::Run,     Group::Log,    Group::Policy, Group::Limits};

std::string groupTitle(Group group) {
  switch (group) {
    case Group::General: return "General";
    case Group::Replay: return "Replay";
    case Group::Queues: return "Queues";
    case Group::ControlPorts: return "FTP control connections";
    case Group::Rules: return "Rules";
    case Group::Run: return "Live gateway";
    case Group::Log: return "Decision log";
    case Group::Policy: return "Policy";
    case Group::Limits: return "Limits";
  }
  return "?";
}

// The commands an option belongs to: a mask of commandBit()s.
constexpr unsigned commandBit(Command command) { return 1u << static_cast<unsigned>(command); }
constexpr unsigned kReplay = commandBit(Command::Replay);
constexpr unsigned kRun = commandBit(Command::Run);
constexpr unsigned kRules = commandBit(Command::Rules);
constexpr unsigned kEngine = kReplay | kRun;  // the commands that run the engine
constexpr unsigned kAll = kReplay | kRun | kRules;

enum class Arity : std::uint8_t {
  Switch,    // no value on the command line ("--dry-run"); true or false in a config file
  Single,    // one value per source
  Repeated,  // any number; the values of one source replace the default list
};

struct Option {
  std::string_view name;
  char shortName = 0;
  Group group = Group::General;
  unsigned commands = kAll;
  Arity arity = Arity::Single;
  std::string valueName;  // what the help shows after the name: "N", "FILE", "nft|none"
  std::string help;       // what it does; the help appends whether it repeats, the range, the default
  std::string range;      // accepted numbers, "1-4096"; empty for other kinds
  // Options that set the same field share a setting (fail-open, fail-closed): a command-line value
  // for any of them replaces the config file's, and two of them in one source must agree.
  // Empty: the option's own name.
  std::string_view setting;
  bool commandLineOnly = false;  // --help, --config, --print-config
  // Validates the values of one source (exactly one unless Repeated) and stores the result.
  std::function<void(AppConfig&, std::span<const Value>)> store;
  // The config-file values that reproduce the stored field; none leaves the option out.
  std::function<std::vector<std::string>(const AppConfig&)> print;

  std::string_view settingName() const { return setting.empty() ? name : setting; }
  bool appliesTo(Command command) const { return (commands & commandBit(command)) != 0; }
};

// A row's identity and help; the builders below add how values are stored and printed.
Option row(std::string_view name, Group group, unsigned commands, Arity arity, std::string valueName,
           std::string help) {
  Option option;
  option.name = name;
  option.group = group;
  option.commands = commands;
  option.arity = arity;
  option.valueName = std::move(valueName);
  option.help = std::move(help);
  return option;
}

std::string rangeText(std::uint64_t min, std::uint64_t max) {
  return std::to_string(min) + "-" + std::to_string(max);
}

// A field as a decimal count: integers as they are, durations in their own unit.
template <typename T>
struct Counted {
  using Count = T;
  static Count count(T value) { return value; }
  static T make(std::uint64_t number) { return static_cast<T>(number); }
};
template <typename Rep, typename Period>
struct Counted<std::chrono::duration<Rep, Period>> {
  using Count = Rep;
  static Count count(std::chrono::duration<Rep, Period> value) { return value.count(); }
  static std::chrono::duration<Rep, Period> make(std::uint64_t number) {
    return std::chrono::duration<Rep, Period>(static_cast<Rep>(number));
  }
};

// In the builders below, `field` is a generic lambda (see FIELD) returning a reference to one
// AppConfig member, usable on a const or a mutable AppConfig.
template <typename Field>
using FieldType = std::remove_cvref_t<decltype(std::declval<Field>()(std::declval<AppConfig&>()))>;

template <typename Field>
Option number(std::string_view name, Group group, unsigned commands, std::string valueName, std::uint64_t min,
              std::uint64_t max, std::string help, Field field) {
  using Count = typename Counted<FieldType<Field>>::Count;
  if (max > static_cast<std::uint64_t>(std::numeric_limits<Count>::max())) {
    throw std::logic_error("option " + std::string(name) + ": range exceeds its field");
  }
  Option option = row(name, group, commands, Arity::Single, std::move(valueName), std::move(help));
  option.range = rangeText(min, max);
  option.store = [min, max, field](AppConfig& config, std::span<const Value> values) {
    field(config) = Counted<FieldType<Field>>::make(parseNumber(values.front(), min, max));
  };
  option.print = [field](const AppConfig& config) {
    return std::vector<std::string>{std::to_string(Counted<FieldType<Field>>::count(field(config)))};
  };
  return option;
}

template <typename Enum, typename Field>
Option choice(std::string_view name, Group group, unsigned commands, Choices<Enum> choices, std::string help,
              Field field) {
  std::string names;
  for (const auto& entry : choices) names += (names.empty() ? "" : "|") + std::string(entry.first);
  Option option = row(name, group, commands, Arity::Single, names, std::move(help));
  option.store = [choices, field](AppConfig& config, std::span<const Value> values) {
    field(config) = parseChoice(values.front(), choices);
  };
  option.print = [choices, field](const AppConfig& config) {
    for (const auto& [choiceName, value] : choices) {
      if (value == field(config)) return std::vector<std::string>{std::string(choiceName)};
    }
    throw std::logic_error("option: a stored value without a name");
  };
  return option;
}

std::vector<std::string> printed(const std::string& text) {
  return text.empty() ? std::vector<std::string>{} : std::vector<std::string>{text};
}
std::vector<std::string> printed(const std::optional<std::string>& text) {
  return text ? std::vector<std::string>{*text} : std::vector<std::string>{};
}

// A string (path, account name); never empty.
template <typename Field>
Option text(std::string_view name, Group group, unsigned commands, std::string valueName, std::string help,
            std::string emptyReason, Field field) {
  Option option = row(name, group, commands, Arity::Single, std::move(valueName), std::move(help));
  option.store = [emptyReason, field](AppConfig& config, std::span<const Value> values) {
    if (values.front().text.empty()) fail(values.front(), emptyReason);
    field(config) = values.front().text;
  };
  option.print = [field](const AppConfig& config) { return printed(field(config)); };
  return option;
}

// A switch stores `meaning` into its bool field when given (a config file may also say false).
template <typename Field>
Option flag(std::string_view name, Group group, unsigned commands, std::string help, bool meaning,
            Field field) {
  Option option = row(name, group, commands, Arity::Switch, "", std::move(help));
  option.store = [meaning, field](AppConfig& config, std::span<const Value> values) {
    field(config) = parseBool(values.front()) ? meaning : !meaning;
  };
  option.print = [meaning, field](const AppConfig& config) {
    return std::vector<std::string>{field(config) == meaning ? "true" : "false"};
  };
  return option;
}

// One of the switches that set one bool either way (--fail-open | --fail-closed): printed only
// when it holds, so --print-config names the choice once.
template <typename Field>
Option alternative(std::string_view setting, std::string_view name, Group group, unsigned commands,
                   std::string help, bool meaning, Field field) {
  Option option = flag(name, group, commands, std::move(help), meaning, field);
  option.setting = setting;
  option.print = [meaning, field](const AppConfig& config) {
    return field(config) == meaning ? std::vector<std::string>{"true"} : std::vector<std::string>{};
  };
  return option;
}

constexpr std::uint64_t kPortMin = 1;
constexpr std::uint64_t kPortMax = 65535;

Option controlPortOption() {
  Option option = row("control-port", Group::ControlPorts, kAll, Arity::Repeated, "PORT",
                      "TCP port of FTP control connections");
  option.range = rangeText(kPortMin, kPortMax);
  option.store = [](AppConfig& config, std::span<const Value> values) {
    config.controlPorts.clear();
    for (const Value& value : values) {
      const auto port = static_cast<std::uint16_t>(parseNumber(value, kPortMin, kPortMax));
      if (std::find(config.controlPorts.begin(), config.controlPorts.end(), port) ==
          config.controlPorts.end()) {
        config.controlPorts.push_back(port);
      }
    }
  };
  option.print = [](const AppConfig& config) {
    std::vector<std::string> ports;
    for (const std::uint16_t port : config.controlPorts) ports.push_back(std::to_string(port));
    return ports;
  };
  return option;
}

// A ct mark bit: one bit of 32, written 0x00020000 (hexadecimal) or 131072; printed as nft does.
template <typename Field>
Option markBit(std::string_view name, unsigned commands, std::string help, Field field) {
  Option option = row(name, Group::Run, commands, Arity::Single, "BIT", std::move(help));
  option.store = [field](AppConfig& config, std::span<const Value> values) {
    const Value& value = values.front();
    std::string_view text = value.text;
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
      text.remove_prefix(2);
      base = 16;
    }
    std::uint32_t mark = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mark, base);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
      fail(value, "not a number (hexadecimal 0x00020000 or decimal)");
    }
    if (std::popcount(mark) != 1) fail(value, "not a single bit, e.g. 0x00020000");
    field(config) = mark;
  };
  option.print = [field](const AppConfig& config) {
    return std::vector<std::string>{firewall::nftMarkText(field(config))};
  };
  return option;
}

// What a NAT rule is matched by (a second rule with the same could never apply), and its text.
const IpPrefix& matchedBy(const SnatRule& rule) { return rule.inside; }
const Endpoint& matchedBy(const DnatRule& rule) { return rule.outside; }
std::string ruleText(const SnatRule& rule) { return rule.inside.toString() + "=" + rule.outside.toString(); }
std::string ruleText(const DnatRule& rule) { return rule.outside.toString() + "=" + rule.inside.toString(); }

// --snat, --dnat: repeatable; one rule per match.
template <typename Rule, typename Field>
Option natRules(std::string_view name, std::string valueName, std::string help, Rule (*parse)(const Value&),
                Field field) {
  Option option = row(name, Group::Replay, kReplay, Arity::Repeated, std::move(valueName), std::move(help));
  option.store = [parse, field](AppConfig& config, std::span<const Value> values) {
    std::vector<Rule>& rules = field(config);
    rules.clear();
    for (const Value& value : values) {
      const Rule rule = parse(value);
      for (const Rule& earlier : rules) {
        if (matchedBy(earlier) == matchedBy(rule))
          fail(value, "a second rule for " + matchedBy(rule).toString());
      }
      rules.push_back(rule);
    }
  };
  option.print = [field](const AppConfig& config) {
    std::vector<std::string> texts;
    for (const Rule& rule : field(config)) texts.push_back(ruleText(rule));
    return texts;
  };
  return option;
}

// The accessor of one AppConfig member, e.g. FIELD(engine.limits.maxHeldPackets).
#define FIELD(member) \
  [](auto& config) -> auto& { return config.member; }

std::vector<Option> buildTable() {
  std::vector<Option> table;
  const auto add = [&table](Option option) { table.push_back(std::move(option)); };

  // General: command line only.
  Option helpOption = row("help", Group::General, kAll, Arity::Switch, "", "show this help and exit");
  helpOption.shortName = 'h';
  helpOption.commandLineOnly = true;
  add(std::move(helpOption));
  Option configOption =
      text("config", Group::General, kAll, "FILE",
           "read options from FILE: one \"name = value\" per line (the long option names without \"--\"; a "
           "repeatable option once per value), \"#\" starts a comment. A setting given on the command line "
           "replaces the file's. Refused when writable by group or others",
           "empty path", FIELD(configFile));
  configOption.commandLineOnly = true;
  add(std::move(configOption));
  Option printConfigOption =
      flag("print-config", Group::General, kAll,
           "print the effective configuration in --config format and exit", true, FIELD(printConfig));
  printConfigOption.commandLineOnly = true;
  add(std::move(printConfigOption));

  // The rows below print, in this order, as --print-config.
  add(text(
      "in", Group::Replay, kReplay, "FILE",
      "capture to replay: pcap or pcapng; Ethernet (VLAN), Linux cooked v1/v2 or raw IP; \"-\" is standard "
      "input (required)",
      "empty path", FIELD(replay.inputPath)));
  add(text("out", Group::Replay, kReplay, "FILE",
           "write every packet as the gateway would emit it (pcap, input link type and timestamps)",
           "empty path", FIELD(replay.outputPath)));
  add(natRules(
      "snat", "CIDR=ADDRESS",
      "clients in CIDR are masqueraded to ADDRESS, e.g. 192.168.77.0/24=203.0.113.1; one rule per prefix",
      parseSnat, FIELD(replay.snat)));
  add(natRules("dnat", "ADDR:PORT=ADDR:PORT",
               "connections to the first endpoint are forwarded to the second, e.g. "
               "203.0.113.1:21=192.168.78.10:21; IPv6 in brackets; one rule per outside endpoint",
               parseDnat, FIELD(replay.dnat)));

  add(number("queue", Group::Queues, kRun | kRules, "NUM", 0, 65535, "first NFQUEUE number",
             FIELD(run.queueNum)));
  add(number("queue-balance", Group::Queues, kRun | kRules, "N", 1, 64,
             "use N queues NUM..NUM+N-1, one engine each", FIELD(run.queueCount)));

  add(controlPortOption());

  add(choice<FirewallKind>("firewall", Group::Rules, kRules,
                           {{"nft", FirewallKind::Nft}, {"iptables", FirewallKind::Iptables}},
                           "print rules for this firewall", FIELD(rules.firewall)));

  add(choice<SequenceOwner>(
      "seq-owner", Group::Run, kRun, {{"kernel", SequenceOwner::Kernel}, {"engine", SequenceOwner::Engine}},
      "kernel: conntrack adjusts the sequence numbers after a rewrite and holds each session, so a "
      "restart keeps it (needs the kernel's sane helper for the anchor; without it the engine mode, with "
      "a warning); engine: ftpalg translates them itself",
      FIELD(run.seqOwner)));
  add(choice<PinholeBackendKind>(
      "pinhole-backend", Group::Run, kRun,
      {{"auto", PinholeBackendKind::Auto},
       {"nft", PinholeBackendKind::Nft},
       {"conntrack", PinholeBackendKind::Conntrack},
       {"none", PinholeBackendKind::None}},
      "conntrack: pinholes as conntrack expectations (needs --seq-owner kernel; no accept rule of "
      "ftpalg's); nft: pinholes in ftpalg's own nft table; none: log pinholes, install nothing; auto: "
      "conntrack with --seq-owner kernel, else nft",
      FIELD(run.pinholeBackend)));
  add(markBit("control-mark", kRun | kRules,
              "ct mark bit the anchor sets on every control connection (--seq-owner kernel)",
              FIELD(run.controlMark)));
  add(markBit("verified-mark", kRun | kRules,
              "ct mark bit ftpalg sets once it verified a connection's FTP dialog (--seq-owner kernel)",
              FIELD(run.verifiedMark)));
  add(flag("dry-run", Group::Run, kRun,
           "accept every packet unchanged and install no pinhole, but decide and log as live", true,
           FIELD(run.dryRun)));
  add(alternative("fail-mode", "fail-open", Group::Run, kRun,
                  "control traffic passes unhelped while ftpalg is down, through queue bypass", true,
                  FIELD(run.failOpen)));
  add(alternative("fail-mode", "fail-closed", Group::Run, kRun, "control traffic stops while ftpalg is down",
                  false, FIELD(run.failOpen)));
  add(text("user", Group::Run, kRun, "NAME", "drop privileges to this account after setup",
           "empty account name", FIELD(run.user)));
  add(flag("no-queue-rules", Group::Run, kRun,
           "do not install the NFQUEUE rules (the admin installs them, see `ftpalg rules`)", false,
           FIELD(run.installQueueRules)));

  add(text("log", Group::Log, kEngine, "FILE|-", "where decisions are logged; \"-\" is standard output",
           "empty path (use \"-\" for standard output)", FIELD(logPath)));
  add(choice<LogFormat>(
      "log-format", Group::Log, kEngine, {{"json", LogFormat::Json}, {"text", LogFormat::Text}},
      "JSON lines (docs/log-schema.md) or one human-readable line per decision", FIELD(logFormat)));

  add(choice<AntiBounceMode>(
      "anti-bounce", Group::Policy, kEngine,
      {{"strict", AntiBounceMode::Strict}, {"peer", AntiBounceMode::Peer}},
      "strict: refuse an announced address other than the announcing peer's; peer: ignore "
      "the announced address and use the peer's",
      FIELD(engine.policy.antiBounce)));
  add(number("data-port-floor", Group::Policy, kEngine, "PORT", kPortMin, kPortMax,
             "refuse announced data ports below this", FIELD(engine.policy.dataPortFloor)));
  add(number("pinhole-timeout", Group::Policy, kEngine, "SECONDS", 30, 300,
             "how long an unused pinhole stays open", FIELD(engine.policy.pinholeTimeout)));
  add(flag("accept-bare-lf", Group::Policy, kEngine, "a bare LF also ends an FTP line, not only CRLF", true,
           FIELD(engine.policy.acceptBareLf)));

  add(number("max-sessions", Group::Limits, kEngine, "N", 1, 10'000'000,
             "control connections tracked at once; beyond, new ones pass uninspected",
             FIELD(engine.limits.maxSessions)));
  add(number("max-pinholes", Group::Limits, kEngine, "N", 1, 10'000'000,
             "pending pinholes, all sessions together", FIELD(engine.limits.maxPinholes)));
  add(number("max-line-length", Group::Limits, kEngine, "BYTES", 64, 65536,
             "longest FTP line inspected; longer stops inspection of the flow",
             FIELD(engine.limits.maxLineLength)));
  add(number("max-multiline-reply", Group::Limits, kEngine, "BYTES", 512, 16 * 1024 * 1024,
             "largest multi-line reply; not below --max-line-length",
             FIELD(engine.limits.maxMultiLineReplyBytes)));
  add(number("max-out-of-order-bytes", Group::Limits, kEngine, "BYTES", 0, 1024 * 1024,
             "out-of-order bytes held per direction", FIELD(engine.limits.maxOutOfOrderBytes)));
  add(number("max-held-packets", Group::Limits, kEngine, "N", 1, 4096,
             "packets whose verdict waits for the rest of a line, per session",
             FIELD(engine.limits.maxHeldPackets)));
  add(number("max-held-bytes", Group::Limits, kEngine, "BYTES", 1500, 16 * 1024 * 1024,
             "bytes of such packets per session", FIELD(engine.limits.maxHeldBytes)));
  add(number("hold-timeout-ms", Group::Limits, kEngine, "MS", 1, 60'000,
             "longest wait for the rest of a line", FIELD(engine.limits.holdTimeout)));
  add(number("pinhole-rate", Group::Limits, kEngine, "N", 1, 100'000, "pinholes per second per session",
             FIELD(engine.limits.pinholesPerSecond)));
  add(number("pinhole-burst", Group::Limits, kEngine, "N", 1, 1'000'000, "pinhole burst per session",
             FIELD(engine.limits.pinholeBurst)));
  add(number("session-idle-timeout", Group::Limits, kEngine, "SECONDS", 10, 604'800,
             "forget a control connection silent this long", FIELD(engine.limits.sessionIdleTimeout)));
  add(number("closed-session-linger", Group::Limits, kEngine, "SECONDS", 0, 300,
             "keep a closed session for stragglers", FIELD(engine.limits.closedSessionLinger)));
  return table;
}

#undef FIELD

const std::vector<Option>& optionTable() {
  static const std::vector<Option> table = buildTable();
  return table;
}

const Option* findOption(std::string_view name) {
  for (const Option& option : optionTable()) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

// ---- help texts -------------------------------------------------------------------------------

std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : std::string(separator)) + part;
  return text;
}

// The option's help line: what it does, then "(repeatable, MIN-MAX, default VALUE)" as far as
// they apply. The default is what --print-config prints for a default-constructed AppConfig; a
// switch that is on by default says "default".
std::string helpLine(const Option& option) {
  std::vector<std::string> notes;
  if (option.arity == Arity::Repeated) notes.emplace_back("repeatable");
  if (!option.range.empty()) notes.push_back(option.range);
  if (!option.commandLineOnly && option.print) {
    const std::vector<std::string> defaults = option.print(AppConfig{});
    if (option.arity == Arity::Switch) {
      if (defaults == std::vector<std::string>{"true"}) notes.emplace_back("default");
    } else if (!defaults.empty()) {
      notes.push_back("default " + joined(defaults, " "));
    }
  }
  return notes.empty() ? option.help : option.help + " (" + joined(notes, ", ") + ")";
}

// The command line of `command`, described for Boost.Program_options (and its help output).
po::options_description describe(Command command) {
  po::options_description all;
  for (const Group group : kGroups) {
    po::options_description section(groupTitle(group));
    bool any = false;
    for (const Option& option : optionTable()) {
      if (option.group != group || !option.appliesTo(command)) continue;
      any = true;
      std::string name(option.name);
      if (option.shortName != 0) name += std::string(",") + option.shortName;
      const std::string help = helpLine(option);
      switch (option.arity) {
        case Arity::Switch:
          section.add_options()(name.c_str(),
                                po::value<bool>()->zero_tokens()->implicit_value(true)->value_name(""),
                                help.c_str());
          break;
        case Arity::Single:
          section.add_options()(name.c_str(), po::value<std::string>()->value_name(option.valueName),
                                help.c_str());
          break;
        case Arity::Repeated:
          section.add_options()(name.c_str(),
                                po::value<std::vector<std::string>>()->value_name(option.valueName),
                                help.c_str());
          break;
      }
    }
    if (any) all.add(section);
  }
  return all;
}

std::string globalHelp() {
  return "Usage: ftpalg COMMAND [options]\n"
         "       ftpalg --help | ftpalg COMMAND --help | ftpalg --version\n"
         "\n"
         "An FTP application-layer gateway for Linux NAT routers: rewrites PORT/EPRT and 227/229\n"
         "addresses across NAT and opens exactly one single-use pinhole per announcement.\n"
         "\n"
         "Commands:\n"
         "  replay   replay a capture through the engine: rewritten capture and decision log out\n"
         "  run      the live gateway (NFQUEUE, conntrack, nft pinholes; --dry-run to observe)\n"
         "  rules    print the firewall rules an admin adds, and the queue rules `run` installs\n"
         "\n" +
         exitStatusHelp();
}

std::string commandHelp(Command command) {
  std::ostringstream out;
  switch (command) {
    case Command::Replay:
      out << "Usage: ftpalg replay --in FILE [--out FILE] [--log FILE|-] [--log-format json|text]\n"
             "                     [--snat CIDR=ADDRESS]... [--dnat ADDR:PORT=ADDR:PORT]...\n"
             "                     [--control-port PORT]... [--config FILE] [policy and limit options]\n"
             "\n"
             "Replays a capture taken at one point of the router (e.g. its inside interface) through\n"
             "the engine, using each packet's timestamp as the clock. A packet to a control port is\n"
             "client->server, one from a control port server->client; --snat and --dnat say how the\n"
             "router translates the captured addresses. Other packets pass to --out unchanged.\n";
      break;
    case Command::Run:
      out << "Usage: ftpalg run [--config FILE] [--queue NUM] [--queue-balance N] [--control-port PORT]...\n"
             "                  [--seq-owner kernel|engine] [--pinhole-backend auto|nft|conntrack|none]\n"
             "                  [--pinhole-timeout SECONDS] [--dry-run]\n"
             "                  [--fail-open|--fail-closed] [--user NAME] [--log FILE|-]\n"
             "                  [--log-format json|text] [policy and limit options]\n"
             "\n"
             "Runs the live gateway: queues FTP control packets (NFQUEUE), rewrites announcements,\n"
             "installs pinholes before the verdict. SIGTERM/SIGINT: clean up and exit; SIGHUP: reopen\n"
             "the log; SIGUSR1: log the counters.\n";
      break;
    case Command::Rules:
      out << "Usage: ftpalg rules [--queue NUM] [--queue-balance N] [--control-port PORT]...\n"
             "                    [--firewall nft|iptables] [--control-mark BIT] [--verified-mark BIT]\n"
             "\n"
             "Prints, for both sequence owners, what to add to your own firewall (conntrack-owned:\n"
             "nothing of ftpalg's; engine-owned: accept connections carrying ftpalg's pinhole mark), and\n"
             "the queue rules and the nft table `ftpalg run` installs, for review.\n";
      break;
    case Command::Help:
    case Command::Version: return globalHelp();
  }
  out << "\n" << describe(command);
  return out.str();
}

std::string_view commandName(Command command) {
  switch (command) {
    case Command::Replay: return "replay";
    case Command::Run: return "run";
    case Command::Rules: return "rules";
    case Command::Help: return "help";
    case Command::Version: return "version";
  }
  return "?";
}

// ---- config file --------------------------------------------------------------------------

// Refuses files others could have written: options decide what the firewall admits.
void checkConfigFileSafety(const Value& path) {
  struct stat info {};
  if (::stat(path.text.c_str(), &info) != 0) fail(path, std::string("cannot read: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) fail(path, "not a regular file");
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    fail(path, std::string("writable by group or others (mode ") + mode + "); refusing it (chmod go-w)");
  }
  if (info.st_uid != 0 && info.st_uid != ::geteuid()) {
    fail(path, "owned by uid " + std::to_string(info.st_uid) + ", neither root nor the user running ftpalg");
  }
}

std::string_view trimmed(std::string_view text) {
  constexpr std::string_view blanks = " \t\r";
  const std::size_t first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

// A comment runs from a '#' at the start of the line or after a blank to the end of the line; a
// '#' inside a word (a path "/var/log/a#b") is kept.
std::string_view withoutComment(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return line.substr(0, i);
  }
  return line;
}

// The values the --config file gives the options of `command`. Format: one "name = value" per
// line, blanks around both ignored; blank lines and comments skipped; an option of another
// command is ignored; an unknown name, a command-line-only option, a line without '=' or a second
// value of an option that is not repeatable is an error naming the file and line.
Given readConfigFile(const Value& path, Command command) {
  checkConfigFileSafety(path);
  std::ifstream file(path.text);
  if (!file) fail(path, std::string("cannot read: ") + std::strerror(errno));
  Given values;
  std::string line;
  for (std::size_t number = 1; std::getline(file, line); ++number) {
    const Origin origin{path.text, number};
    const std::string_view content = trimmed(withoutComment(line));
    if (content.empty()) continue;
    const std::size_t equals = content.find('=');
    const std::string_view name = trimmed(content.substr(0, equals));
    if (equals == std::string_view::npos || name.empty()) {
      throw UsageError(path.text + ":" + std::to_string(number) + ": \"" + std::string(content) +
                       "\": expected \"name = value\"");
    }
    const Option* option = findOption(name);
    if (option == nullptr) {
      const bool dashed = name.starts_with("--") && findOption(name.substr(2)) != nullptr;
      throw UsageError(optionAt(origin, name) + ": unknown option" +
                       (dashed ? "; write the name without \"--\""
                               : " (see ftpalg " + std::string(commandName(command)) + " --help)"));
    }
    if (option->commandLineOnly)
      throw UsageError(optionAt(origin, name) + ": allowed on the command line only");
    if (!option->appliesTo(command)) continue;
    Value value{option->name, std::string(trimmed(content.substr(equals + 1))), origin};
    std::vector<Value>& earlier = values[option->name];
    if (!earlier.empty() && option->arity != Arity::Repeated) {
      fail(value,
           "a second value (the first is at line " + std::to_string(earlier.front().origin.line) + ")");
    }
    earlier.push_back(std::move(value));
  }
  if (file.bad()) fail(path, std::string("read error: ") + std::strerror(errno));
  return values;
}

// ---- building the AppConfig -----------------------------------------------------------------

Given commandLineValues(const po::variables_map& vm, Command command) {
  Given values;
  for (const Option& option : optionTable()) {
    if (!option.appliesTo(command) || vm.count(std::string(option.name)) == 0) continue;
    const po::variable_value& given = vm[std::string(option.name)];
    std::vector<Value>& target = values[option.name];
    switch (option.arity) {
      case Arity::Switch: target.push_back(Value{option.name, "true", {}}); break;
      case Arity::Single: target.push_back(Value{option.name, given.as<std::string>(), {}}); break;
      case Arity::Repeated:
        for (const std::string& text : given.as<std::vector<std::string>>()) {
          target.push_back(Value{option.name, text, {}});
        }
        break;
    }
  }
  return values;
}

// Stores every setting of `command`: from the command line if it gives any option of the setting,
// else from the config file. Returns the values stored, by option.
Given applySettings(Command command, const Given& commandLine, const Given& file, AppConfig& config) {
  Given stored;
  std::set<std::string_view> settingsDone;
  for (const Option& option : optionTable()) {
    if (option.commandLineOnly || !option.appliesTo(command)) continue;
    if (!settingsDone.insert(option.settingName()).second) continue;
    std::vector<const Option*> members;
    for (const Option& other : optionTable()) {
      if (!other.commandLineOnly && other.appliesTo(command) && other.settingName() == option.settingName()) {
        members.push_back(&other);
      }
    }
    const bool onCommandLine = std::any_of(members.begin(), members.end(), [&](const Option* member) {
      return commandLine.contains(member->name);
    });
    const Given& source = onCommandLine ? commandLine : file;
    std::optional<AppConfig> result;
    const Value* first = nullptr;
    for (const Option* member : members) {
      const auto found = source.find(member->name);
      if (found == source.end()) continue;
      AppConfig candidate = config;
      member->store(candidate, found->second);
      const Value& value = found->second.front();
      if (first != nullptr && candidate != *result) {
        if (value.origin.file.empty()) {
          throw UsageError("--" + std::string(first->option) + " and --" + std::string(value.option) +
                           " exclude each other");
        }
        const bool valueLater = value.origin.line > first->origin.line;  // named where the clash shows
        const Value& later = valueLater ? value : *first;
        const Value& earlier = valueLater ? *first : value;
        throw UsageError(optionAt(later.origin, later.option) + " and " + std::string(earlier.option) +
                         " (line " + std::to_string(earlier.origin.line) + ") exclude each other");
      }
      if (first == nullptr) {
        result = std::move(candidate);
        first = &value;
      }
      stored[member->name] = found->second;
    }
    if (result) config = std::move(*result);
  }
  return stored;
}

const Value* storedValue(const Given& stored, std::string_view option) {
  const auto found = stored.find(option);
  return found == stored.end() ? nullptr : &found->second.front();
}

// Constraints between options, checked once every value is stored. Each error names the option
// whose value breaks it, where it was given.
void checkCombinations(const AppConfig& config, const Given& stored) {
  if (config.command == Command::Replay || config.command == Command::Run) {
    const Limits& limits = config.engine.limits;
    if (limits.maxMultiLineReplyBytes < limits.maxLineLength) {
      if (const Value* reply = storedValue(stored, "max-multiline-reply")) {
        fail(*reply, "smaller than " + spelled(reply->origin, "max-line-length") + " " +
                         std::to_string(limits.maxLineLength));
      }
      if (const Value* line = storedValue(stored, "max-line-length")) {
        fail(*line, "larger than " + spelled(line->origin, "max-multiline-reply") + " " +
                        std::to_string(limits.maxMultiLineReplyBytes));
      }
      throw std::logic_error("the default Limits have maxMultiLineReplyBytes < maxLineLength");
    }
  }
  if (config.command == Command::Run || config.command == Command::Rules) {
    if (const auto problem = firewall::markBitsProblem(config.run.controlMark, config.run.verifiedMark)) {
      const Value* blamed = storedValue(stored, "verified-mark");
      if (blamed == nullptr) blamed = storedValue(stored, "control-mark");
      if (blamed == nullptr) throw std::logic_error("the default mark bits clash: " + *problem);
      fail(*blamed, *problem);
    }
  }
  if (config.command == Command::Run && config.run.pinholeBackend == PinholeBackendKind::Conntrack &&
      config.run.seqOwner == SequenceOwner::Engine) {
    const Value* blamed = storedValue(stored, "pinhole-backend");
    if (blamed == nullptr) throw std::logic_error("conntrack pinholes by default in the engine-owned mode");
    fail(*blamed,
         "needs --seq-owner kernel (a conntrack expectation needs the anchor's helper on its control "
         "connection)");
  }
  if (config.command == Command::Run || config.command == Command::Rules) {
    const unsigned last = config.run.queueNum + config.run.queueCount - 1u;
    if (last > 65535) {
      const Value* blamed = storedValue(stored, "queue-balance");
      if (blamed == nullptr) blamed = storedValue(stored, "queue");
      if (blamed == nullptr) throw std::logic_error("the default queues go past 65535");
      fail(*blamed,
           "queues " + std::to_string(config.run.queueNum) + ".." + std::to_string(last) + " go past 65535");
    }
  }
  if (config.command == Command::Replay) {
    const Value* in = storedValue(stored, "in");
    if (in == nullptr)
      throw UsageError("--in: missing; replay needs a capture (--in FILE, \"-\" for standard input)");
    const Value* out = storedValue(stored, "out");
    if (out != nullptr && out->text != "-" && out->text == in->text) fail(*out, "the same file as --in");
    if (out != nullptr && out->text == "-" && config.logPath == "-") {
      fail(*out, "the decision log goes to standard output too; give --log a file");
    }
    if (in->text == "-" && config.configFile == std::optional<std::string>("-")) {
      fail(*in, "standard input is already the config file");
    }
  }
}

Command commandNamed(std::string_view name) {
  if (name == "replay") return Command::Replay;
  if (name == "run") return Command::Run;
  if (name == "rules") return Command::Rules;
  throw UsageError("unknown command \"" + std::string(name) +
                   "\"; expected replay, run or rules (see ftpalg --help)");
}

AppConfig parse(int argc, const char* const argv[]) {
  AppConfig config;
  if (argc < 2) throw UsageError("no command given; expected replay, run or rules (see ftpalg --help)");
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    config.command = Command::Help;
    config.helpText = globalHelp();
    return config;
  }
  if (first == "--version" || first == "-V") {
    config.command = Command::Version;
    return config;
  }
  config.command = commandNamed(first);

  po::variables_map vm;
  try {
    const po::positional_options_description noPositionals;
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argc - 1, argv + 1)
                  .options(describe(config.command))
                  .positional(noPositionals)
                  .style(style)
                  .run(),
              vm);
  } catch (const po::too_many_positional_options_error&) {
    throw UsageError(std::string("unexpected argument after \"") + argv[1] +
                     "\"; options start with \"--\" (see ftpalg " + argv[1] + " --help)");
  } catch (const po::unknown_option& error) {
    throw UsageError(std::string(error.what()) + " for ftpalg " + argv[1] + " (see ftpalg " + argv[1] +
                     " --help)");
  } catch (const po::error& error) {
    throw UsageError(error.what());
  }
  if (vm.count("help") != 0) {
    config.command = Command::Help;
    config.helpText = commandHelp(commandNamed(first));
    return config;
  }

  const Given commandLine = commandLineValues(vm, config.command);
  for (const Option& option : optionTable()) {
    const auto found = commandLine.find(option.name);
    if (option.commandLineOnly && option.store && found != commandLine.end())
      option.store(config, found->second);
  }
  Given file;
  if (config.configFile) {
    file = readConfigFile(commandLine.at("config").front(), config.command);
    // Every value in the file is validated, also one the command line overrides.
    AppConfig fileAlone = config;
    applySettings(config.command, Given{}, file, fileAlone);
  }
  const Given stored = applySettings(config.command, commandLine, file, config);
  checkCombinations(config, stored);
  return config;
}

}  // namespace

Result<AppConfig> parseCommandLine(int argc, const char* const argv[]) {
  try {
    return parse(argc, argv);
  } catch (const UsageError& error) {
    return Err{std::string(error.what())};
  }
}

std::string versionText() {
  return std::string("ftpalg ") + FTPALG_VERSION + "\nFTP application-layer gateway for Linux NAT routers\n";
}

std::string formatConfig(const AppConfig& config) {
  std::ostringstream out;
  out << "# ftpalg " << commandName(config.command) << ": effective configuration"
      << (config.configFile ? " (with " + *config.configFile + ")" : std::string()) << '\n';
  for (const Option& option : optionTable()) {
    if (option.commandLineOnly || !option.appliesTo(config.command)) continue;
    for (const std::string& value : option.print(config)) out << option.name << " = " << value << '\n';
  }
  return out.str();
}

}  // namespace ftpalg::app
