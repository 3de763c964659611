#include "wiring.hpp"

#include "../log/jsonl_event_log.hpp"
#include "../log/log_file.hpp"
#include "../log/text_event_log.hpp"

namespace ftpalg::app {

Result<std::unique_ptr<EventLog>> openEventLog(const AppConfig& config, std::string_view mode) {
  const log::OpenMode openMode = mode == kModeReplay ? log::OpenMode::Truncate : log::OpenMode::Append;
  auto file = log::LogFile::open(config.logPath, openMode);
  if (!file) return Err{"--log: " + file.error()};
  std::unique_ptr<EventLog> eventLog;
  switch (config.logFormat) {
    case LogFormat::Json:
      eventLog = std::make_unique<log::JsonlEventLog>(std::move(file.value()), std::string(mode));
      break;
    case LogFormat::Text:
      eventLog = std::make_unique<log::TextEventLog>(std::move(file.value()), std::string(mode));
      break;
  }
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
