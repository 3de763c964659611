// Engine micro-benchmarks (issue 6, docs/performance.md): nanoseconds per packet through
// Engine::onPacket for the packet kinds an FTP ALG sees, and the cost of the flow table as the
// number of tracked sessions grows.
//
// Every benchmark reports items_per_second (the item is named in its label) and "pkt_time", the
// time per packet through the engine. The harness (bench_driver.hpp) patches prebuilt packets in
// place: a few stores per packet, included in the figures.
//
// Topology (replay-style StaticFlowResolver, as `ftpalg replay --snat ... --dnat ...`):
//  - active mode: inside client 192.168.77.10 masqueraded as 203.0.113.1, server 198.51.100.7:21;
//  - passive mode: outside client 198.51.100.7, server 192.168.78.10:21 port-forwarded from
//    203.0.113.1:21.
//
// Rate limiter: each session may open Limits::pinholesPerSecond (20) pinholes per second, burst
// 40. The PORT and 227 benchmarks advance the engine clock by 100 ms before each announcement
// (2 tokens' worth), so every announcement passes the limiter and takes the full rewrite +
// pinhole path; the "rewrites" and "pinholes" counters (per announcement) prove it: both are 1.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <numeric>
#include <random>
#include <unordered_map>

#include "bench_driver.hpp"
#include "ftpalg/engine/static_flow_resolver.hpp"

namespace ftpalg::bench {
namespace {

using namespace std::chrono_literals;

const Endpoint kInsideClient = testing::ep("192.168.77.10:40000");
const Endpoint kOutsideServer = testing::ep("198.51.100.7:21");
const Endpoint kOutsideClient = testing::ep("198.51.100.7:40000");
const Endpoint kForwardedServer = testing::ep("203.0.113.1:21");  // as the outside client sees it

StaticNatRules natRules() {
  StaticNatRules rules;
  rules.snat.push_back(SnatRule{*IpPrefix::parse("192.168.77.0/24"), testing::ip("203.0.113.1")});
  rules.dnat.push_back(DnatRule{testing::ep("203.0.113.1:21"), testing::ep("192.168.78.10:21")});
  return rules;
}

struct Fixture {
  explicit Fixture(EngineConfig config = {}) : engine(config) {}
  StaticFlowResolver resolver{natRules()};
  Engine engine;
  Driver driver{engine, resolver};
};

// The flow-table engines live through many benchmark repetitions and the timer-scan benchmark
// advances their clock by a second per scan: an idle timeout of 10 days keeps their sessions.
EngineConfig longLivedConfig() {
  EngineConfig config;
  config.limits.sessionIdleTimeout = std::chrono::hours(240);
  return config;
}

// Counters common to every benchmark: packets through the engine and time per packet.
void reportPackets(benchmark::State& state, const Driver& driver, std::uint64_t packetsBefore) {
  const auto packets = static_cast<double>(driver.counters.packets - packetsBefore);
  state.counters["pkt_time"] =
      benchmark::Counter(packets, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void reportPerAnnouncement(benchmark::State& state, const Engine& engine, Stats before) {
  const double n = static_cast<double>(state.iterations());
  const auto delta = [&](Stat s) { return static_cast<double>(engine.stats().get(s) - before.get(s)) / n; };
  state.counters["rewrites"] = delta(Stat::Rewrites);
  state.counters["pinholes"] = delta(Stat::PinholesOpened);
  state.counters["rejects"] = delta(Stat::Rejects);
}

// Reference: PacketView::parse alone, the floor of any per-packet work.
void BM_ParseOnly(benchmark::State& state) {
  Template t = Template::make("NOOP\r\n");
  for (auto _ : state) {
    auto view = PacketView::parse(t.bytes);
    benchmark::DoNotOptimize(view);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("packets");
}
BENCHMARK(BM_ParseOnly);

// (a) Control packets that carry no address: NOOP and its 200 reply, on an established session
// without any rewrite so far (no seq/ack translation).
void BM_ControlNoAddress(benchmark::State& state) {
  Fixture f;
  Conn c{kInsideClient, kOutsideServer};
  f.driver.establish(c);
  Template noop = Template::make("NOOP\r\n");
  Template ok = Template::make("200 NOOP ok.\r\n");
  const std::uint64_t before = f.driver.counters.packets;
  for (auto _ : state) {
    f.driver.send(c, true, noop);
    f.driver.send(c, false, ok);
  }
  state.SetItemsProcessed(state.iterations() * 2);
  state.SetLabel("packets");
  reportPackets(state, f.driver, before);
  if (f.driver.counters.modified != 0 || f.driver.counters.held != 0)
    state.SkipWithError("unexpected rewrite/hold");
}
BENCHMARK(BM_ControlNoAddress);

// (a') The same after one PORT rewrite changed the client stream's length: every later packet
// has its seq (client) or ack (server) translated and is re-emitted (AcceptModified).
void BM_ControlNoAddressTranslated(benchmark::State& state) {
  Fixture f;
  Conn c{kInsideClient, kOutsideServer};
  f.driver.establish(c);
  f.driver.sendSlow(c, true, "PORT 192,168,77,10,195,80\r\n");
  f.driver.sendSlow(c, false, "200 PORT command successful. Consider using PASV.\r\n");
  if (c.clientDelta == 0) state.SkipWithError("setup PORT was not rewritten");
  Template noop = Template::make("NOOP\r\n");
  Template ok = Template::make("200 NOOP ok.\r\n");
  const std::uint64_t before = f.driver.counters.packets;
  for (auto _ : state) {
    f.driver.send(c, true, noop);
    f.driver.send(c, false, ok);
  }
  state.SetItemsProcessed(state.iterations() * 2);
  state.SetLabel("packets");
  reportPackets(state, f.driver, before);
}
BENCHMARK(BM_ControlNoAddressTranslated);

// (b) PORT rewrite with pinhole decision: per iteration one PORT (rewritten, pinhole opened,
// previous pinhole closed as replaced) and its 200 reply (ack translated). Items are PORT
// commands; the time includes the reply packet.
void BM_PortRewrite(benchmark::State& state) {
  Fixture f;
  Conn c{kInsideClient, kOutsideServer};
  f.driver.establish(c);
  Template port = Template::make("PORT 192,168,77,10,195,80\r\n");
  Template ok = Template::make("200 PORT command successful. Consider using PASV.\r\n");
  const Stats stats = f.engine.stats();
  const std::uint64_t before = f.driver.counters.packets;
  for (auto _ : state) {
    f.driver.advance(100ms);  // two tokens of the 20/s pinhole rate limiter
    f.driver.send(c, true, port);
    f.driver.send(c, false, ok);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("PORT commands (+ their 200 reply)");
  reportPackets(state, f.driver, before);
  reportPerAnnouncement(state, f.engine, stats);
}
BENCHMARK(BM_PortRewrite);

// (c) 227 rewrite: per iteration a PASV (seq/ack translated) and its 227 reply (rewritten,
// pinhole to the port-forwarded server opened, the previous one closed). Items are 227 replies;
// the time includes the PASV packet.
void BM_Pasv227Rewrite(benchmark::State& state) {
  Fixture f;
  Conn c{kOutsideClient, kForwardedServer};
  f.driver.establish(c);
  Template pasv = Template::make("PASV\r\n");
  Template reply = Template::make("227 Entering Passive Mode (192,168,78,10,195,80).\r\n");
  const Stats stats = f.engine.stats();
  const std::uint64_t before = f.driver.counters.packets;
  for (auto _ : state) {
    f.driver.advance(100ms);
    f.driver.send(c, true, pasv);
    f.driver.send(c, false, reply);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("227 replies (+ their PASV)");
  reportPackets(state, f.driver, before);
  reportPerAnnouncement(state, f.engine, stats);
}
BENCHMARK(BM_Pasv227Rewrite);

// (d) Segments of a long multi-line reply (HELP: ~57 KB in 1448-byte segments, lines cut at
// segment boundaries, below Limits::maxMultiLineReplyBytes). Items are reply segments; once per
// reply the client's next HELP (1 packet per 40 segments) is included in the time.
void BM_MultiLineReplySegment(benchmark::State& state) {
  Fixture f;
  Conn c{kInsideClient, kOutsideServer};
  f.driver.establish(c);
  std::string reply = "214-The following commands are recognized.\r\n";
  while (reply.size() < 57'000) {
    reply += " ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n";
  }
  reply += "214 Help OK.\r\n";
  std::vector<Template> segments;
  for (std::size_t at = 0; at < reply.size(); at += 1448) {
    segments.push_back(Template::make(std::string_view(reply).substr(at, 1448)));
  }
  Template help = Template::make("HELP\r\n");
  std::size_t next = 0;
  std::int64_t bytes = 0;
  const std::uint64_t before = f.driver.counters.packets;
  const Stats stats = f.engine.stats();
  for (auto _ : state) {
    if (next == 0) f.driver.send(c, true, help);
    f.driver.send(c, false, segments[next]);
    bytes += static_cast<std::int64_t>(segments[next].payloadLength);
    next = (next + 1) % segments.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  state.SetLabel("reply segments");
  reportPackets(state, f.driver, before);
  if (f.engine.stats().get(Stat::Anomalies) != stats.get(Stat::Anomalies)) state.SkipWithError("anomaly");
}
BENCHMARK(BM_MultiLineReplySegment);

// Flow table: N established sessions; packets (NOOP, then on the next pass 200) go to the
// sessions in a fixed random order, so every packet finds a different session (the worst case
// for caches). The engine is built once per N and reused across the library's repetitions.
struct ManySessions {
  std::size_t n = 0;
  std::unique_ptr<Fixture> fixture;
  std::vector<Conn> conns;
  std::vector<std::uint32_t> order;
  std::uint64_t k = 0;  // packets sent in the timed loop so far (pass = k / n)
  long rssAfterSetupKb = 0;
  long rssBeforeSetupKb = 0;
};

ManySessions& manySessions(std::size_t n) {
  static ManySessions s;
  if (s.n == n) return s;
  s = ManySessions{};
  s.rssBeforeSetupKb = peakRssKb();
  s.n = n;
  s.fixture = std::make_unique<Fixture>(longLivedConfig());
  s.conns.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    s.conns.push_back(Conn{insideClient(i), kOutsideServer});
    s.conns.back().clientIsn = static_cast<std::uint32_t>(0x10000000u + i * 7919u);
    s.fixture->driver.establish(s.conns.back());
  }
  s.order.resize(n);
  std::iota(s.order.begin(), s.order.end(), 0u);
  std::shuffle(s.order.begin(), s.order.end(), std::mt19937(42));
  s.rssAfterSetupKb = peakRssKb();
  return s;
}

void BM_FlowTable(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  ManySessions& s = manySessions(n);
  if (s.fixture->engine.sessionCount() != n) state.SkipWithError("sessions missing");
  Template noop = Template::make("NOOP\r\n");
  Template ok = Template::make("200 NOOP ok.\r\n");
  Driver& driver = s.fixture->driver;
  const std::uint64_t before = driver.counters.packets;
  for (auto _ : state) {
    const std::uint64_t pass = s.k / n;
    Conn& c = s.conns[s.order[s.k % n]];
    if (pass % 2 == 0) {
      driver.send(c, true, noop);
    } else {
      driver.send(c, false, ok);
    }
    ++s.k;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("packets");
  reportPackets(state, driver, before);
  state.counters["sessions"] = static_cast<double>(s.fixture->engine.sessionCount());
  state.counters["rss_setup_MB"] = static_cast<double>(s.rssAfterSetupKb - s.rssBeforeSetupKb) / 1024.0;
}
BENCHMARK(BM_FlowTable)->Arg(1000)->Arg(10'000)->Arg(100'000);

// Reference for BM_FlowTable, same access order and harness: a std::unordered_map<FlowKey,
// 1 KB object> lookup that touches 4 cache lines of the object, plus the harness's own Conn
// access. It shows how much of any growth with N the memory hierarchy alone causes.
void BM_FlowTableReference(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  struct Blob {
    std::array<std::uint8_t, 1024> bytes{};
  };
  std::unordered_map<FlowKey, std::unique_ptr<Blob>, FlowKeyHash> table;
  std::vector<Conn> conns;
  for (std::size_t i = 0; i < n; ++i) {
    conns.push_back(Conn{insideClient(i), kOutsideServer});
    table.emplace(FlowKey{conns.back().client, conns.back().server}, std::make_unique<Blob>());
  }
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  std::uint64_t k = 0;
  for (auto _ : state) {
    Conn& c = conns[order[k % n]];
    auto it = table.find(FlowKey{c.client, c.server});
    for (std::size_t line = 0; line < 4; ++line) ++it->second->bytes[line * 256];
    ++c.clientSent;
    ++k;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("lookups");
}
BENCHMARK(BM_FlowTableReference)->Arg(1000)->Arg(10'000)->Arg(100'000);

// Engine::onTimer's periodic sweep over N idle sessions: one iteration is one second of engine
// time, with a timer call every 10 ms (as live mode's poll loop would make). The time per
// iteration is what the sweep costs per second; p99_call_us is the 99th percentile single call: what
// a packet waiting behind the timer is typically delayed by (large tables are swept in slices).
void BM_TimerScan(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  ManySessions& s = manySessions(n);
  Driver& driver = s.fixture->driver;
  Outcome out;
  std::vector<double> callUs;
  callUs.reserve(100 * 1000);
  for (auto _ : state) {
    for (int step = 0; step < 100; ++step) {
      driver.advance(10ms);
      out.clear();
      const auto start = std::chrono::steady_clock::now();
      s.fixture->engine.onTimer(driver.now(), out);
      if (callUs.size() < callUs.capacity()) {
        callUs.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.SetLabel("sessions swept (one second of engine time per iteration)");
  std::sort(callUs.begin(), callUs.end());
  if (!callUs.empty()) state.counters["p99_call_us"] = callUs[callUs.size() * 99 / 100];
  if (s.fixture->engine.sessionCount() != n)
    state.SkipWithError("sessions expired during the scan benchmark");
}
BENCHMARK(BM_TimerScan)->Arg(1000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ftpalg::bench

BENCHMARK_MAIN();
