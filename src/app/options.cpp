// Command-line and config-file parsing (see options.hpp). Boost.Program_options only splits the
// input into option names and raw strings; every value is validated here, by hand, so each
// error can name the option, quote the value and say what is wrong with it.
#include "options.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

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

[[noreturn]] void fail(std::string_view option, std::string_view value, std::string_view reason) {
  throw UsageError("--" + std::string(option) + ": \"" + std::string(value) + "\": " + std::string(reason));
}

// ---- option descriptions ------------------------------------------------------------------

po::options_description generalOptions() {
  po::options_description group("General");
  group.add_options()
      ("help,h", "show this help and exit")
      ("config", po::value<std::string>()->value_name("FILE"),
       "read options from an INI file (\"name = value\" lines, the long option names without "
       "\"--\"); the command line wins. Refused when writable by group or others")
      ("print-config", "print the effective configuration in --config format and exit");
  return group;
}

po::options_description logOptions() {
  po::options_description group("Decision log");
  group.add_options()
      ("log", po::value<std::string>()->value_name("FILE|-"),
       "where decisions are logged (default \"-\", standard output)")
      ("log-format", po::value<std::string>()->value_name("json|text"),
       "JSON lines (default, docs/log-schema.md) or one human-readable line per decision");
  return group;
}

po::options_description flowOptions() {
  po::options_description group("FTP control connections");
  group.add_options()
      ("control-port", po::value<std::vector<std::string>>()->value_name("PORT"),
       "TCP port of FTP control connections (repeatable; default 21)");
  return group;
}

po::options_description policyOptions() {
  po::options_description group("Policy");
  group.add_options()
      ("anti-bounce", po::value<std::string>()->value_name("strict|peer"),
       "strict (default): refuse an announced address other than the announcing peer's; "
       "peer: ignore the announced address and use the peer's")
      ("data-port-floor", po::value<std::string>()->value_name("PORT"),
       "refuse announced data ports below this (1-65535, default 1024)")
      ("pinhole-timeout", po::value<std::string>()->value_name("SECONDS"),
       "how long an unused pinhole stays open (30-300, default 30)")
      ("accept-bare-lf", po::value<bool>()->zero_tokens()->implicit_value(true)->value_name(""),
       "a bare LF also ends an FTP line (default: only CRLF)");
  return group;
}

po::options_description limitOptions() {
  po::options_description group("Limits");
  group.add_options()
      ("max-sessions", po::value<std::string>()->value_name("N"),
       "control connections tracked at once (default 200000); beyond, new ones pass uninspected")
      ("max-pinholes", po::value<std::string>()->value_name("N"),
       "pending pinholes, all sessions together (default 100000)")
      ("max-line-length", po::value<std::string>()->value_name("BYTES"),
       "longest FTP line inspected (64-65536, default 512); longer stops inspection of the flow")
      ("max-multiline-reply", po::value<std::string>()->value_name("BYTES"),
       "largest multi-line reply (default 65536)")
      ("max-out-of-order-bytes", po::value<std::string>()->value_name("BYTES"),
       "out-of-order bytes held per direction (0-1048576, default 16384)")
      ("max-held-packets", po::value<std::string>()->value_name("N"),
       "packets whose verdict waits for the rest of a line, per session (1-4096, default 64)")
      ("max-held-bytes", po::value<std::string>()->value_name("BYTES"),
       "bytes of such packets per session (1500-16777216, default 65536)")
      ("hold-timeout-ms", po::value<std::string>()->value_name("MS"),
       "longest wait for the rest of a line (1-60000, default 3000)")
      ("pinhole-rate", po::value<std::string>()->value_name("N"),
       "pinholes per second per session (1-100000, default 20)")
      ("pinhole-burst", po::value<std::string>()->value_name("N"),
       "pinhole burst per session (1-1000000, default 40)")
      ("session-idle-timeout", po::value<std::string>()->value_name("SECONDS"),
       "forget a control connection silent this long (10-604800, default 3600)")
      ("closed-session-linger", po::value<std::string>()->value_name("SECONDS"),
       "keep a closed session for stragglers (0-300, default 10)");
  return group;
}

po::options_description replayOptions() {
  po::options_description group("Replay");
  group.add_options()
      ("in", po::value<std::string>()->value_name("FILE"),
       "capture to replay: pcap or pcapng; Ethernet (VLAN), Linux cooked v1/v2 or raw IP (required)")
      ("out", po::value<std::string>()->value_name("FILE"),
       "write every packet as the gateway would emit it (pcap, input link type and timestamps)")
      ("snat", po::value<std::vector<std::string>>()->value_name("CIDR=ADDRESS"),
       "clients in CIDR are masqueraded to ADDRESS, e.g. 192.168.77.0/24=203.0.113.1 (repeatable)")
      ("dnat", po::value<std::vector<std::string>>()->value_name("ADDR:PORT=ADDR:PORT"),
       "connections to the first endpoint are forwarded to the second, e.g. "
       "203.0.113.1:21=192.168.78.10:21; IPv6 in brackets (repeatable)");
  return group;
}

po::options_description queueOptions() {
  po::options_description group("Queues");
  group.add_options()
      ("queue", po::value<std::string>()->value_name("NUM"), "first NFQUEUE number (0-65535, default 0)")
      ("queue-balance", po::value<std::string>()->value_name("N"),
       "use N queues NUM..NUM+N-1, one engine each (1-64, default 1)");
  return group;
}

po::options_description runOptions() {
  po::options_description group("Live gateway");
  group.add_options()
      ("pinhole-backend", po::value<std::string>()->value_name("nft|none"),
       "nft (default): pinholes in ftpalg's own nft table; none: log pinholes, install nothing")
      ("dry-run", po::value<bool>()->zero_tokens()->implicit_value(true)->value_name(""),
       "accept every packet unchanged and install no pinhole, but decide and log as live")
      ("fail-open", po::value<bool>()->zero_tokens()->implicit_value(true)->value_name(""),
       "control traffic passes unhelped while ftpalg is down (queue bypass; default)")
      ("fail-closed", po::value<bool>()->zero_tokens()->implicit_value(true)->value_name(""),
       "control traffic stops while ftpalg is down")
      ("user", po::value<std::string>()->value_name("NAME"), "drop privileges to this account after setup")
      ("no-queue-rules", po::value<bool>()->zero_tokens()->implicit_value(true)->value_name(""),
       "do not install the NFQUEUE rules (the admin installs them, see `ftpalg rules`)");
  return group;
}

po::options_description rulesOptions() {
  po::options_description group("Rules");
  group.add_options()
      ("firewall", po::value<std::string>()->value_name("nft|iptables"),
       "print rules for this firewall (default nft)");
  return group;
}

po::options_description commandOptions(Command command) {
  po::options_description all;
  all.add(generalOptions());
  switch (command) {
    case Command::Replay:
      all.add(replayOptions()).add(flowOptions()).add(logOptions()).add(policyOptions()).add(limitOptions());
      break;
    case Command::Run:
      all.add(queueOptions()).add(flowOptions()).add(runOptions()).add(logOptions()).add(policyOptions())
          .add(limitOptions());
      break;
    case Command::Rules:
      all.add(queueOptions()).add(flowOptions()).add(rulesOptions());
      break;
    case Command::Help:
    case Command::Version:
      break;
  }
  return all;
}

// Every option a config file may hold: the options of all commands, without the general ones.
po::options_description configFileOptions() {
  po::options_description all;
  all.add(logOptions()).add(flowOptions()).add(policyOptions()).add(limitOptions()).add(replayOptions())
      .add(queueOptions()).add(runOptions()).add(rulesOptions());
  return all;
}

// ---- help texts -------------------------------------------------------------------------------

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
         "\n"
         "Exit status: 0 success, 1 processing failed or stopped early, 2 bad options or config, or\n"
         "an input/output/log file that cannot be opened (nothing processed).\n";
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
             "                  [--pinhole-backend nft|none] [--pinhole-timeout SECONDS] [--dry-run]\n"
             "                  [--fail-open|--fail-closed] [--user NAME] [--log FILE|-]\n"
             "                  [--log-format json|text] [policy and limit options]\n"
             "\n"
             "Runs the live gateway: queues FTP control packets (NFQUEUE), rewrites announcements,\n"
             "installs pinholes before the verdict. SIGTERM/SIGINT: clean up and exit; SIGHUP: reopen\n"
             "the log; SIGUSR1: log the counters.\n";
      break;
    case Command::Rules:
      out << "Usage: ftpalg rules [--queue NUM] [--queue-balance N] [--control-port PORT]...\n"
             "                    [--firewall nft|iptables]\n"
             "\n"
             "Prints the rule to add to your own firewall (accept connections carrying ftpalg's\n"
             "pinhole mark) and the queue rules `ftpalg run` installs, for review.\n";
      break;
    case Command::Help:
    case Command::Version:
      return globalHelp();
  }
  out << "\n" << commandOptions(command);
  return out.str();
}

// ---- value validation -----------------------------------------------------------------------

std::optional<std::string> text(const po::variables_map& vm, const char* name) {
  if (vm.count(name) == 0) return std::nullopt;
  return vm[name].as<std::string>();
}

std::vector<std::string> texts(const po::variables_map& vm, const char* name) {
  if (vm.count(name) == 0) return {};
  return vm[name].as<std::vector<std::string>>();
}

bool flag(const po::variables_map& vm, const char* name) {
  return vm.count(name) != 0 && vm[name].as<bool>();
}

// Strict decimal: digits only (no sign, no spaces, no hex), within [min, max].
std::uint64_t parseNumber(std::string_view option, std::string_view value, std::uint64_t min,
                          std::uint64_t max) {
  if (value.empty()) fail(option, value, "empty value; expected a number");
  if (!std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    fail(option, value, "not a decimal number");
  }
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end != value.data() + value.size() || number < min || number > max) {
    fail(option, value, "out of range " + std::to_string(min) + "-" + std::to_string(max));
  }
  return number;
}

template <typename T>
void setNumber(const po::variables_map& vm, const char* option, std::uint64_t min, std::uint64_t max,
               T& target) {
  if (const auto value = text(vm, option)) target = static_cast<T>(parseNumber(option, *value, min, max));
}

template <typename Rep, typename Period>
void setDuration(const po::variables_map& vm, const char* option, std::uint64_t min, std::uint64_t max,
                 std::chrono::duration<Rep, Period>& target) {
  if (const auto value = text(vm, option)) {
    target = std::chrono::duration<Rep, Period>(static_cast<Rep>(parseNumber(option, *value, min, max)));
  }
}

template <typename Enum>
Enum parseChoice(std::string_view option, std::string_view value,
                 std::initializer_list<std::pair<std::string_view, Enum>> choices) {
  std::string names;
  for (const auto& [name, choice] : choices) {
    if (value == name) return choice;
    if (!names.empty()) names += ", ";
    names += name;
  }
  fail(option, value, "expected one of: " + names);
}

IpAddress parseAddress(std::string_view option, std::string_view whole, std::string_view address) {
  const auto parsed = IpAddress::parse(address);
  if (!parsed) {
    fail(option, whole, "\"" + std::string(address) + "\" is not an IPv4 or IPv6 address");
  }
  return *parsed;
}

IpPrefix parsePrefix(std::string_view option, std::string_view whole, std::string_view prefixText) {
  const std::size_t slash = prefixText.find('/');
  const IpAddress network = parseAddress(option, whole, prefixText.substr(0, slash));
  const unsigned maxLength = network.isV4() ? 32 : 128;
  if (slash != std::string_view::npos) {
    const std::string_view lengthText = prefixText.substr(slash + 1);
    unsigned length = 0;
    const auto [end, error] = std::from_chars(lengthText.data(), lengthText.data() + lengthText.size(), length);
    if (lengthText.empty() || error == std::errc::invalid_argument ||
        end != lengthText.data() + lengthText.size()) {
      fail(option, whole, "prefix length \"" + std::string(lengthText) + "\" is not a number");
    }
    if (error == std::errc::result_out_of_range || length > maxLength) {
      fail(option, whole, "prefix length " + std::string(lengthText) + " is out of range 0-" +
                              std::to_string(maxLength));
    }
  }
  const auto prefix = IpPrefix::parse(prefixText);
  if (!prefix) fail(option, whole, "\"" + std::string(prefixText) + "\" is not a prefix (ADDRESS/LENGTH)");
  return *prefix;
}

SnatRule parseSnat(std::string_view value) {
  constexpr std::string_view option = "snat";
  const std::size_t equals = value.find('=');
  if (equals == std::string_view::npos) {
    fail(option, value, "expected CIDR=ADDRESS, e.g. 192.168.77.0/24=203.0.113.1");
  }
  SnatRule rule;
  rule.inside = parsePrefix(option, value, value.substr(0, equals));
  rule.outside = parseAddress(option, value, value.substr(equals + 1));
  if (rule.inside.network.family() != rule.outside.family()) {
    fail(option, value, "the prefix and the address are of different IP versions");
  }
  if (rule.outside.isUnspecified()) fail(option, value, "the outside address is unspecified");
  return rule;
}

Endpoint parseEndpoint(std::string_view option, std::string_view whole, std::string_view endpointText) {
  const auto endpoint = Endpoint::parse(endpointText);
  if (!endpoint) {
    fail(option, whole, "\"" + std::string(endpointText) +
                            "\" is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT, port 1-65535)");
  }
  if (endpoint->port == 0) fail(option, whole, "port 0 in \"" + std::string(endpointText) + "\"");
  return *endpoint;
}

DnatRule parseDnat(std::string_view value) {
  constexpr std::string_view option = "dnat";
  const std::size_t equals = value.find('=');
  if (equals == std::string_view::npos) {
    fail(option, value, "expected ADDRESS:PORT=ADDRESS:PORT, e.g. 203.0.113.1:21=192.168.78.10:21");
  }
  DnatRule rule;
  rule.outside = parseEndpoint(option, value, value.substr(0, equals));
  rule.inside = parseEndpoint(option, value, value.substr(equals + 1));
  if (rule.outside.address.family() != rule.inside.address.family()) {
    fail(option, value, "the two endpoints are of different IP versions");
  }
  return rule;
}

// ---- config file --------------------------------------------------------------------------

// Refuses files others could have written: options decide what the firewall admits.
void checkConfigFileSafety(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    fail("config", path, std::string("cannot read: ") + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) fail("config", path, "not a regular file");
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    fail("config", path, std::string("writable by group or others (mode ") + mode +
                             "); refusing it (chmod go-w)");
  }
  if (info.st_uid != 0 && info.st_uid != ::geteuid()) {
    fail("config", path, "owned by uid " + std::to_string(info.st_uid) + ", neither root nor the user running ftpalg");
  }
}

void storeConfigFile(const std::string& path, po::variables_map& vm) {
  checkConfigFileSafety(path);
  std::ifstream file(path);
  if (!file) fail("config", path, std::string("cannot read: ") + std::strerror(errno));
  try {
    po::store(po::parse_config_file(file, configFileOptions(), /*allow_unregistered=*/false), vm);
  } catch (const po::error& error) {
    fail("config", path, error.what());
  }
  if (file.bad()) fail("config", path, std::string("read error: ") + std::strerror(errno));
}

// ---- building the AppConfig -----------------------------------------------------------------

void applyCommon(const po::variables_map& vm, AppConfig& config) {
  const auto ports = texts(vm, "control-port");
  if (!ports.empty()) {
    config.controlPorts.clear();
    for (const std::string& port : ports) {
      const auto number = static_cast<std::uint16_t>(parseNumber("control-port", port, 1, 65535));
      if (std::find(config.controlPorts.begin(), config.controlPorts.end(), number) == config.controlPorts.end()) {
        config.controlPorts.push_back(number);
      }
    }
  }
  if (const auto log = text(vm, "log")) {
    if (log->empty()) fail("log", *log, "empty path (use \"-\" for standard output)");
    config.logPath = *log;
  }
  if (const auto format = text(vm, "log-format")) {
    config.logFormat = parseChoice<LogFormat>("log-format", *format, {{"json", LogFormat::Json}, {"text", LogFormat::Text}});
  }
}

void applyPolicyAndLimits(const po::variables_map& vm, EngineConfig& engine) {
  Policy& policy = engine.policy;
  if (const auto mode = text(vm, "anti-bounce")) {
    policy.antiBounce = parseChoice<AntiBounceMode>("anti-bounce", *mode,
                                                    {{"strict", AntiBounceMode::Strict}, {"peer", AntiBounceMode::Peer}});
  }
  setNumber(vm, "data-port-floor", 1, 65535, policy.dataPortFloor);
  setDuration(vm, "pinhole-timeout", 30, 300, policy.pinholeTimeout);
  if (flag(vm, "accept-bare-lf")) policy.acceptBareLf = true;

  Limits& limits = engine.limits;
  setNumber(vm, "max-sessions", 1, 10'000'000, limits.maxSessions);
  setNumber(vm, "max-pinholes", 1, 10'000'000, limits.maxPinholes);
  setNumber(vm, "max-line-length", 64, 65536, limits.maxLineLength);
  setNumber(vm, "max-multiline-reply", 512, 16 * 1024 * 1024, limits.maxMultiLineReplyBytes);
  setNumber(vm, "max-out-of-order-bytes", 0, 1024 * 1024, limits.maxOutOfOrderBytes);
  setNumber(vm, "max-held-packets", 1, 4096, limits.maxHeldPackets);
  setNumber(vm, "max-held-bytes", 1500, 16 * 1024 * 1024, limits.maxHeldBytes);
  setDuration(vm, "hold-timeout-ms", 1, 60'000, limits.holdTimeout);
  setNumber(vm, "pinhole-rate", 1, 100'000, limits.pinholesPerSecond);
  setNumber(vm, "pinhole-burst", 1, 1'000'000, limits.pinholeBurst);
  setDuration(vm, "session-idle-timeout", 10, 604'800, limits.sessionIdleTimeout);
  setDuration(vm, "closed-session-linger", 0, 300, limits.closedSessionLinger);
  if (limits.maxMultiLineReplyBytes < limits.maxLineLength) {
    fail("max-multiline-reply", std::to_string(limits.maxMultiLineReplyBytes),
         "smaller than --max-line-length " + std::to_string(limits.maxLineLength));
  }
}

void applyQueues(const po::variables_map& vm, RunConfig& run) {
  setNumber(vm, "queue", 0, 65535, run.queueNum);
  if (const auto count = text(vm, "queue-balance")) {
    run.queueCount = static_cast<std::uint16_t>(parseNumber("queue-balance", *count, 1, 64));
    if (run.queueNum + run.queueCount - 1 > 65535) {
      fail("queue-balance", *count, "queues " + std::to_string(run.queueNum) + ".." +
                                        std::to_string(run.queueNum + run.queueCount - 1) +
                                        " go past 65535");
    }
  }
}

void applyReplay(const po::variables_map& vm, AppConfig& config) {
  ReplayConfig& replay = config.replay;
  const auto in = text(vm, "in");
  if (!in) throw UsageError("--in: missing; replay needs a capture (--in FILE, \"-\" for standard input)");
  if (in->empty()) fail("in", *in, "empty path");
  replay.inputPath = *in;
  if (const auto out = text(vm, "out")) {
    if (out->empty()) fail("out", *out, "empty path");
    if (*out != "-" && *out == *in) fail("out", *out, "the same file as --in");
    replay.outputPath = *out;
  }
  for (const std::string& rule : texts(vm, "snat")) replay.snat.push_back(parseSnat(rule));
  for (const std::string& rule : texts(vm, "dnat")) replay.dnat.push_back(parseDnat(rule));
  for (std::size_t i = 0; i < replay.dnat.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (replay.dnat[i].outside == replay.dnat[j].outside) {
        fail("dnat", texts(vm, "dnat")[i], "a second rule for " + replay.dnat[i].outside.toString());
      }
    }
  }
  if (replay.outputPath == std::optional<std::string>("-") && config.logPath == "-") {
    throw UsageError("--out \"-\" and --log \"-\" would both write to standard output; give --log a file");
  }
  if (replay.inputPath == "-" && config.configFile == std::optional<std::string>("-")) {
    throw UsageError("--in \"-\": standard input is already the config file");
  }
}

void applyRun(const po::variables_map& vm, RunConfig& run) {
  if (const auto backend = text(vm, "pinhole-backend")) {
    run.pinholeBackend = parseChoice<PinholeBackendKind>(
        "pinhole-backend", *backend, {{"nft", PinholeBackendKind::Nft}, {"none", PinholeBackendKind::None}});
  }
  run.dryRun = flag(vm, "dry-run");
  const bool failOpen = flag(vm, "fail-open");
  const bool failClosed = flag(vm, "fail-closed");
  if (failOpen && failClosed) throw UsageError("--fail-open and --fail-closed exclude each other");
  run.failOpen = !failClosed;
  if (const auto user = text(vm, "user")) {
    if (user->empty()) fail("user", *user, "empty account name");
    run.user = *user;
  }
  if (flag(vm, "no-queue-rules")) run.installQueueRules = false;
}

Command commandNamed(std::string_view name) {
  if (name == "replay") return Command::Replay;
  if (name == "run") return Command::Run;
  if (name == "rules") return Command::Rules;
  throw UsageError("unknown command \"" + std::string(name) + "\"; expected replay, run or rules (see ftpalg --help)");
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

  const po::options_description options = commandOptions(config.command);
  po::variables_map vm;
  try {
    const po::positional_options_description noPositionals;
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argc - 1, argv + 1)
                  .options(options)
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
  if (const auto file = text(vm, "config")) {
    if (file->empty()) fail("config", *file, "empty path");
    config.configFile = *file;
    storeConfigFile(*file, vm);
  }
  config.printConfig = vm.count("print-config") != 0;

  switch (config.command) {
    case Command::Replay:
      applyCommon(vm, config);
      applyPolicyAndLimits(vm, config.engine);
      applyReplay(vm, config);
      break;
    case Command::Run:
      applyCommon(vm, config);
      applyPolicyAndLimits(vm, config.engine);
      applyQueues(vm, config.run);
      applyRun(vm, config.run);
      break;
    case Command::Rules:
      applyCommon(vm, config);
      applyQueues(vm, config.run);
      if (const auto firewall = text(vm, "firewall")) {
        config.rules.firewall = parseChoice<FirewallKind>(
            "firewall", *firewall, {{"nft", FirewallKind::Nft}, {"iptables", FirewallKind::Iptables}});
      }
      break;
    case Command::Help:
    case Command::Version:
      break;
  }
  return config;
}

// ---- --print-config ---------------------------------------------------------------------------

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

void line(std::ostringstream& out, std::string_view name, const std::string& value) {
  out << name << " = " << value << '\n';
}

void line(std::ostringstream& out, std::string_view name, std::uint64_t value) {
  out << name << " = " << value << '\n';
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
  if (config.command == Command::Replay) {
    line(out, "in", config.replay.inputPath);
    if (config.replay.outputPath) line(out, "out", *config.replay.outputPath);
    for (const SnatRule& rule : config.replay.snat) {
      line(out, "snat", rule.inside.toString() + "=" + rule.outside.toString());
    }
    for (const DnatRule& rule : config.replay.dnat) {
      line(out, "dnat", rule.outside.toString() + "=" + rule.inside.toString());
    }
  }
  if (config.command == Command::Run || config.command == Command::Rules) {
    line(out, "queue", config.run.queueNum);
    line(out, "queue-balance", config.run.queueCount);
  }
  for (const std::uint16_t port : config.controlPorts) line(out, "control-port", port);
  if (config.command == Command::Rules) {
    line(out, "firewall", config.rules.firewall == FirewallKind::Nft ? "nft" : "iptables");
    return out.str();
  }
  if (config.command == Command::Run) {
    line(out, "pinhole-backend", config.run.pinholeBackend == PinholeBackendKind::Nft ? "nft" : "none");
    line(out, "dry-run", config.run.dryRun ? "true" : "false");
    line(out, config.run.failOpen ? "fail-open" : "fail-closed", "true");
    if (config.run.user) line(out, "user", *config.run.user);
    line(out, "no-queue-rules", config.run.installQueueRules ? "false" : "true");
  }
  line(out, "log", config.logPath);
  line(out, "log-format", config.logFormat == LogFormat::Json ? "json" : "text");
  const Policy& policy = config.engine.policy;
  line(out, "anti-bounce", policy.antiBounce == AntiBounceMode::Strict ? "strict" : "peer");
  line(out, "data-port-floor", policy.dataPortFloor);
  line(out, "pinhole-timeout", static_cast<std::uint64_t>(policy.pinholeTimeout.count()));
  line(out, "accept-bare-lf", policy.acceptBareLf ? "true" : "false");
  const Limits& limits = config.engine.limits;
  line(out, "max-sessions", limits.maxSessions);
  line(out, "max-pinholes", limits.maxPinholes);
  line(out, "max-line-length", limits.maxLineLength);
  line(out, "max-multiline-reply", limits.maxMultiLineReplyBytes);
  line(out, "max-out-of-order-bytes", limits.maxOutOfOrderBytes);
  line(out, "max-held-packets", limits.maxHeldPackets);
  line(out, "max-held-bytes", limits.maxHeldBytes);
  line(out, "hold-timeout-ms", static_cast<std::uint64_t>(limits.holdTimeout.count()));
  line(out, "pinhole-rate", limits.pinholesPerSecond);
  line(out, "pinhole-burst", limits.pinholeBurst);
  line(out, "session-idle-timeout", static_cast<std::uint64_t>(limits.sessionIdleTimeout.count()));
  line(out, "closed-session-linger", static_cast<std::uint64_t>(limits.closedSessionLinger.count()));
  return out.str();
}

}  // namespace ftpalg::app
