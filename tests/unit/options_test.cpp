// Options (src/app/options.cpp): the command line and the --config file -> AppConfig.
//
// - --print-config output read back through --config gives the same AppConfig, for a config that
//   sets every option of each command to a value other than its default;
// - the defaults the help shows, parsed out of the help text here, equal the default member
//   initializers of AppConfig, RunConfig, RulesConfig, Policy and Limits;
// - every bad value is reported with the option, the value and the reason, and for the config
//   file also with the file and line;
// - a setting on the command line replaces the file's; NAT rules must not repeat their match.
#include "app/options.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ftpalg::app {
namespace {

namespace fs = std::filesystem;

Result<AppConfig> parseArgs(std::vector<std::string> args) {
  args.insert(args.begin(), "ftpalg");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return parseCommandLine(static_cast<int>(argv.size()), argv.data());
}

AppConfig parsed(const std::vector<std::string>& args) {
  const Result<AppConfig> result = parseArgs(args);
  if (!result) {
    ADD_FAILURE() << "refused: " << result.error();
    return AppConfig{};
  }
  return result.value();
}

std::string refusal(const std::vector<std::string>& args) {
  const Result<AppConfig> result = parseArgs(args);
  if (result) {
    ADD_FAILURE() << "accepted, expected an error";
    return {};
  }
  return result.error();
}

// A private directory for config files, removed afterwards.
class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ftpalg-options-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }
  // Writes `text` to a file only its owner may write (as --config requires) and returns its path.
  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = directory_ / name;
    std::ofstream(path, std::ios::binary) << text;
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    return path.string();
  }
  fs::path directory_;
};

// ---- --print-config -> --config ---------------------------------------------------------------

// "name = value" lines -> name -> values (comments skipped). The test's own reading of the format.
std::map<std::string, std::vector<std::string>> configLines(const std::string& text) {
  std::map<std::string, std::vector<std::string>> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t equals = line.find(" = ");
    EXPECT_NE(equals, std::string::npos) << line;
    if (equals == std::string::npos) continue;
    lines[line.substr(0, equals)].push_back(line.substr(equals + 3));
  }
  return lines;
}

struct RoundTrip {
  std::string command;
  std::vector<std::string> minimal;      // what the command needs besides defaults
  std::vector<std::string> everyOption;  // every option of the command, none at its default
};

// Every option of each command, set away from its default. --fail-open is the default spelling
// of the setting --fail-closed changes.
const RoundTrip kRoundTrips[] = {
    {"replay",
     {"--in", "minimal.pcap"},
     {"--in",
      "capture.pcap",
      "--out",
      "rewritten.pcap",
      "--kernel-seqadj",
      "--snat",
      "192.168.77.0/24=203.0.113.1",
      "--snat",
      "2001:db8:77::/48=2001:db8::1",
      "--dnat",
      "203.0.113.1:21=192.168.78.10:21",
      "--dnat",
      "[2001:db8::1]:2121=[2001:db8:78::10]:21",
      "--control-port",
      "2121",
      "--control-port",
      "990",
      "--log",
      "decisions.jsonl",
      "--log-format",
      "text",
      "--anti-bounce",
      "peer",
      "--data-port-floor",
      "2000",
      "--pinhole-timeout",
      "120",
      "--accept-bare-lf",
      "--max-sessions",
      "1000",
      "--max-pinholes",
      "500",
      "--max-line-length",
      "1024",
      "--max-multiline-reply",
      "4096",
      "--max-out-of-order-bytes",
      "0",
      "--max-held-packets",
      "7",
      "--max-held-bytes",
      "3000",
      "--hold-timeout-ms",
      "250",
      "--pinhole-rate",
      "3",
      "--pinhole-burst",
      "9",
      "--session-idle-timeout",
      "60",
      "--closed-session-linger",
      "0"}},
    {"run",
     {},
     {"--queue",
      "7",
      "--queue-balance",
      "3",
      "--control-port",
      "2121",
      "--seq-owner",
      "engine",
      "--pinhole-backend",
      "none",
      "--control-mark",
      "0x00100000",
      "--verified-mark",
      "0x00200000",
      "--dry-run",
      "--fail-closed",
      "--user",
      "nobody",
      "--no-queue-rules",
      "--syslog",
      "--log",
      "/var/log/ftpalg/d.jsonl",
      "--log-format",
      "text",
      "--anti-bounce",
      "peer",
      "--data-port-floor",
      "1500",
      "--pinhole-timeout",
      "300",
      "--accept-bare-lf",
      "--max-sessions",
      "10000000",
      "--max-pinholes",
      "1",
      "--max-line-length",
      "64",
      "--max-multiline-reply",
      "512",
      "--max-out-of-order-bytes",
      "1048576",
      "--max-held-packets",
      "4096",
      "--max-held-bytes",
      "1500",
      "--hold-timeout-ms",
      "60000",
      "--pinhole-rate",
      "100000",
      "--pinhole-burst",
      "1000000",
      "--session-idle-timeout",
      "604800",
      "--closed-session-linger",
      "300"}},
    {"rules",
     {},
     {"--queue", "65000", "--queue-balance", "64", "--control-port", "21", "--control-port", "2121",
      "--firewall", "iptables", "--control-mark", "0x80000000", "--verified-mark", "1"}},
};

// The option names a command's help lists, parsed from the help text.
std::set<std::string> optionsInHelp(const std::string& command);

TEST_F(ConfigFiles, PrintConfigReadBackThroughConfigGivesTheSameConfig) {
  for (const RoundTrip& trip : kRoundTrips) {
    SCOPED_TRACE(trip.command);
    std::vector<std::string> args{trip.command};
    args.insert(args.end(), trip.everyOption.begin(), trip.everyOption.end());
    const AppConfig original = parsed(args);
    const std::string printed = formatConfig(original);

    const std::string path = write(trip.command + ".conf", printed);
    AppConfig readBack = parsed({trip.command, "--config", path});
    EXPECT_EQ(readBack.configFile, std::optional<std::string>(path));
    readBack.configFile = original.configFile;
    EXPECT_TRUE(readBack == original) << "printed:\n" << printed << "read back:\n" << formatConfig(readBack);

    // Every option of the command was set, to a value other than its default.
    std::vector<std::string> defaultArgs{trip.command};
    defaultArgs.insert(defaultArgs.end(), trip.minimal.begin(), trip.minimal.end());
    const auto defaults = configLines(formatConfig(parsed(defaultArgs)));
    const auto chosen = configLines(printed);
    for (const std::string& option : optionsInHelp(trip.command)) {
      if (option == "help" || option == "config" || option == "print-config" || option == "fail-open")
        continue;
      EXPECT_NE(std::find(args.begin(), args.end(), "--" + option), args.end())
          << "--" << option << " not covered";
      const auto before = defaults.find(option);
      const auto after = chosen.find(option);
      ASSERT_NE(after, chosen.end()) << option << " not printed";
      if (before != defaults.end()) {
        EXPECT_NE(before->second, after->second) << option << " left at its default";
      }
    }
  }
}

TEST_F(ConfigFiles, PrintConfigOfTheDefaultsReadsBackToo) {
  for (const RoundTrip& trip : kRoundTrips) {
    SCOPED_TRACE(trip.command);
    std::vector<std::string> args{trip.command};
    args.insert(args.end(), trip.minimal.begin(), trip.minimal.end());
    const AppConfig original = parsed(args);
    AppConfig readBack =
        parsed({trip.command, "--config", write(trip.command + ".conf", formatConfig(original))});
    readBack.configFile = original.configFile;
    EXPECT_TRUE(readBack == original) << formatConfig(readBack);
  }
}

// ---- the help's defaults ----------------------------------------------------------------------

// One option of a help text: its description with Boost's line wrapping undone.
std::map<std::string, std::string> helpEntries(const std::string& command) {
  const AppConfig help = parsed({command, "--help"});
  EXPECT_EQ(help.command, Command::Help);
  static const std::regex optionLine(R"(^  (?:-\w \[ )?--([a-z-]+)(?: \])?(?: \S+)?\s+(.*)$)");
  std::map<std::string, std::string> entries;
  std::size_t optionLines = 0;
  std::string* current = nullptr;
  std::istringstream in(help.helpText);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("  -")) ++optionLines;
    std::smatch match;
    if (std::regex_match(line, match, optionLine)) {
      current = &entries[match[1]];
      *current = match[2];
    } else if (current != nullptr && line.starts_with("     ")) {
      *current += " " + line.substr(line.find_first_not_of(' '));
    } else {
      current = nullptr;
    }
  }
  EXPECT_EQ(entries.size(), optionLines) << "an option line of the help was not understood:\n"
                                         << help.helpText;
  static const std::regex blanks(" +");
  for (auto& entry : entries) entry.second = std::regex_replace(entry.second, blanks, " ");
  return entries;
}

std::set<std::string> optionsInHelp(const std::string& command) {
  std::set<std::string> names;
  for (const auto& entry : helpEntries(command)) names.insert(entry.first);
  return names;
}

// The default a help description states in its closing "(..., default X)": X; "on" for a bare
// "default" (a switch that is on by default); nullopt when it states none.
std::optional<std::string> statedDefault(const std::string& description) {
  if (description.empty() || description.back() != ')') return std::nullopt;
  const std::string notes = description.substr(description.rfind('(') + 1);
  std::istringstream parts(notes.substr(0, notes.size() - 1));
  std::string part;
  while (std::getline(parts, part, ',')) {
    part.erase(0, part.find_first_not_of(' '));
    if (part == "default") return "on";
    if (part.starts_with("default ")) return part.substr(8);
  }
  return std::nullopt;
}

// The defaults, spelled here from the structs. nullopt: the option has none to show.
std::map<std::string, std::optional<std::string>> expectedDefaults() {
  const AppConfig app{};
  const RunConfig run{};
  const RulesConfig rules{};
  const Policy policy{};
  const Limits limits{};
  const auto number = [](auto value) -> std::optional<std::string> { return std::to_string(value); };
  const auto on = [](bool value) -> std::optional<std::string> {
    return value ? std::optional<std::string>("on") : std::nullopt;
  };
  std::string ports;
  for (const std::uint16_t port : app.controlPorts)
    ports += (ports.empty() ? "" : " ") + std::to_string(port);
  return {
      {"help", std::nullopt},
      {"config", std::nullopt},
      {"print-config", std::nullopt},
      {"in", std::nullopt},
      {"out", std::nullopt},
      {"kernel-seqadj", on(app.replay.kernelSeqAdjust)},
      {"snat", std::nullopt},
      {"dnat", std::nullopt},
      {"queue", number(run.queueNum)},
      {"queue-balance", number(run.queueCount)},
      {"control-port", ports},
      {"firewall", rules.firewall == FirewallKind::Nft ? "nft" : "iptables"},
      {"seq-owner", run.seqOwner == SequenceOwner::Kernel ? "kernel" : "engine"},
      {"pinhole-backend", run.pinholeBackend == PinholeBackendKind::Auto ? "auto" : "?"},
      {"control-mark", "0x00020000"},
      {"verified-mark", "0x00040000"},
      {"dry-run", on(run.dryRun)},
      {"fail-open", on(run.failOpen)},
      {"fail-closed", on(!run.failOpen)},
      {"user", std::nullopt},
      {"no-queue-rules", on(!run.installQueueRules)},
      {"syslog", on(run.syslog)},
      {"log", app.logPath},
      {"log-format", app.logFormat == LogFormat::Json ? "json" : "text"},
      {"anti-bounce", policy.antiBounce == AntiBounceMode::Strict ? "strict" : "peer"},
      {"data-port-floor", number(policy.dataPortFloor)},
      {"pinhole-timeout", number(policy.pinholeTimeout.count())},
      {"accept-bare-lf", on(policy.acceptBareLf)},
      {"max-sessions", number(limits.maxSessions)},
      {"max-pinholes", number(limits.maxPinholes)},
      {"max-line-length", number(limits.maxLineLength)},
      {"max-multiline-reply", number(limits.maxMultiLineReplyBytes)},
      {"max-out-of-order-bytes", number(limits.maxOutOfOrderBytes)},
      {"max-held-packets", number(limits.maxHeldPackets)},
      {"max-held-bytes", number(limits.maxHeldBytes)},
      {"hold-timeout-ms", number(limits.holdTimeout.count())},
      {"pinhole-rate", number(limits.pinholesPerSecond)},
      {"pinhole-burst", number(limits.pinholeBurst)},
      {"session-idle-timeout", number(limits.sessionIdleTimeout.count())},
      {"closed-session-linger", number(limits.closedSessionLinger.count())},
  };
}

TEST(OptionsHelp, DefaultsShownAreTheStructDefaults) {
  const auto expected = expectedDefaults();
  for (const std::string command : {"replay", "run", "rules"}) {
    SCOPED_TRACE(command);
    const auto entries = helpEntries(command);
    EXPECT_GT(entries.size(), 5u);
    for (const auto& [option, description] : entries) {
      const auto want = expected.find(option);
      ASSERT_NE(want, expected.end()) << "--" << option << ": add its default to expectedDefaults()";
      EXPECT_EQ(statedDefault(description), want->second) << "--" << option << ": " << description;
    }
  }
}

TEST(OptionsHelp, MaxHeldPacketsShowsLimitsDefault) {
  // The drift that started issue 14: the help said 64 while Limits said 128.
  const auto entries = helpEntries("run");
  ASSERT_TRUE(entries.contains("max-held-packets"));
  EXPECT_EQ(statedDefault(entries.at("max-held-packets")), std::to_string(Limits{}.maxHeldPackets));
}

TEST(OptionsHelp, EveryNumericDefaultLiesInItsRangeAndIsAccepted) {
  for (const std::string command : {"replay", "run", "rules"}) {
    for (const auto& [option, description] : helpEntries(command)) {
      std::smatch match;
      static const std::regex range(R"(\((?:repeatable, )?(\d+)-(\d+), default (\d+)\)$)");
      if (!std::regex_search(description, match, range)) continue;
      SCOPED_TRACE(command + " --" + option);
      const unsigned long long min = std::stoull(match[1]), max = std::stoull(match[2]),
                               value = std::stoull(match[3]);
      EXPECT_LE(min, value);
      EXPECT_LE(value, max);
      std::vector<std::string> args{command, "--" + option, match[3]};
      if (command == "replay") args.insert(args.end(), {"--in", "x.pcap"});
      EXPECT_TRUE(parseArgs(args).ok());
      // Both ends of the range are accepted, one beyond is not.
      args[2] = match[2];
      EXPECT_TRUE(parseArgs(args).ok()) << args[2];
      args[2] = std::to_string(max + 1);
      EXPECT_FALSE(parseArgs(args).ok()) << args[2];
    }
  }
}

// ---- errors name the option, the value, and for a file the file and line ----------------------

struct BadValue {
  std::string command;
  std::string option;
  std::string value;
  std::string reason;
};

// One or more bad values of every kind of option.
const BadValue kBadValues[] = {
    // decimal numbers and durations
    {"run", "queue", "abc", "not a decimal number"},
    {"run", "queue", "", "empty value; expected a number"},
    {"run", "queue", "-1", "not a decimal number"},
    {"run", "queue", "+1", "not a decimal number"},
    {"run", "queue", "0x10", "not a decimal number"},
    {"run", "queue", "1.5", "not a decimal number"},
    {"run", "queue", "65536", "out of range 0-65535"},
    {"run", "queue", "99999999999999999999999", "out of range 0-65535"},
    {"run", "queue-balance", "0", "out of range 1-64"},
    {"rules", "queue-balance", "65", "out of range 1-64"},
    {"replay", "data-port-floor", "0", "out of range 1-65535"},
    {"replay", "pinhole-timeout", "29", "out of range 30-300"},
    {"run", "pinhole-timeout", "301", "out of range 30-300"},
    {"replay", "hold-timeout-ms", "0", "out of range 1-60000"},
    {"replay", "max-held-packets", "4097", "out of range 1-4096"},
    {"run", "max-held-bytes", "1499", "out of range 1500-16777216"},
    {"replay", "max-line-length", "63", "out of range 64-65536"},
    {"replay", "session-idle-timeout", "9", "out of range 10-604800"},
    {"replay", "closed-session-linger", "301", "out of range 0-300"},
    // repeatable numbers
    {"run", "control-port", "0", "out of range 1-65535"},
    {"rules", "control-port", "ftp", "not a decimal number"},
    // choices
    {"replay", "log-format", "xml", "expected one of: json, text"},
    {"replay", "anti-bounce", "Strict", "expected one of: strict, peer"},
    {"run", "pinhole-backend", "iptables", "expected one of: auto, nft, conntrack, none"},
    {"run", "seq-owner", "conntrack", "expected one of: kernel, engine"},
    // mark bits
    {"run", "control-mark", "0x30000", "not a single bit, e.g. 0x00020000"},
    {"rules", "verified-mark", "0", "not a single bit, e.g. 0x00020000"},
    {"run", "control-mark", "0x", "not a number (hexadecimal 0x00020000 or decimal)"},
    {"run", "verified-mark", "bit17", "not a number (hexadecimal 0x00020000 or decimal)"},
    {"run", "control-mark", "0x100000000", "not a number (hexadecimal 0x00020000 or decimal)"},
    {"rules", "firewall", "pf", "expected one of: nft, iptables"},
    // strings
    {"replay", "log", "", "empty path (use \"-\" for standard output)"},
    {"replay", "out", "", "empty path"},
    {"run", "user", "", "empty account name"},
    // NAT rules
    {"replay", "snat", "192.168.77.0/24", "expected CIDR=ADDRESS, e.g. 192.168.77.0/24=203.0.113.1"},
    {"replay", "snat", "192.168.77.0/33=203.0.113.1", "prefix length 33 is out of range 0-32"},
    {"replay", "snat", "2001:db8::/129=2001:db8::1", "prefix length 129 is out of range 0-128"},
    {"replay", "snat", "10.0.0.0/x=203.0.113.1", "prefix length \"x\" is not a number"},
    {"replay", "snat", "300.0.0.0/8=203.0.113.1", "\"300.0.0.0\" is not an IPv4 or IPv6 address"},
    {"replay", "snat", "10.0.0.0/8=2001:db8::1", "the prefix and the address are of different IP versions"},
    {"replay", "snat", "10.0.0.0/8=0.0.0.0", "the outside address is unspecified"},
    {"replay", "dnat", "203.0.113.1:21",
     "expected ADDRESS:PORT=ADDRESS:PORT, e.g. 203.0.113.1:21=192.168.78.10:21"},
    {"replay", "dnat", "203.0.113.1=192.168.78.10:21",
     "\"203.0.113.1\" is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT, port 1-65535)"},
    {"replay", "dnat", "203.0.113.1:0=192.168.78.10:21", "port 0 in \"203.0.113.1:0\""},
    {"replay", "dnat", "203.0.113.1:21=[2001:db8::1]:21", "the two endpoints are of different IP versions"},
};

std::vector<std::string> withRequired(const std::string& command, std::vector<std::string> args) {
  args.insert(args.begin(), command);
  if (command == "replay") args.insert(args.end(), {"--in", "capture.pcap"});
  return args;
}

TEST(OptionErrors, CommandLineValueNamesOptionValueAndReason) {
  for (const BadValue& bad : kBadValues) {
    SCOPED_TRACE(bad.command + " --" + bad.option + " " + bad.value);
    EXPECT_EQ(refusal(withRequired(bad.command, {"--" + bad.option, bad.value})),
              "--" + bad.option + ": \"" + bad.value + "\": " + bad.reason);
    if (bad.value.empty()) {
      // "--queue=" is refused by the command-line syntax itself, naming the option.
      EXPECT_EQ(
          refusal(withRequired(bad.command, {"--" + bad.option + "="})),
          "the argument for option '--" + bad.option + "' should follow immediately after the equal sign");
    } else {
      EXPECT_EQ(refusal(withRequired(bad.command, {"--" + bad.option + "=" + bad.value})),
                "--" + bad.option + ": \"" + bad.value + "\": " + bad.reason);
    }
  }
}

TEST_F(ConfigFiles, FileValueNamesFileLineOptionValueAndReason) {
  for (const BadValue& bad : kBadValues) {
    SCOPED_TRACE(bad.command + " " + bad.option + " = " + bad.value);
    const std::string path =
        write("bad.conf", "# a comment\ncontrol-port = 21\n\n  " + bad.option + " = " + bad.value + "   \n");
    EXPECT_EQ(refusal(withRequired(bad.command, {"--config", path})),
              path + ":4: " + bad.option + ": \"" + bad.value + "\": " + bad.reason);
  }
}

TEST_F(ConfigFiles, BadSwitchValueInFileNamesFileAndLine) {
  const std::string path = write("switch.conf", "dry-run = maybe\n");
  EXPECT_EQ(refusal({"run", "--config", path}),
            path + ":1: dry-run: \"maybe\": expected true or false (or yes/no, on/off, 1/0)");
}

TEST_F(ConfigFiles, SwitchWordsInFile) {
  const std::pair<std::string, bool> words[] = {{"true", true}, {"YES", true},  {"on", true},
                                                {"1", true},    {"", true},     {"false", false},
                                                {"No", false},  {"off", false}, {"0", false}};
  for (const auto& [word, meaning] : words) {
    SCOPED_TRACE(word);
    const AppConfig config = parsed({"run", "--config", write("s.conf", "dry-run = " + word + "\n")});
    EXPECT_EQ(config.run.dryRun, meaning);
  }
}

TEST_F(ConfigFiles, FileSyntaxErrorsNameFileAndLine) {
  const std::string unknown = write("unknown.conf", "queue = 1\nqueues = 2\n");
  EXPECT_EQ(refusal({"run", "--config", unknown}),
            unknown + ":2: queues: unknown option (see ftpalg run --help)");
  const std::string dashed = write("dashed.conf", "--queue = 2\n");
  EXPECT_EQ(refusal({"run", "--config", dashed}),
            dashed + ":1: --queue: unknown option; write the name without \"--\"");
  const std::string noEquals = write("noequals.conf", "\n\nqueue 2\n");
  EXPECT_EQ(refusal({"run", "--config", noEquals}), noEquals + ":3: \"queue 2\": expected \"name = value\"");
  const std::string section = write("section.conf", "[ftpalg]\nqueue = 2\n");
  EXPECT_EQ(refusal({"run", "--config", section}), section + ":1: \"[ftpalg]\": expected \"name = value\"");
  const std::string noName = write("noname.conf", " = 2\n");
  EXPECT_EQ(refusal({"run", "--config", noName}), noName + ":1: \"= 2\": expected \"name = value\"");
  const std::string nested = write("nested.conf", "config = other.conf\n");
  EXPECT_EQ(refusal({"run", "--config", nested}), nested + ":1: config: allowed on the command line only");
  const std::string twice = write("twice.conf", "queue = 1\n# again\nqueue = 1\n");
  EXPECT_EQ(refusal({"run", "--config", twice}),
            twice + ":3: queue: \"1\": a second value (the first is at line 1)");
}

TEST_F(ConfigFiles, UnsafeOrMissingFileNamesTheFile) {
  const std::string missing = (directory_ / "missing.conf").string();
  EXPECT_EQ(refusal({"run", "--config", missing}),
            "--config: \"" + missing + "\": cannot read: No such file or directory");
  EXPECT_EQ(refusal({"run", "--config", directory_.string()}),
            "--config: \"" + directory_.string() + "\": not a regular file");
  const std::string writable = write("writable.conf", "queue = 1\n");
  fs::permissions(writable, fs::perms::group_write, fs::perm_options::add);
  EXPECT_EQ(
      refusal({"run", "--config", writable}),
      "--config: \"" + writable + "\": writable by group or others (mode 0620); refusing it (chmod go-w)");
  EXPECT_EQ(refusal({"run", "--config", ""}), "--config: \"\": empty path");
}

TEST_F(ConfigFiles, CommentsBlankLinesAndCrLfAreAccepted) {
  const std::string path = write("comments.conf",
                                 "# ftpalg\r\n"
                                 "\r\n"
                                 "   # indented comment\n"
                                 "queue = 3   # trailing comment\r\n"
                                 "user=ftp#1\n"
                                 "log =  /var/log/ftpalg/a #b\n"
                                 "control-port = 21\n"
                                 "control-port = 2121\n"
                                 "in = ignored-by-run.pcap\n");
  const AppConfig config = parsed({"run", "--config", path});
  EXPECT_EQ(config.run.queueNum, 3);
  EXPECT_EQ(config.run.user, std::optional<std::string>("ftp#1"));  // '#' inside a word is kept
  EXPECT_EQ(config.logPath, "/var/log/ftpalg/a");
  EXPECT_EQ(config.controlPorts, (std::vector<std::uint16_t>{21, 2121}));
}

TEST(OptionErrors, CommandLineStructureErrorsNameTheOption) {
  EXPECT_EQ(refusal({"run", "--queue"}), "the required argument for option '--queue' is missing");
  EXPECT_EQ(refusal({"run", "--queue", "1", "--queue", "2"}),
            "option '--queue' cannot be specified more than once");
  EXPECT_EQ(refusal({"run", "--dry-run=yes"}), "option '--dry-run' does not take any arguments");
  EXPECT_EQ(refusal({"run", "--in", "x.pcap"}),
            "unrecognised option '--in' for ftpalg run (see ftpalg run --help)");
  EXPECT_EQ(refusal({"replay"}),
            "--in: missing; replay needs a capture (--in FILE, \"-\" for standard input)");
  EXPECT_EQ(refusal({"run", "stray"}),
            "unexpected argument after \"run\"; options start with \"--\" (see ftpalg run --help)");
}

TEST(OptionErrors, CombinationsNameTheOffendingOption) {
  EXPECT_EQ(refusal({"run", "--queue", "65530", "--queue-balance", "7"}),
            "--queue-balance: \"7\": queues 65530..65536 go past 65535");
  EXPECT_EQ(
      refusal({"replay", "--in", "x.pcap", "--max-line-length", "4096", "--max-multiline-reply", "1024"}),
      "--max-multiline-reply: \"1024\": smaller than --max-line-length 4096");
  EXPECT_EQ(refusal({"replay", "--in", "x.pcap", "--out", "-"}),
            "--out: \"-\": the decision log goes to standard output too; give --log a file");
  EXPECT_TRUE(parseArgs({"replay", "--in", "x.pcap", "--out", "-", "--log", "d.jsonl"}).ok());
  // The conntrack mark bits: distinct, and not the nft pinholes' bit.
  EXPECT_EQ(refusal({"run", "--verified-mark", "0x00020000"}),
            "--verified-mark: \"0x00020000\": the control and verified marks are the same bit");
  EXPECT_EQ(refusal({"rules", "--control-mark", "0x40000"}),
            "--control-mark: \"0x40000\": the control and verified marks are the same bit");
  EXPECT_EQ(refusal({"run", "--control-mark", "65536"}),
            "--control-mark: \"65536\": the pinhole mark 0x00010000 is taken (nft pinholes set it)");
  // Expectations need the anchor of the conntrack-owned mode.
  EXPECT_EQ(refusal({"run", "--pinhole-backend", "conntrack", "--seq-owner", "engine"}),
            "--pinhole-backend: \"conntrack\": needs --seq-owner kernel (a conntrack expectation needs the "
            "anchor's helper on its control connection)");
  EXPECT_TRUE(parseArgs({"run", "--pinhole-backend", "conntrack", "--seq-owner", "kernel"}).ok());
  EXPECT_TRUE(parseArgs({"run", "--pinhole-backend", "nft", "--seq-owner", "engine"}).ok());
}

TEST_F(ConfigFiles, CombinationErrorFromTheFileNamesFileAndLine) {
  const std::string path = write("balance.conf", "queue = 65530\nqueue-balance = 7\n");
  EXPECT_EQ(refusal({"run", "--config", path}),
            path + ":2: queue-balance: \"7\": queues 65530..65536 go past 65535");
  // The command line's --queue and the file's --queue-balance together go too far: the blame goes
  // to the value that pushed past the end, where it was written.
  const std::string balance = write("balance-only.conf", "queue-balance = 7\n");
  EXPECT_EQ(refusal({"run", "--config", balance, "--queue", "65530"}),
            balance + ":1: queue-balance: \"7\": queues 65530..65536 go past 65535");
}

// ---- the command line overrides the file, setting by setting ---------------------------------

TEST_F(ConfigFiles, CommandLineReplacesTheFilesSetting) {
  const std::string path = write("ftpalg.conf",
                                 "fail-open = true\n"
                                 "anti-bounce = peer\n"
                                 "control-port = 2121\n"
                                 "control-port = 990\n"
                                 "data-port-floor = 2000\n");
  const AppConfig config =
      parsed({"run", "--config", path, "--fail-closed", "--anti-bounce", "strict", "--control-port", "21"});
  EXPECT_FALSE(config.run.failOpen);
  EXPECT_EQ(config.engine.policy.antiBounce, AntiBounceMode::Strict);
  EXPECT_EQ(config.controlPorts, std::vector<std::uint16_t>{21});  // the whole list is replaced
  EXPECT_EQ(config.engine.policy.dataPortFloor, 2000);             // not overridden: the file's

  const std::string closed = write("closed.conf", "fail-closed = true\n");
  EXPECT_TRUE(parsed({"run", "--config", closed, "--fail-open"}).run.failOpen);
  EXPECT_FALSE(parsed({"run", "--config", closed}).run.failOpen);
}

TEST_F(ConfigFiles, BothFailModesInOneSourceAreRefused) {
  EXPECT_EQ(refusal({"run", "--fail-open", "--fail-closed"}),
            "--fail-open and --fail-closed exclude each other");
  const std::string path = write("both.conf", "fail-closed = true\nqueue = 1\nfail-open = yes\n");
  EXPECT_EQ(refusal({"run", "--config", path}),
            path + ":3: fail-open and fail-closed (line 1) exclude each other");
  // Refused even when the command line overrides the setting: the file itself is wrong.
  EXPECT_EQ(refusal({"run", "--config", path, "--fail-open"}),
            path + ":3: fail-open and fail-closed (line 1) exclude each other");
  // Two spellings that agree are not a contradiction.
  EXPECT_TRUE(parsed({"run", "--config", write("agree.conf", "fail-open = true\nfail-closed = false\n")})
                  .run.failOpen);
}

TEST_F(ConfigFiles, BadFileValueIsRefusedEvenWhenTheCommandLineOverridesIt) {
  const std::string path = write("bad.conf", "queue = abc\n");
  EXPECT_EQ(refusal({"run", "--config", path, "--queue", "2"}),
            path + ":1: queue: \"abc\": not a decimal number");
}

// ---- NAT rules: one per match -----------------------------------------------------------------

TEST(NatRuleOptions, SecondSnatForTheSamePrefixIsRefused) {
  EXPECT_EQ(refusal({"replay", "--in", "x.pcap", "--snat", "192.168.77.0/24=203.0.113.1", "--snat",
                     "192.168.77.9/24=203.0.113.2"}),
            "--snat: \"192.168.77.9/24=203.0.113.2\": a second rule for 192.168.77.0/24");
  // Nested prefixes are different rules (the most specific wins).
  const AppConfig nested = parsed(
      {"replay", "--in", "x.pcap", "--snat", "10.0.0.0/8=203.0.113.1", "--snat", "10.1.0.0/16=203.0.113.2"});
  EXPECT_EQ(nested.replay.snat.size(), 2u);
}

TEST(NatRuleOptions, SecondDnatForTheSameOutsideEndpointIsRefused) {
  EXPECT_EQ(refusal({"replay", "--in", "x.pcap", "--dnat", "203.0.113.1:21=192.168.78.10:21", "--dnat",
                     "203.0.113.1:21=192.168.78.11:21"}),
            "--dnat: \"203.0.113.1:21=192.168.78.11:21\": a second rule for 203.0.113.1:21");
  EXPECT_EQ(parsed({"replay", "--in", "x.pcap", "--dnat", "203.0.113.1:21=192.168.78.10:21", "--dnat",
                    "203.0.113.1:2121=192.168.78.10:21"})
                .replay.dnat.size(),
            2u);
}

TEST_F(ConfigFiles, SecondSnatInTheFileNamesItsLine) {
  const std::string path =
      write("snat.conf", "snat = 192.168.77.0/24=203.0.113.1\nsnat = 192.168.77.0/24=203.0.113.1\n");
  EXPECT_EQ(refusal({"replay", "--in", "x.pcap", "--config", path}),
            path + ":2: snat: \"192.168.77.0/24=203.0.113.1\": a second rule for 192.168.77.0/24");
}

}  // namespace
}  // namespace ftpalg::app
