// Wiring: the one place that chooses implementations of the shell's ports
// (include/ftpalg/io/interfaces.hpp) from an AppConfig. Live mode, dry-run and replay share the
// engine and the OutcomeExecutor and differ only in what these functions return; the runners
// never test --dry-run themselves. Runners call them once at start-up; every factory that can fail
// returns a Result whose error names the option or file involved (printed after "ftpalg: ", then
// ExitCode::BadOptions).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "app_config.hpp"
#include "firewall/pinhole_table.hpp"
#include "ftpalg/core/result.hpp"
#include "ftpalg/engine/static_flow_resolver.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::app {

// The "mode" field of every decision-log line.
inline constexpr std::string_view kModeLive = "live";
inline constexpr std::string_view kModeDryRun = "dry-run";
inline constexpr std::string_view kModeReplay = "replay";

// The decision log chosen by --log (file or "-") and --log-format (json | text), plus a copy
// to syslog with `run --syslog`. Replay truncates the file (it holds exactly one run) and writes
// it in blocks; live modes append, flush every line and reopen on SIGHUP.
Result<std::unique_ptr<EventLog>> openEventLog(const AppConfig& config, std::string_view mode);

// The live mode name for config.run.dryRun.
std::string_view liveMode(const AppConfig& config);

// The pinhole backend live mode uses with sequence owner `owner` (the effective one, after
// runLive's probe): --pinhole-backend, `auto` resolved (conntrack for Kernel, nft for Engine);
// None with --dry-run (the dry-run backend installs nothing).
PinholeBackendKind livePinholeBackend(const AppConfig& config, SequenceOwner owner);

// ftpalg's nft table live mode creates (firewall/pinhole_table.hpp owns it), or nullopt for none:
// the anchor with `owner` Kernel (also with --dry-run: the queue rules select anchored
// connections), the pinhole maps with the nft backend.
std::optional<firewall::NftTableSpec> liveTableSpec(const AppConfig& config, SequenceOwner owner);

// The pinhole backend of one live queue (livePinholeBackend()): an nft backend attached to
// `table` (created by runLive from liveTableSpec()), a conntrack-expectation backend with its own
// ctnetlink socket, or the dry-run backend, which installs nothing.
Result<std::unique_ptr<PinholeBackend>> makeLivePinholeBackend(const AppConfig& config, SequenceOwner owner,
                                                               const firewall::PinholeTable* table);

// The kernel session port of one live queue: the ctnetlink port (its own socket) with `owner`
// Kernel, else (engine-owned mode, whose engine never calls it, and --dry-run) the recording one.
Result<std::unique_ptr<KernelSessionPort>> makeLiveKernelSessionPort(const AppConfig& config,
                                                                     SequenceOwner owner);

// The verdict sink of one live worker. Normally its queue's own sink (the engine's verdicts
// reach the kernel as decided). With --dry-run (and `queueSink` nullptr: an NFLOG copy feed,
// io/nflog_source.hpp) a sink that answers nothing: the packets went on when they were copied.
// `sink` refers to `*queueSink` or to `owned`; it must not outlive the queue.
struct LiveVerdictSink {
  VerdictSink& sink;
  std::unique_ptr<VerdictSink> owned;
};
LiveVerdictSink makeLiveVerdictSink(const AppConfig& config, VerdictSink* queueSink);

// Replay's flow identity and NAT: --control-port, --snat and --dnat.
std::unique_ptr<FlowResolver> makeReplayResolver(const AppConfig& config);
// Replay installs nothing: the dry-run backend (the decision log shows every pinhole).
std::unique_ptr<PinholeBackend> makeReplayPinholeBackend(const AppConfig& config);
// Replay writes nothing to the kernel: the recording session port.
std::unique_ptr<KernelSessionPort> makeReplayKernelSessionPort(const AppConfig& config);

}  // namespace ftpalg::app
