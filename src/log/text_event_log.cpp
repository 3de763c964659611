#include "text_event_log.hpp"

#include <variant>

#include "log_text.hpp"

namespace ftpalg::log {

namespace {

void word(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(' ');
  out.append(name);
  out.push_back('=');
  out.append(value);
}

void quoted(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(' ');
  out.append(name);
  out.push_back('=');
  appendJsonString(out, value);
}

void prefix(std::string& out, Timestamp ts, std::string_view mode, std::string_view event,
            std::string_view flow) {
  out.append(formatSeconds(ts));
  out.push_back(' ');
  out.append(mode);
  out.push_back(' ');
  out.append(event);
  out.push_back(' ');
  out.append(flow);
}

struct TextBody {
  std::string& out;

  void operator()(const SessionOpened&) const {}
  void operator()(const SessionClosedObs& closed) const {
    word(out, "reason", reasonName(closed.reason));
  }
  void operator()(const Rewrite& rewrite) const {
    word(out, "dir", directionName(rewrite.dir));
    word(out, "verb", verbName(rewrite.verb));
    quoted(out, "before", rewrite.before);
    quoted(out, "after", rewrite.after);
  }
  void operator()(const PinholeOpened& opened) const {
    const Pinhole& pinhole = opened.pinhole;
    word(out, "from", pinhole.from.toString());
    word(out, "to", pinhole.to.toString());
    word(out, "nat_to", pinhole.natTo ? pinhole.natTo->toString() : std::string("none"));
    word(out, "timeout_s", std::to_string(pinhole.timeout.count()));
  }
  void operator()(const PinholeClosed& closed) const {
    word(out, "from", closed.pinhole.from.toString());
    word(out, "to", closed.pinhole.to.toString());
    word(out, "reason", reasonName(closed.reason));
  }
  void operator()(const Reject& reject) const {
    word(out, "dir", directionName(reject.dir));
    word(out, "verb", verbName(reject.verb));
    word(out, "reason", reasonName(reject.reason));
    quoted(out, "line", reject.line);
  }
  void operator()(const AnomalyObs& anomaly) const {
    word(out, "dir", directionName(anomaly.dir));
    word(out, "reason", reasonName(anomaly.reason));
    word(out, "inspection_stopped", anomaly.inspectionStopped ? "yes" : "no");
  }
  void operator()(const OpaqueObs& opaque) const { word(out, "reason", reasonName(opaque.reason)); }
};

constexpr std::string_view kEventNames[] = {"session_open", "session_close", "rewrite",
                                            "pinhole",      "pinhole_close", "reject",
                                            "anomaly",      "opaque"};
static_assert(std::variant_size_v<ObservationBody> == std::size(kEventNames),
              "every observation type needs an event name");

}  // namespace

std::string textObservationLine(const Observation& observation, std::string_view mode) {
  std::string out;
  out.reserve(200);
  prefix(out, observation.ts, mode, kEventNames[observation.body.index()], observation.flow.toString());
  std::visit(TextBody{out}, observation.body);
  return out;
}

std::string textStatsLine(Timestamp ts, const Stats& stats, std::string_view mode) {
  std::string out;
  prefix(out, ts, mode, "stats", "-");
  for (std::size_t i = 0; i < static_cast<std::size_t>(Stat::Count_); ++i) {
    word(out, statName(static_cast<Stat>(i)), std::to_string(stats.values[i]));
  }
  return out;
}

void TextEventLog::record(const Observation& observation) {
  std::string line = textObservationLine(observation, mode_);
  line.push_back('\n');
  file_->write(line);
}

void TextEventLog::recordStats(Timestamp ts, const Stats& stats) {
  std::string line = textStatsLine(ts, stats, mode_);
  line.push_back('\n');
  file_->write(line);
}

}  // namespace ftpalg::log
