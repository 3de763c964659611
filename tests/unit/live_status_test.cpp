// The status and metrics text (src/app/live_status.hpp): the JSON `ftpalg status --json` prints
// and the Prometheus text exposition format (version 0.0.4: `# TYPE`, cumulative `_bucket{le=}`
// ending with +Inf equal to `_count`), from a hand-built snapshot of two workers.
#include "app/live_status.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ftpalg::app {
namespace {

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

std::vector<WorkerStatus> twoWorkers() {
  WorkerStatus first;
  first.queue = 0;
  first.engine.taken = Timestamp{10'000'000'000};
  SessionSnapshot session;
  session.flow = FlowKey{ep("192.168.77.10:40000"), ep("203.0.113.10:21")};
  session.channel = ChannelState::Inspecting;
  session.awaitingPassiveReply = true;
  session.pendingCommands = 1;
  session.idle = std::chrono::milliseconds(250);
  session.clientToServer.delivered = 44;
  session.clientToServer.emitted = 44;
  session.serverToClient.delivered = 100;
  session.serverToClient.emitted = 97;
  session.serverToClient.outputDelta = -3;
  first.engine.sessions.push_back(session);
  Pinhole pinhole;
  pinhole.id = 7;
  pinhole.control = session.flow;
  pinhole.from = *IpAddress::parse("203.0.113.10");
  pinhole.to = ep("203.0.113.1:50000");
  pinhole.natTo = ep("192.168.77.10:50000");
  pinhole.expires = Timestamp{12'500'000'000};
  first.engine.pinholes.push_back(pinhole);
  first.engine.stats.add(Stat::PacketsSeen, 12);
  first.engine.stats.add(Stat::PinholesOpened, 1);
  first.latency.add(std::chrono::microseconds(20));   // bucket le=2.5e-05
  first.latency.add(std::chrono::microseconds(300));  // le=0.0005
  WorkerStatus second;
  second.queue = 1;
  second.engine.taken = first.engine.taken;
  second.engine.stats.add(Stat::PacketsSeen, 3);
  second.latency.add(std::chrono::seconds(1));  // beyond the last bound: +Inf only
  return {first, second};
}

TEST(StatusJson, CountersSessionsPinholesAndLatency) {
  const std::string json =
      statusJson(DaemonStatus{42, "live", "running", std::chrono::seconds(5)}, twoWorkers());
  EXPECT_EQ(
      json.rfind(
          R"({"daemon":{"pid":42,"mode":"live","status":"running","uptime_seconds":5,"queues":[0,1]},)", 0),
      0u)
      << json;
  EXPECT_NE(json.find(R"("packets_seen":15,)"), std::string::npos) << json;  // summed over the workers
  EXPECT_NE(
      json.find(
          R"({"queue":0,"flow":"192.168.77.10:40000-203.0.113.10:21","state":"inspecting","finished":false,)"
          R"("idle_ms":250,"pending_announcement":{"awaiting_passive_reply":true,"pending_commands":1,)"
          R"("held_packets":0,"held_bytes":0},"pinhole":null,)"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("server_to_client":{"delivered":100,"emitted":97,"output_delta":-3,)"),
            std::string::npos)
      << json;
  EXPECT_NE(
      json.find(R"({"queue":0,"id":7,"control":"192.168.77.10:40000-203.0.113.10:21","from":"203.0.113.10",)"
                R"("to":"203.0.113.1:50000","nat_to":"192.168.77.10:50000","announced_by":"client",)"
                R"("expires_in_ms":2500})"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("verdict_latency":{"count":3,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"le":2.5e-05,"count":1})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"le":0.0005,"count":2})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"le":"+Inf","count":3}]}})"), std::string::npos) << json;
}

TEST(Metrics, PrometheusTextWithCountersGaugesAndACumulativeHistogram) {
  const std::string text = metricsText(twoWorkers());
  EXPECT_NE(text.find("# TYPE ftpalg_packets_seen_total counter\nftpalg_packets_seen_total 15\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ftpalg_pinholes_opened_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE ftpalg_sessions gauge\nftpalg_sessions 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ftpalg_pinholes 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE ftpalg_verdict_latency_seconds histogram\n"
                      "ftpalg_verdict_latency_seconds_bucket{le=\"1e-05\"} 0\n"
                      "ftpalg_verdict_latency_seconds_bucket{le=\"2.5e-05\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ftpalg_verdict_latency_seconds_bucket{le=\"0.25\"} 2\n"
                      "ftpalg_verdict_latency_seconds_bucket{le=\"+Inf\"} 3\n"
                      "ftpalg_verdict_latency_seconds_sum 1.00032\n"
                      "ftpalg_verdict_latency_seconds_count 3\n"),
            std::string::npos)
      << text;
  // Every counter of the closed list is there.
  for (std::size_t i = 0; i < static_cast<std::size_t>(Stat::Count_); ++i) {
    const std::string name = "ftpalg_" + std::string(statName(static_cast<Stat>(i))) + "_total ";
    EXPECT_NE(text.find("\n" + name), std::string::npos) << name;
  }
}

TEST(Mailbox, AnAnswerAfterTheRequestAndNoneAfterClose) {
  Mailbox<int> box;
  EXPECT_FALSE(box.takeRequest());
  const auto ticket = box.request();
  EXPECT_TRUE(box.takeRequest());
  EXPECT_FALSE(box.takeRequest());
  box.publish(5);
  EXPECT_EQ(box.waitForAnswer(ticket, std::chrono::steady_clock::now()), std::optional<int>(5));
  const auto later = box.request();
  box.close();
  EXPECT_EQ(box.waitForAnswer(later, std::chrono::steady_clock::now() + std::chrono::seconds(5)),
            std::nullopt);
}

}  // namespace
}  // namespace ftpalg::app
