// Wiring: the one place that chooses implementations of the shell's ports (DESIGN.md §1) from an
// AppConfig. Live mode, dry-run and replay share the engine and differ only in what these
// functions return. Runners call them once at start-up; every factory that can fail returns a
// Result whose error names the option or file involved (printed after "ftpalg: ", then
// ExitCode::BadOptions).
#pragma once

#include <memory>
#include <string_view>

#include "app_config.hpp"
#include "ftpalg/core/result.hpp"
#include "ftpalg/engine/static_flow_resolver.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::app {

// The "mode" field of every decision-log line.
inline constexpr std::string_view kModeLive = "live";
inline constexpr std::string_view kModeDryRun = "dry-run";
inline constexpr std::string_view kModeReplay = "replay";

// The decision log chosen by --log (file or "-") and --log-format (json | text). Replay
// truncates the file (it holds exactly one run); live modes append (and reopen on SIGHUP).
Result<std::unique_ptr<EventLog>> openEventLog(const AppConfig& config, std::string_view mode);

// The live mode name for config.run.dryRun.
std::string_view liveMode(const AppConfig& config);

// Replay's flow identity and NAT: --control-port, --snat and --dnat.
StaticNatRules replayNatRules(const AppConfig& config);
std::unique_ptr<FlowResolver> makeReplayResolver(const AppConfig& config);

}  // namespace ftpalg::app
