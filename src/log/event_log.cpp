#include "event_log.hpp"

#include <syslog.h>

#include "event_fields.hpp"
#include "log_text.hpp"

namespace ftpalg::log {

namespace {

// {"ts":...,"event":...,"flow":...,"mode":..., then ,"key":value per field, then }.
class JsonLine {
 public:
  JsonLine(Timestamp ts, Severity /*level: derived from the event, docs/log-schema.md*/,
           std::string_view event, const FlowKey* flow, std::string_view mode, bool /*withTimeAndLevel*/) {
    out_.reserve(256);
    out_.append("{\"ts\":");
    out_.append(formatSeconds(ts));
    word("event", event);
    optionalWord("flow", flow != nullptr ? std::optional(flow->toString()) : std::nullopt);
    word("mode", mode);
  }

  void word(std::string_view name, std::string_view value) {
    key(name);
    appendJsonString(out_, value);
  }
  void line(std::string_view name, std::string_view value) { word(name, value); }
  void optionalWord(std::string_view name, const std::optional<std::string>& value) {
    if (value) {
      word(name, *value);
    } else {
      key(name);
      out_.append("null");
    }
  }
  void count(std::string_view name, std::uint64_t value) {
    key(name);
    out_.append(std::to_string(value));
  }
  void flag(std::string_view name, bool value) {
    key(name);
    out_.append(value ? "true" : "false");
  }

  std::string finish() && {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void key(std::string_view name) {
    out_.push_back(',');
    appendJsonString(out_, name);
    out_.push_back(':');
  }

  std::string out_;
};

// <ts> <level> <mode> <event> <flow or ->, then " key=value" per field; for syslog, which records
// the time and the level itself, without "<ts> <level> ".
class TextLine {
 public:
  TextLine(Timestamp ts, Severity level, std::string_view event, const FlowKey* flow, std::string_view mode,
           bool withTimeAndLevel) {
    out_.reserve(200);
    if (withTimeAndLevel) {
      out_.append(formatSeconds(ts));
      out_.push_back(' ');
      out_.append(severityName(level));
      out_.push_back(' ');
    }
    out_.append(mode);
    out_.push_back(' ');
    out_.append(event);
    out_.push_back(' ');
    out_.append(flow != nullptr ? flow->toString() : "-");
  }

  void word(std::string_view name, std::string_view value) {
    key(name);
    out_.append(value);
  }
  void line(std::string_view name, std::string_view value) {
    key(name);
    appendJsonString(out_, value);
  }
  void optionalWord(std::string_view name, const std::optional<std::string>& value) {
    word(name, value ? std::string_view(*value) : "none");
  }
  void count(std::string_view name, std::uint64_t value) { word(name, std::to_string(value)); }
  void flag(std::string_view name, bool value) { word(name, value ? "yes" : "no"); }

  std::string finish() && { return std::move(out_); }

 private:
  void key(std::string_view name) {
    out_.push_back(' ');
    out_.append(name);
    out_.push_back('=');
  }

  std::string out_;
};

template <typename Line>
std::string render(const Observation& observation, std::string_view mode, bool withTimeAndLevel) {
  Line line(observation.ts, eventSeverity(observation.body), eventName(observation.body), &observation.flow,
            mode, withTimeAndLevel);
  describeFields(observation.body, line);
  return std::move(line).finish();
}

template <typename Line>
std::string render(Timestamp ts, const Stats& stats, std::string_view mode, bool withTimeAndLevel) {
  Line line(ts, kStatsSeverity, kStatsEvent, nullptr, mode, withTimeAndLevel);
  describeFields(stats, line);
  return std::move(line).finish();
}

void sendToSyslog(Severity level, const std::string& line) {
  ::syslog(LOG_DAEMON | severityNumber(level), "%s", line.c_str());
}

}  // namespace

std::string observationLine(LineFormat format, const Observation& observation, std::string_view mode) {
  switch (format) {
    case LineFormat::Json: return render<JsonLine>(observation, mode, true);
    case LineFormat::Text: return render<TextLine>(observation, mode, true);
    case LineFormat::Syslog: return render<TextLine>(observation, mode, false);
  }
  return {};
}

std::string statsLine(LineFormat format, Timestamp ts, const Stats& stats, std::string_view mode) {
  switch (format) {
    case LineFormat::Json: return render<JsonLine>(ts, stats, mode, true);
    case LineFormat::Text: return render<TextLine>(ts, stats, mode, true);
    case LineFormat::Syslog: return render<TextLine>(ts, stats, mode, false);
  }
  return {};
}

void FileEventLog::record(const Observation& observation) {
  std::string line = observationLine(format_, observation, mode_);
  line.push_back('\n');
  file_->write(line);
}

void FileEventLog::recordStats(Timestamp ts, const Stats& stats) {
  std::string line = statsLine(format_, ts, stats, mode_);
  line.push_back('\n');
  file_->write(line);
}

void SyslogEventLog::record(const Observation& observation) {
  sendToSyslog(eventSeverity(observation.body), observationLine(LineFormat::Syslog, observation, mode_));
}

void SyslogEventLog::recordStats(Timestamp ts, const Stats& stats) {
  sendToSyslog(kStatsSeverity, statsLine(LineFormat::Syslog, ts, stats, mode_));
}

void TeeEventLog::record(const Observation& observation) {
  for (const auto& log : logs_) log->record(observation);
}

void TeeEventLog::recordStats(Timestamp ts, const Stats& stats) {
  for (const auto& log : logs_) log->recordStats(ts, stats);
}

void TeeEventLog::flush() {
  for (const auto& log : logs_) log->flush();
}

Status<> TeeEventLog::reopen() {
  Status<> result = okStatus();
  for (const auto& log : logs_) {
    auto reopened = log->reopen();
    if (!reopened && result) result = std::move(reopened);
  }
  return result;
}

std::optional<std::string> TeeEventLog::writeError() const {
  for (const auto& log : logs_) {
    if (auto error = log->writeError()) return error;
  }
  return std::nullopt;
}

}  // namespace ftpalg::log
