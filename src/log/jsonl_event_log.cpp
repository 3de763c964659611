#include "jsonl_event_log.hpp"

#include <type_traits>
#include <variant>

#include "log_text.hpp"

namespace ftpalg::log {

namespace {

// Appends ,"key": to an object being built.
void key(std::string& out, std::string_view name) {
  out.push_back(',');
  appendJsonString(out, name);
  out.push_back(':');
}

void stringField(std::string& out, std::string_view name, std::string_view value) {
  key(out, name);
  appendJsonString(out, value);
}

void numberField(std::string& out, std::string_view name, std::uint64_t value) {
  key(out, name);
  out.append(std::to_string(value));
}

void header(std::string& out, Timestamp ts, std::string_view event, const FlowKey* flow,
            std::string_view mode) {
  out.append("{\"ts\":");
  out.append(formatSeconds(ts));
  stringField(out, "event", event);
  key(out, "flow");
  if (flow != nullptr) {
    appendJsonString(out, flow->toString());
  } else {
    out.append("null");
  }
  stringField(out, "mode", mode);
}

void body(std::string& out, const SessionOpened&) { (void)out; }
void body(std::string& out, const SessionClosedObs& closed) {
  stringField(out, "reason", reasonName(closed.reason));
}
void body(std::string& out, const Rewrite& rewrite) {
  stringField(out, "dir", directionName(rewrite.dir));
  stringField(out, "verb", verbName(rewrite.verb));
  stringField(out, "before", rewrite.before);
  stringField(out, "after", rewrite.after);
}
void body(std::string& out, const PinholeOpened& opened) {
  const Pinhole& pinhole = opened.pinhole;
  stringField(out, "from", pinhole.from.toString());
  stringField(out, "to", pinhole.to.toString());
  key(out, "nat_to");
  if (pinhole.natTo) {
    appendJsonString(out, pinhole.natTo->toString());
  } else {
    out.append("null");
  }
  numberField(out, "timeout_s", static_cast<std::uint64_t>(pinhole.timeout.count()));
}
void body(std::string& out, const PinholeClosed& closed) {
  stringField(out, "from", closed.pinhole.from.toString());
  stringField(out, "to", closed.pinhole.to.toString());
  stringField(out, "reason", reasonName(closed.reason));
}
void body(std::string& out, const Reject& reject) {
  stringField(out, "dir", directionName(reject.dir));
  stringField(out, "verb", verbName(reject.verb));
  stringField(out, "reason", reasonName(reject.reason));
  stringField(out, "line", reject.line);
}
void body(std::string& out, const AnomalyObs& anomaly) {
  stringField(out, "dir", directionName(anomaly.dir));
  stringField(out, "reason", reasonName(anomaly.reason));
  key(out, "inspection_stopped");
  out.append(anomaly.inspectionStopped ? "true" : "false");
}
void body(std::string& out, const OpaqueObs& opaque) {
  stringField(out, "reason", reasonName(opaque.reason));
}

constexpr std::string_view eventName(const ObservationBody& observation) {
  constexpr std::string_view kNames[] = {"session_open", "session_close", "rewrite",
                                         "pinhole",      "pinhole_close", "reject",
                                         "anomaly",      "opaque"};
  static_assert(std::variant_size_v<ObservationBody> == std::size(kNames),
                "every observation type needs an event name");
  return kNames[observation.index()];
}

}  // namespace

std::string jsonObservationLine(const Observation& observation, std::string_view mode) {
  std::string out;
  out.reserve(256);
  header(out, observation.ts, eventName(observation.body), &observation.flow, mode);
  std::visit([&out](const auto& event) { body(out, event); }, observation.body);
  out.push_back('}');
  return out;
}

std::string jsonStatsLine(Timestamp ts, const Stats& stats, std::string_view mode) {
  std::string out;
  out.reserve(512);
  header(out, ts, "stats", nullptr, mode);
  for (std::size_t i = 0; i < static_cast<std::size_t>(Stat::Count_); ++i) {
    numberField(out, statName(static_cast<Stat>(i)), stats.values[i]);
  }
  out.push_back('}');
  return out;
}

void JsonlEventLog::record(const Observation& observation) {
  std::string line = jsonObservationLine(observation, mode_);
  line.push_back('\n');
  file_->write(line);
}

void JsonlEventLog::recordStats(Timestamp ts, const Stats& stats) {
  std::string line = jsonStatsLine(ts, stats, mode_);
  line.push_back('\n');
  file_->write(line);
}

}  // namespace ftpalg::log
