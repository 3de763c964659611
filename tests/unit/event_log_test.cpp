// The decision log's two formats, line by line. Every expected line is written out from
// docs/log-schema.md (its JSON example is pcap-fixtures/nat-active-port-snat/expected.jsonl; its
// text example and rules: "nat_to=none stands for null", "inspection_stopped is yes or no",
// "line text is quoted with the JSON escaping", "flow is null on the stats line"), not from the
// code's own output.
#include "log/event_log.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "log/event_fields.hpp"

namespace ftpalg {
namespace {

Endpoint endpoint(std::string_view text) {
  auto parsed = Endpoint::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Endpoint{});
}

IpAddress address(std::string_view text) {
  auto parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

Timestamp at(std::int64_t micros) { return Timestamp{micros * 1000}; }

const FlowKey kFlow{endpoint("192.168.77.10:40000"), endpoint("203.0.113.10:21")};
constexpr std::int64_t kT0 = 1700000000'000000;  // microseconds

std::string json(const ObservationBody& body, std::int64_t micros, std::string_view mode = "replay") {
  return log::observationLine(log::LineFormat::Json, Observation{at(micros), kFlow, body}, mode);
}
std::string text(const ObservationBody& body, std::int64_t micros, std::string_view mode = "replay") {
  return log::observationLine(log::LineFormat::Text, Observation{at(micros), kFlow, body}, mode);
}

Pinhole fixturePinhole() {
  Pinhole pinhole;
  pinhole.control = kFlow;
  pinhole.from = address("203.0.113.10");
  pinhole.to = endpoint("203.0.113.1:50000");
  pinhole.natTo = endpoint("192.168.77.10:50000");
  pinhole.timeout = std::chrono::seconds(30);
  return pinhole;
}

Rewrite fixtureRewrite() {
  return Rewrite{Direction::ClientToServer, AddressVerb::Port, "PORT 192,168,77,10,195,80",
                 "PORT 203,0,113,1,195,80"};
}

// The counters of the fixture's stats line, in FTPALG_STATS order.
Stats fixtureStats() {
  Stats stats;
  const std::uint64_t values[] = {30, 9, 0, 0, 0, 284, 12, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  static_assert(std::size(values) == static_cast<std::size_t>(Stat::Count_));
  for (std::size_t i = 0; i < std::size(values); ++i) stats.values[i] = values[i];
  return stats;
}

TEST(JsonEventLog, TheSchemaExampleLineByLine) {
  EXPECT_EQ(
      json(SessionOpened{}, kT0 + 1000),
      R"({"ts":1700000000.001000,"event":"session_open","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay"})");
  EXPECT_EQ(
      json(fixtureRewrite(), kT0 + 14000),
      R"({"ts":1700000000.014000,"event":"rewrite","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","dir":"c2s","verb":"PORT","before":"PORT 192,168,77,10,195,80","after":"PORT 203,0,113,1,195,80"})");
  EXPECT_EQ(
      json(PinholeOpened{fixturePinhole()}, kT0 + 14000),
      R"({"ts":1700000000.014000,"event":"pinhole","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","from":"203.0.113.10","to":"203.0.113.1:50000","nat_to":"192.168.77.10:50000","timeout_s":30})");
  EXPECT_EQ(
      json(PinholeClosed{fixturePinhole(), Reason::SessionClosed}, kT0 + 37000),
      R"({"ts":1700000000.037000,"event":"pinhole_close","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","from":"203.0.113.10","to":"203.0.113.1:50000","reason":"session_closed"})");
  EXPECT_EQ(
      json(SessionClosedObs{Reason::Fin}, kT0 + 37000),
      R"({"ts":1700000000.037000,"event":"session_close","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","reason":"fin"})");
  EXPECT_EQ(
      log::statsLine(log::LineFormat::Json, at(kT0 + 38000), fixtureStats(), "replay"),
      R"({"ts":1700000000.038000,"event":"stats","flow":null,"mode":"replay","packets_seen":30,"packets_modified":9,"packets_held":0,"packets_dropped":0,"packets_malformed":0,"payload_bytes":284,"lines_parsed":12,"sessions_opened":1,"sessions_closed":1,"sessions_refused_at_limit":0,"rewrites":1,"pinholes_opened":1,"pinholes_closed":1,"rejects":0,"anomalies":0,"flows_uninspected":0,"retransmissions":0,"segments_trimmed":0,"packets_bad_checksum":0})");
}

TEST(JsonEventLog, RejectAnomalyAndOpaqueCarryTheirKeysInSchemaOrder) {
  EXPECT_EQ(
      json(Reject{Direction::ServerToClient, AddressVerb::Reply227, Reason::UnsolicitedReply,
                  "227 Entering Passive Mode (10,0,0,1,4,1)"},
           kT0, "live"),
      R"json({"ts":1700000000.000000,"event":"reject","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"live","dir":"s2c","verb":"227","reason":"unsolicited_reply","line":"227 Entering Passive Mode (10,0,0,1,4,1)"})json");
  EXPECT_EQ(
      json(AnomalyObs{Direction::ClientToServer, Reason::LineTooLong, true}, kT0, "dry-run"),
      R"({"ts":1700000000.000000,"event":"anomaly","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"dry-run","dir":"c2s","reason":"line_too_long","inspection_stopped":true})");
  EXPECT_EQ(
      json(AnomalyObs{Direction::ServerToClient, Reason::RetransmissionConflict, false}, kT0),
      R"({"ts":1700000000.000000,"event":"anomaly","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","dir":"s2c","reason":"retransmission_conflict","inspection_stopped":false})");
  EXPECT_EQ(
      json(OpaqueObs{Reason::TlsNegotiated}, kT0),
      R"({"ts":1700000000.000000,"event":"opaque","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","reason":"tls_negotiated"})");
}

TEST(JsonEventLog, APinholeWithoutNatHasNullNatTo) {
  Pinhole pinhole = fixturePinhole();
  pinhole.natTo.reset();
  EXPECT_EQ(
      json(PinholeOpened{pinhole}, kT0),
      R"({"ts":1700000000.000000,"event":"pinhole","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","from":"203.0.113.10","to":"203.0.113.1:50000","nat_to":null,"timeout_s":30})");
}

TEST(JsonEventLog, TheEnginesEscapesAreEscapedAgainSoEveryLineIsJson) {
  // The schema's example: the client line P<0xFF><0xF4>ORT ..., escaped by the engine.
  const Reject reject{Direction::ClientToServer, AddressVerb::Port, Reason::NonPrintable,
                      R"(P\xff\xf4ORT 192,168,77,10,195,80)"};
  EXPECT_EQ(
      json(reject, kT0),
      R"({"ts":1700000000.000000,"event":"reject","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","dir":"c2s","verb":"PORT","reason":"nonprintable_bytes","line":"P\\xff\\xf4ORT 192,168,77,10,195,80"})");
  // Defensively, raw quotes and control bytes that reach the log are escaped too.
  const Reject raw{Direction::ClientToServer, AddressVerb::Eprt, Reason::BadSyntax, "EPRT \"\x01"};
  EXPECT_EQ(
      json(raw, kT0),
      R"({"ts":1700000000.000000,"event":"reject","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","dir":"c2s","verb":"EPRT","reason":"bad_syntax","line":"EPRT \"\u0001"})");
}

TEST(JsonEventLog, IPv6FlowsAndEndpointsAreBracketed) {
  const FlowKey flow{endpoint("[2001:db8::10]:40000"), endpoint("[2001:db8:1::10]:21")};
  EXPECT_EQ(
      log::observationLine(log::LineFormat::Json, Observation{at(kT0), flow, SessionOpened{}}, "replay"),
      R"({"ts":1700000000.000000,"event":"session_open","flow":"[2001:db8::10]:40000-[2001:db8:1::10]:21","mode":"replay"})");
}

TEST(TextEventLog, TheSchemaExampleLines) {
  EXPECT_EQ(
      text(fixtureRewrite(), kT0 + 14000),
      R"(1700000000.014000 info replay rewrite 192.168.77.10:40000-203.0.113.10:21 dir=c2s verb=PORT before="PORT 192,168,77,10,195,80" after="PORT 203,0,113,1,195,80")");
  EXPECT_EQ(text(PinholeOpened{fixturePinhole()}, kT0 + 14000),
            "1700000000.014000 info replay pinhole 192.168.77.10:40000-203.0.113.10:21 from=203.0.113.10 "
            "to=203.0.113.1:50000 nat_to=192.168.77.10:50000 timeout_s=30");
  EXPECT_EQ(log::statsLine(log::LineFormat::Text, at(kT0 + 38000), fixtureStats(), "replay"),
            "1700000000.038000 info replay stats - packets_seen=30 packets_modified=9 packets_held=0 "
            "packets_dropped=0 packets_malformed=0 payload_bytes=284 lines_parsed=12 sessions_opened=1 "
            "sessions_closed=1 sessions_refused_at_limit=0 rewrites=1 pinholes_opened=1 pinholes_closed=1 "
            "rejects=0 anomalies=0 flows_uninspected=0 retransmissions=0 segments_trimmed=0 "
            "packets_bad_checksum=0");
}

TEST(TextEventLog, EveryOtherEventWithTheSameFactsAsJson) {
  const std::string flow = " 192.168.77.10:40000-203.0.113.10:21";
  EXPECT_EQ(text(SessionOpened{}, kT0, "live"), "1700000000.000000 info live session_open" + flow);
  EXPECT_EQ(text(SessionClosedObs{Reason::IdleTimeout}, kT0),
            "1700000000.000000 info replay session_close" + flow + " reason=idle_timeout");
  EXPECT_EQ(text(PinholeClosed{fixturePinhole(), Reason::Expired}, kT0),
            "1700000000.000000 info replay pinhole_close" + flow +
                " from=203.0.113.10 to=203.0.113.1:50000 reason=expired");
  EXPECT_EQ(text(Reject{Direction::ClientToServer, AddressVerb::Port, Reason::NonPrintable,
                        R"(P\xff\xf4ORT 192,168,77,10,195,80)"},
                 kT0, "dry-run"),
            "1700000000.000000 warning dry-run reject" + flow +
                R"( dir=c2s verb=PORT reason=nonprintable_bytes line="P\\xff\\xf4ORT 192,168,77,10,195,80")");
  EXPECT_EQ(text(AnomalyObs{Direction::ServerToClient, Reason::HoldTimeout, true}, kT0),
            "1700000000.000000 warning replay anomaly" + flow +
                " dir=s2c reason=hold_timeout inspection_stopped=yes");
  EXPECT_EQ(text(AnomalyObs{Direction::ClientToServer, Reason::SegmentTrimmed, false}, kT0),
            "1700000000.000000 warning replay anomaly" + flow +
                " dir=c2s reason=segment_trimmed_for_mss inspection_stopped=no");
  EXPECT_EQ(text(OpaqueObs{Reason::CleartextResumed}, kT0),
            "1700000000.000000 notice replay opaque" + flow + " reason=cleartext_resumed");
  Pinhole pinhole = fixturePinhole();
  pinhole.natTo.reset();
  EXPECT_EQ(text(PinholeOpened{pinhole}, kT0),
            "1700000000.000000 info replay pinhole" + flow +
                " from=203.0.113.10 to=203.0.113.1:50000 nat_to=none timeout_s=30");
}

TEST(SyslogEventLine, IsTheTextLineWithoutTimeAndLevel) {
  // docs/log-schema.md, "Syslog": the text line without "<ts> <level> ", which syslog records.
  EXPECT_EQ(
      log::observationLine(log::LineFormat::Syslog, Observation{at(kT0), kFlow, SessionOpened{}}, "live"),
      "live session_open 192.168.77.10:40000-203.0.113.10:21");
  EXPECT_EQ(log::observationLine(log::LineFormat::Syslog,
                                 Observation{at(kT0), kFlow, OpaqueObs{Reason::TlsNegotiated}}, "live"),
            "live opaque 192.168.77.10:40000-203.0.113.10:21 reason=tls_negotiated");
}

// The events table of docs/log-schema.md ("| `event` | extra keys | when |") against the one
// description both formats render from: the same events, each with the same keys in order.
std::vector<std::pair<std::string, std::vector<std::string>>> documentedEvents() {
  std::ifstream in(std::string(FTPALG_SOURCE_DIR) + "/docs/log-schema.md");
  EXPECT_TRUE(in.good());
  static const std::regex kRow(R"(^\| `([a-z_]+)` \| ([^|]*) \|)");
  static const std::regex kKey("`([a-z_]+)`");
  std::vector<std::pair<std::string, std::vector<std::string>>> events;
  bool inEvents = false;
  for (std::string row; std::getline(in, row);) {
    if (row.starts_with("#")) inEvents = row == "### Events";
    std::smatch match;
    if (!inEvents || !std::regex_search(row, match, kRow)) continue;
    if (match[2] == "extra keys") continue;  // the table's header row
    std::vector<std::string> keys;
    const std::string column = match[2];
    for (auto it = std::sregex_iterator(column.begin(), column.end(), kKey); it != std::sregex_iterator();
         ++it) {
      keys.push_back((*it)[1]);
    }
    events.emplace_back(match[1], keys);
  }
  return events;
}

struct FieldNames {
  std::vector<std::string> names;
  void word(std::string_view name, std::string_view) { names.emplace_back(name); }
  void line(std::string_view name, std::string_view) { names.emplace_back(name); }
  void optionalWord(std::string_view name, const std::optional<std::string>&) { names.emplace_back(name); }
  void count(std::string_view name, std::uint64_t) { names.emplace_back(name); }
  void flag(std::string_view name, bool) { names.emplace_back(name); }
};

template <std::size_t... I>
std::vector<ObservationBody> oneOfEachEvent(std::index_sequence<I...>) {
  return {ObservationBody(std::in_place_index<I>)...};
}

TEST(EventFields, TheSchemasEventsTableListsEveryEventWithItsKeysInOrder) {
  std::vector<std::pair<std::string, std::vector<std::string>>> described;
  for (const ObservationBody& body :
       oneOfEachEvent(std::make_index_sequence<std::variant_size_v<ObservationBody>>())) {
    FieldNames fields;
    log::describeFields(body, fields);
    described.emplace_back(log::eventName(body), fields.names);
  }
  // The stats line's keys are the counters ("one key per counter"): reasons_test checks them.
  described.emplace_back(log::kStatsEvent, std::vector<std::string>{});
  auto documented = documentedEvents();
  ASSERT_FALSE(documented.empty());
  for (auto& [event, keys] : documented) {
    if (event == log::kStatsEvent) keys.clear();
  }
  EXPECT_EQ(documented, described);
}

// The levels table of docs/log-schema.md ("| `event` | level |") against eventSeverity().
TEST(EventFields, TheSchemasLevelsTableGivesEveryEventItsLevel) {
  std::ifstream in(std::string(FTPALG_SOURCE_DIR) + "/docs/log-schema.md");
  ASSERT_TRUE(in.good());
  static const std::regex kRow(R"(^\| `([a-z_]+)` \| ([a-z]+) \|)");
  std::vector<std::pair<std::string, std::string>> documented;
  bool inLevels = false;
  for (std::string row; std::getline(in, row);) {
    if (row.starts_with("#")) inLevels = row == "## Levels";
    std::smatch match;
    if (inLevels && std::regex_search(row, match, kRow)) documented.emplace_back(match[1], match[2]);
  }
  std::vector<std::pair<std::string, std::string>> coded;
  for (const ObservationBody& body :
       oneOfEachEvent(std::make_index_sequence<std::variant_size_v<ObservationBody>>())) {
    coded.emplace_back(log::eventName(body), log::severityName(log::eventSeverity(body)));
  }
  coded.emplace_back(log::kStatsEvent, log::severityName(log::kStatsSeverity));
  EXPECT_EQ(documented, coded);
}

}  // namespace
}  // namespace ftpalg
