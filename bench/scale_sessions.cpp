// scale_sessions: 100,000 concurrent FTP control sessions in one Engine (issue 6, item 4).
//
// Builds N established, logged-in sessions (handshake, 220, USER/331, PASS/230, TYPE/200 and,
// with --port, one PORT rewrite + pinhole + 200 each) through Engine::onPacket, then reports
//  - the process's peak resident set size (getrusage ru_maxrss) and the growth per session;
//  - the time per packet of NOOP/200 traffic spread over all N sessions in a random order, next
//    to the same measurement with --small sessions (default 1,000) in the same run.
//
// Usage: scale_sessions [--sessions N] [--small N] [--packets M] [--rounds R] [--port]
// Output: "key value" lines (machine-readable; scripts/bench/*.sh and docs/performance.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>

#include "bench_driver.hpp"
#include "ftpalg/engine/static_flow_resolver.hpp"

using namespace ftpalg;
using namespace ftpalg::bench;

namespace {

struct Options {
  std::size_t sessions = 100'000;
  std::size_t small = 1'000;
  std::size_t packets = 2'000'000;
  int rounds = 5;
  bool port = false;
};

StaticNatRules natRules() {
  StaticNatRules rules;
  rules.snat.push_back(SnatRule{*IpPrefix::parse("192.168.77.0/24"), testing::ip("203.0.113.1")});
  return rules;
}

struct Population {
  StaticFlowResolver resolver{natRules()};
  Engine engine;
  Driver driver{engine, resolver};
  std::vector<Conn> conns;
  std::vector<std::uint32_t> order;
  std::uint64_t k = 0;
  explicit Population(const EngineConfig& config) : engine(config) {}
};

std::unique_ptr<Population> populate(std::size_t n, bool port) {
  EngineConfig config;
  config.limits.maxPinholes = std::max<std::size_t>(config.limits.maxPinholes, n);
  auto p = std::make_unique<Population>(config);
  const Endpoint server = testing::ep("198.51.100.7:21");
  p->conns.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    p->conns.push_back(Conn{insideClient(i), server});
    Conn& c = p->conns.back();
    c.clientIsn = static_cast<std::uint32_t>(0x10000000u + i * 7919u);
    p->driver.establish(c);
    if (port) {
      const std::string line = "PORT 192,168,77," + std::to_string(c.client.address.v4Octets()[3]) + "," +
                               std::to_string(195) + "," + std::to_string(i % 200) + "\r\n";
      p->driver.sendSlow(c, true, line);
      p->driver.sendSlow(c, false, "200 PORT command successful. Consider using PASV.\r\n");
    }
    p->driver.advance(std::chrono::microseconds(10));
  }
  p->order.resize(n);
  std::iota(p->order.begin(), p->order.end(), 0u);
  std::shuffle(p->order.begin(), p->order.end(), std::mt19937(42));
  return p;
}

// Best (lowest) nanoseconds per packet over `rounds` rounds of `packets` NOOP/200 packets, each
// to the next session in the random order (a session gets NOOP on even passes, 200 on odd).
double nsPerPacket(Population& p, std::size_t packets, int rounds) {
  Template noop = Template::make("NOOP\r\n");
  Template ok = Template::make("200 NOOP ok.\r\n");
  const std::size_t n = p.conns.size();
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < packets; ++i, ++p.k) {
      Conn& c = p.conns[p.order[p.k % n]];
      if ((p.k / n) % 2 == 0) {
        p.driver.send(c, true, noop);
      } else {
        p.driver.send(c, false, ok);
      }
      if ((i & 0xFFFF) == 0) p.driver.advance(std::chrono::milliseconds(1));
    }
    const auto elapsed = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
    best = std::min(best, elapsed.count() / static_cast<double>(packets));
  }
  return best;
}

long currentRssKb() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * 4;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::size_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "scale_sessions: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return static_cast<std::size_t>(std::strtoull(argv[++i], nullptr, 10));
    };
    if (arg == "--sessions")
      o.sessions = value();
    else if (arg == "--small")
      o.small = value();
    else if (arg == "--packets")
      o.packets = value();
    else if (arg == "--rounds")
      o.rounds = static_cast<int>(value());
    else if (arg == "--port")
      o.port = true;
    else {
      std::fprintf(stderr,
                   "usage: scale_sessions [--sessions N] [--small N] [--packets M] [--rounds R] [--port]\n");
      return 2;
    }
  }

  const long rssStartKb = currentRssKb();
  double largeNs = 0;
  {
    const auto t0 = std::chrono::steady_clock::now();
    auto large = populate(o.sessions, o.port);
    const double setupS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long rssKb = currentRssKb();
    const std::size_t harnessBytes = large->conns.capacity() * sizeof(Conn) + large->order.capacity() * 4;
    std::printf("sessions %zu\n", large->engine.sessionCount());
    std::printf("pinholes %zu\n", large->engine.pinholeCount());
    std::printf("setup_packets %llu\n", static_cast<unsigned long long>(large->driver.counters.packets));
    std::printf("setup_seconds %.2f\n", setupS);
    std::printf("rss_start_kb %ld\n", rssStartKb);
    std::printf("rss_after_setup_kb %ld\n", rssKb);
    std::printf("harness_kb %zu\n", harnessBytes / 1024);
    std::printf("engine_bytes_per_session %.0f\n",
                (static_cast<double>(rssKb - rssStartKb) * 1024.0 - static_cast<double>(harnessBytes)) /
                    static_cast<double>(o.sessions));
    largeNs = nsPerPacket(*large, o.packets, o.rounds);
    std::printf("ns_per_packet_at_%zu %.1f\n", o.sessions, largeNs);
    if (large->driver.counters.held != 0)
      std::printf("warning_held_packets %llu\n",
                  static_cast<unsigned long long>(large->driver.counters.held));
  }
  {
    auto small = populate(o.small, o.port);
    const double smallNs = nsPerPacket(*small, o.packets, o.rounds);
    std::printf("ns_per_packet_at_%zu %.1f\n", o.small, smallNs);
    std::printf("ratio_large_over_small %.2f\n", largeNs / smallNs);
  }
  std::printf("peak_rss_kb %ld\n", peakRssKb());
  return 0;
}
