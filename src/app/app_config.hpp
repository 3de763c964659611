// AppConfig: the typed, validated configuration of one ftpalg invocation. Produced only by
// options.cpp (the only Boost.Program_options user); consumed by wiring and the runners.
// The default member initializers are the options' defaults (the help shows them from here).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "firewall/ct_marks.hpp"
#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/engine/engine.hpp"
#include "ftpalg/engine/flow_context.hpp"
#include "ftpalg/engine/static_flow_resolver.hpp"

namespace ftpalg::app {

enum class Command : std::uint8_t { Replay, Run, Rules, Help, Version };
enum class LogFormat : std::uint8_t { Json, Text };
// auto: conntrack in the conntrack-owned mode, nft in the engine-owned one (wiring.cpp).
enum class PinholeBackendKind : std::uint8_t { Auto, Nft, Conntrack, None };
enum class FirewallKind : std::uint8_t { Nft, Iptables };

// --snat 192.168.77.0/24=203.0.113.1 and --dnat 203.0.113.1:21=192.168.78.10:21: the rule types
// of the pure StaticFlowResolver (include/ftpalg/engine/static_flow_resolver.hpp).
using SnatRule = ftpalg::SnatRule;
using DnatRule = ftpalg::DnatRule;

struct ReplayConfig {
  std::string inputPath;
  std::optional<std::string> outputPath;
  std::vector<SnatRule> snat;
  std::vector<DnatRule> dnat;
  // --kernel-seqadj: model the conntrack-owned mode (docs/replay.md#the-conntrack-owned-mode).
  bool kernelSeqAdjust = false;
  friend bool operator==(const ReplayConfig&, const ReplayConfig&) = default;
};

struct RunConfig {
  std::uint16_t queueNum = 0;
  std::uint16_t queueCount = 1;  // --queue-balance: queues queueNum..queueNum+count-1
  PinholeBackendKind pinholeBackend = PinholeBackendKind::Auto;
  // --seq-owner: kernel (the conntrack-owned mode) needs the kernel's sane helper for the anchor
  // (probed at start, else the engine-owned mode with a warning).
  // docs/design.md#conntrack-owned-mode.
  SequenceOwner seqOwner = SequenceOwner::Kernel;
  std::uint32_t controlMark = firewall::kDefaultControlMark;    // --control-mark
  std::uint32_t verifiedMark = firewall::kDefaultVerifiedMark;  // --verified-mark
  bool dryRun = false;
  bool failOpen = true;             // --fail-open (default) | --fail-closed (queue bypass off)
  std::optional<std::string> user;  // --user: drop to this account after setup
  bool installQueueRules = true;    // --no-queue-rules: the admin installs them
  bool syslog = false;              // --syslog: decisions and messages also to syslog(3)
  friend bool operator==(const RunConfig&, const RunConfig&) = default;
};

struct RulesConfig {
  FirewallKind firewall = FirewallKind::Nft;
  friend bool operator==(const RulesConfig&, const RulesConfig&) = default;
};

struct AppConfig {
  Command command = Command::Help;
  std::string helpText;  // for Command::Help
  std::optional<std::string> configFile;
  std::vector<std::uint16_t> controlPorts{21};
  std::string logPath = "-";  // "-" is stdout
  LogFormat logFormat = LogFormat::Json;
  EngineConfig engine;  // policy + limits
  ReplayConfig replay;
  RunConfig run;
  RulesConfig rules;
  bool printConfig = false;  // --print-config: echo the effective config and exit
  friend bool operator==(const AppConfig&, const AppConfig&) = default;
};

}  // namespace ftpalg::app
