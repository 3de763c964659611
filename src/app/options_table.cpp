// The option table (see options_table.hpp). Each row is built by one of the builders below from
// the accessor of its AppConfig field (FIELD): the builder supplies how values are parsed
// (options_values.hpp), stored and printed back.
#include "options_table.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <limits>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "firewall/ct_marks.hpp"

namespace ftpalg::app::cli {

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

namespace {

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
  add(flag("kernel-seqadj", Group::Replay, kReplay,
           "model the conntrack-owned mode: control flows are kernel-owned and a model of conntrack's "
           "one-correction-point sequence adjustment, fed by the engine's adjustments, shifts the output's "
           "sequence numbers",
           true, FIELD(replay.kernelSeqAdjust)));
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
  add(flag("syslog", Group::Log, kRun,
           "also send each decision, at its level, to syslog (facility daemon), and the daemon's own "
           "messages unless standard error is already the journal",
           true, FIELD(run.syslog)));

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

}  // namespace

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

}  // namespace ftpalg::app::cli
