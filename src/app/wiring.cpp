#include "wiring.hpp"

#include "../log/event_log.hpp"
#include "../log/log_file.hpp"
#include "backend/dry_run_backend.hpp"
#include "backend/nft_backend.hpp"
#include "backend/recording_session_port.hpp"
#include "io/conntrack_expect_backend.hpp"
#include "io/conntrack_session_port.hpp"
#include "io/nflog_source.hpp"
#include "io/nfqueue_source.hpp"

namespace ftpalg::app {

Result<std::unique_ptr<EventLog>> openEventLog(const AppConfig& config, std::string_view mode) {
  // Replay's log holds exactly one run and is read after it; the daemon's is appended to and read
  // while it runs.
  const bool replay = mode == kModeReplay;
  auto file = log::LogFile::open(config.logPath, replay ? log::OpenMode::Truncate : log::OpenMode::Append,
                                 replay ? log::Flush::Buffered : log::Flush::EachLine);
  if (!file) return Err{"--log: " + file.error()};
  log::LineFormat format = log::LineFormat::Json;
  switch (config.logFormat) {
    case LogFormat::Json: format = log::LineFormat::Json; break;
    case LogFormat::Text: format = log::LineFormat::Text; break;
  }
  std::unique_ptr<EventLog> eventLog =
      std::make_unique<log::FileEventLog>(format, std::move(file.value()), std::string(mode));
  if (!replay && config.run.syslog) {
    std::vector<std::unique_ptr<EventLog>> logs;
    logs.push_back(std::move(eventLog));
    logs.push_back(std::make_unique<log::SyslogEventLog>(std::string(mode)));
    eventLog = std::make_unique<log::TeeEventLog>(std::move(logs));
  }
  return eventLog;
}

std::string_view liveMode(const AppConfig& config) { return config.run.dryRun ? kModeDryRun : kModeLive; }

PinholeBackendKind livePinholeBackend(const AppConfig& config, SequenceOwner owner) {
  if (config.run.dryRun) return PinholeBackendKind::None;
  if (config.run.pinholeBackend != PinholeBackendKind::Auto) return config.run.pinholeBackend;
  return owner == SequenceOwner::Kernel ? PinholeBackendKind::Conntrack : PinholeBackendKind::Nft;
}

std::optional<firewall::NftTableSpec> liveTableSpec(const AppConfig& config, SequenceOwner owner) {
  firewall::NftTableSpec spec;
  spec.table = config.run.nftTable;
  spec.mark = config.run.pinholeMark;
  spec.pinholeMaps = livePinholeBackend(config, owner) == PinholeBackendKind::Nft;
  if (owner == SequenceOwner::Kernel) {
    spec.anchor = firewall::AnchorSpec{config.controlPorts, config.run.controlMark};
  }
  if (!spec.pinholeMaps && !spec.anchor) return std::nullopt;
  return spec;
}

Result<std::unique_ptr<PinholeBackend>> makeLivePinholeBackend(const AppConfig& config, SequenceOwner owner,
                                                               const firewall::PinholeTable* table) {
  switch (livePinholeBackend(config, owner)) {
    case PinholeBackendKind::Nft: {
      if (table == nullptr) return Err(std::string("the nft pinhole backend needs ftpalg's nft table"));
      auto attached = backend::NftBackend::attach(table->spec());
      if (!attached) return Err{attached.error()};
      return std::unique_ptr<PinholeBackend>(std::move(attached.value()));
    }
    case PinholeBackendKind::Conntrack: {
      auto opened = io::ConntrackExpectBackend::open();
      if (!opened) return Err{opened.error()};
      return std::unique_ptr<PinholeBackend>(std::move(opened.value()));
    }
    case PinholeBackendKind::Auto:
    case PinholeBackendKind::None: break;
  }
  return std::unique_ptr<PinholeBackend>(std::make_unique<backend::DryRunBackend>());
}

Result<std::unique_ptr<KernelSessionPort>> makeLiveKernelSessionPort(const AppConfig& config,
                                                                     SequenceOwner owner) {
  if (owner == SequenceOwner::Kernel && !config.run.dryRun) {
    auto opened = io::ConntrackSessionPort::open(config.run.verifiedMark);
    if (!opened) return Err{opened.error()};
    return std::unique_ptr<KernelSessionPort>(std::move(opened.value()));
  }
  return std::unique_ptr<KernelSessionPort>(std::make_unique<backend::RecordingSessionPort>());
}

LiveVerdictSink makeLiveVerdictSink(const AppConfig& config, VerdictSink* queueSink) {
  if (!config.run.dryRun && queueSink != nullptr) return LiveVerdictSink{*queueSink, nullptr};
  auto copies = std::make_unique<io::CopyVerdictSink>();
  VerdictSink& sink = *copies;
  return LiveVerdictSink{sink, std::move(copies)};
}

std::unique_ptr<FlowResolver> makeReplayResolver(const AppConfig& config) {
  StaticNatRules rules;
  rules.controlPorts = config.controlPorts;
  rules.snat = config.replay.snat;
  rules.dnat = config.replay.dnat;
  return std::make_unique<StaticFlowResolver>(std::move(rules));
}

std::unique_ptr<PinholeBackend> makeReplayPinholeBackend(const AppConfig& /*config*/) {
  return std::make_unique<backend::DryRunBackend>();
}

std::unique_ptr<KernelSessionPort> makeReplayKernelSessionPort(const AppConfig& /*config*/) {
  return std::make_unique<backend::RecordingSessionPort>();
}

}  // namespace ftpalg::app
