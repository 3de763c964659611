// The decision log's events, described once: each event's name and its own fields in log order
// (docs/log-schema.md, "Events"). Both formats (event_log.cpp: JSON lines and text) render every
// line from this description; they differ only in how they spell each kind of value, which a
// Fields type supplies:
//
//   word(name, text)           a name or an address (never a space or a quote): JSON string / bare
//   line(name, text)           FTP line text, escaped by the engine but attacker-chosen: JSON
//                              string / quoted with the JSON escaping
//   optionalWord(name, text)   a word or nothing (std::optional): JSON string or null / bare or none
//   count(name, n)             a non-negative integer
//   flag(name, b)              true or false / yes or no
//
// Reason and counter names are reasons.hpp's; every line also starts with the fields common to
// all events (ts, event, flow, mode), which each format lays out itself.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "ftpalg/engine/outcome.hpp"
#include "severity.hpp"

namespace ftpalg::log {

// The "event" of each ObservationBody alternative, in the variant's order.
inline constexpr std::string_view kEventNames[] = {"session_open",  "session_close", "rewrite", "pinhole",
                                                   "pinhole_close", "reject",        "anomaly", "opaque"};
static_assert(std::variant_size_v<ObservationBody> == std::size(kEventNames),
              "every observation type needs an event name");
// The counters' line (its flow is none).
inline constexpr std::string_view kStatsEvent = "stats";

constexpr std::string_view eventName(const ObservationBody& body) { return kEventNames[body.index()]; }

// The level of each event (docs/log-schema.md, "Levels"), in the variant's order: the text
// format's second word and the syslog priority. A refused announcement (reject) or a stream
// anomaly means an FTP transfer may fail, or someone tried something: warning. A session ftpalg
// stops reading (opaque: TLS) is notice. The rest is the normal life of a session: info.
inline constexpr Severity kEventSeverities[] = {Severity::Info,    Severity::Info,  Severity::Info,
                                                Severity::Info,    Severity::Info,  Severity::Warning,
                                                Severity::Warning, Severity::Notice};
static_assert(std::size(kEventSeverities) == std::size(kEventNames), "every event needs a level");
// The stats line's level.
inline constexpr Severity kStatsSeverity = Severity::Info;

constexpr Severity eventSeverity(const ObservationBody& body) { return kEventSeverities[body.index()]; }

template <typename Fields>
void describeFields(const SessionOpened&, Fields&) {}

template <typename Fields>
void describeFields(const SessionClosedObs& closed, Fields& fields) {
  fields.word("reason", reasonName(closed.reason));
}

template <typename Fields>
void describeFields(const Rewrite& rewrite, Fields& fields) {
  fields.word("dir", directionName(rewrite.dir));
  fields.word("verb", verbName(rewrite.verb));
  fields.line("before", rewrite.before);
  fields.line("after", rewrite.after);
}

template <typename Fields>
void describeFields(const PinholeOpened& opened, Fields& fields) {
  const Pinhole& pinhole = opened.pinhole;
  fields.word("from", pinhole.from.toString());
  fields.word("to", pinhole.to.toString());
  fields.optionalWord("nat_to", pinhole.natTo ? std::optional(pinhole.natTo->toString()) : std::nullopt);
  fields.count("timeout_s", static_cast<std::uint64_t>(pinhole.timeout.count()));
}

template <typename Fields>
void describeFields(const PinholeClosed& closed, Fields& fields) {
  fields.word("from", closed.pinhole.from.toString());
  fields.word("to", closed.pinhole.to.toString());
  fields.word("reason", reasonName(closed.reason));
}

template <typename Fields>
void describeFields(const Reject& reject, Fields& fields) {
  fields.word("dir", directionName(reject.dir));
  fields.word("verb", verbName(reject.verb));
  fields.word("reason", reasonName(reject.reason));
  fields.line("line", reject.line);
}

template <typename Fields>
void describeFields(const AnomalyObs& anomaly, Fields& fields) {
  fields.word("dir", directionName(anomaly.dir));
  fields.word("reason", reasonName(anomaly.reason));
  fields.flag("inspection_stopped", anomaly.inspectionStopped);
}

template <typename Fields>
void describeFields(const OpaqueObs& opaque, Fields& fields) {
  fields.word("reason", reasonName(opaque.reason));
}

template <typename Fields>
void describeFields(const ObservationBody& body, Fields& fields) {
  std::visit([&fields](const auto& event) { describeFields(event, fields); }, body);
}

// The stats line: one count per counter, in FTPALG_STATS order.
template <typename Fields>
void describeFields(const Stats& stats, Fields& fields) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(Stat::Count_); ++i) {
    fields.count(statName(static_cast<Stat>(i)), stats.values[i]);
  }
}

}  // namespace ftpalg::log
