#include "event_log.hpp"

#include "event_fields.hpp"
#include "log_text.hpp"

namespace ftpalg::log {

namespace {

// {"ts":...,"event":...,"flow":...,"mode":..., then ,"key":value per field, then }.
class JsonLine {
 public:
  JsonLine(Timestamp ts, std::string_view event, const FlowKey* flow, std::string_view mode) {
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

// <ts> <mode> <event> <flow or ->, then " key=value" per field.
class TextLine {
 public:
  TextLine(Timestamp ts, std::string_view event, const FlowKey* flow, std::string_view mode) {
    out_.reserve(200);
    out_.append(formatSeconds(ts));
    out_.push_back(' ');
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
std::string render(const Observation& observation, std::string_view mode) {
  Line line(observation.ts, eventName(observation.body), &observation.flow, mode);
  describeFields(observation.body, line);
  return std::move(line).finish();
}

template <typename Line>
std::string render(Timestamp ts, const Stats& stats, std::string_view mode) {
  Line line(ts, kStatsEvent, nullptr, mode);
  describeFields(stats, line);
  return std::move(line).finish();
}

}  // namespace

std::string observationLine(LineFormat format, const Observation& observation, std::string_view mode) {
  switch (format) {
    case LineFormat::Json: return render<JsonLine>(observation, mode);
    case LineFormat::Text: return render<TextLine>(observation, mode);
  }
  return {};
}

std::string statsLine(LineFormat format, Timestamp ts, const Stats& stats, std::string_view mode) {
  switch (format) {
    case LineFormat::Json: return render<JsonLine>(ts, stats, mode);
    case LineFormat::Text: return render<TextLine>(ts, stats, mode);
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

}  // namespace ftpalg::log
