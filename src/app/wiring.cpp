#include "wiring.hpp"

#include "../log/event_log.hpp"
#include "../log/log_file.hpp"

namespace ftpalg::app {

Result<std::unique_ptr<EventLog>> openEventLog(const AppConfig& config, std::string_view mode) {
  const log::OpenMode openMode = mode == kModeReplay ? log::OpenMode::Truncate : log::OpenMode::Append;
  auto file = log::LogFile::open(config.logPath, openMode);
  if (!file) return Err{"--log: " + file.error()};
  log::LineFormat format = log::LineFormat::Json;
  switch (config.logFormat) {
    case LogFormat::Json: format = log::LineFormat::Json; break;
    case LogFormat::Text: format = log::LineFormat::Text; break;
  }
  std::unique_ptr<EventLog> eventLog =
      std::make_unique<log::FileEventLog>(format, std::move(file.value()), std::string(mode));
  return eventLog;
}

std::string_view liveMode(const AppConfig& config) {
  return config.run.dryRun ? kModeDryRun : kModeLive;
}

StaticNatRules replayNatRules(const AppConfig& config) {
  StaticNatRules rules;
  rules.controlPorts = config.controlPorts;
  rules.snat = config.replay.snat;
  rules.dnat = config.replay.dnat;
  return rules;
}

std::unique_ptr<FlowResolver> makeReplayResolver(const AppConfig& config) {
  return std::make_unique<StaticFlowResolver>(replayNatRules(config));
}

}  // namespace ftpalg::app
