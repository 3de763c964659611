// ConntrackResolver against the real kernel conntrack table, in a private network namespace
// (root only; skipped otherwise). Entries are created with `conntrack -I` and an explicit reply
// tuple, which is how a NATed connection looks in the table (original = client real -> server
// as seen by the client; reply = server real -> client as seen by the server). The process moves
// into a fresh anonymous network namespace, which disappears with it.
#include "io/conntrack_resolver.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "no_skip_under_root.hpp"
#include "packet_builder.hpp"

namespace ftpalg::io {
namespace {

using ftpalg::testing::buildTcpPacket;
using ftpalg::testing::ep;
using ftpalg::testing::TcpPacketSpec;

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return output;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  ::pclose(pipe);
  return output;
}

std::string hostOf(const Endpoint& e) { return e.address.toString(); }

// conntrack -I for a connection with the four views.
void insertEntry(const Endpoint& clientReal, const Endpoint& serverSeenByClient, const Endpoint& serverReal,
                 const Endpoint& clientSeenByServer) {
  run("conntrack -I -p tcp -s " + hostOf(clientReal) + " -d " + hostOf(serverSeenByClient) + " --sport " +
      std::to_string(clientReal.port) + " --dport " + std::to_string(serverSeenByClient.port) +
      " --reply-src " + hostOf(serverReal) + " --reply-dst " + hostOf(clientSeenByServer) +
      " --reply-port-src " + std::to_string(serverReal.port) + " --reply-port-dst " +
      std::to_string(clientSeenByServer.port) + " --state ESTABLISHED --timeout 300");
}

struct Packet {
  std::vector<std::uint8_t> bytes;
  PacketView view;
};
Packet packet(const Endpoint& src, const Endpoint& dst, std::uint8_t flags = tcp_flags::kAck) {
  TcpPacketSpec spec;
  spec.src = src;
  spec.dst = dst;
  spec.flags = flags;
  Packet p{buildTcpPacket(spec), {}};
  p.view = *PacketView::parse(p.bytes);
  return p;
}

class ConntrackResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    inNamespace_ = ::unshare(CLONE_NEWNET) == 0;
  }
  void SetUp() override {
    FTPALG_E2E_SKIP_UNLESS_ROOT("conntrack table of a private netns");
    ASSERT_TRUE(inNamespace_) << "unshare(CLONE_NEWNET) failed";
    ASSERT_NE(run("conntrack -V").find("conntrack v"), std::string::npos)
        << "the conntrack tool is missing (scripts/install-deps.sh installs it)";
    run("conntrack -F");
    auto resolver = ConntrackResolver::open(ConntrackResolverOptions{});
    ASSERT_TRUE(resolver.ok()) << resolver.error();
    resolver_ = std::move(resolver.value());
  }
  static inline bool inNamespace_ = false;
  std::unique_ptr<ConntrackResolver> resolver_;
};

void expectViews(const std::optional<FlowContext>& context, Direction direction, const Endpoint& cR,
                 const Endpoint& cS, const Endpoint& sR, const Endpoint& sS) {
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->direction, direction);
  EXPECT_EQ(context->key, (FlowKey{cR, sR}));
  EXPECT_EQ(context->nat.clientReal, cR);
  EXPECT_EQ(context->nat.clientSeenByServer, cS);
  EXPECT_EQ(context->nat.serverReal, sR);
  EXPECT_EQ(context->nat.serverSeenByClient, sS);
}

// Client 192.168.77.10 behind masquerade 203.0.113.1, server 203.0.113.10 (active-mode case).
const Endpoint kClientReal = ep("192.168.77.10:40000");
const Endpoint kClientSeen = ep("203.0.113.1:40000");
const Endpoint kServer = ep("203.0.113.10:21");

TEST_F(ConntrackResolverTest, ServerToClientPacketResolvesByItsReplyTuple) {
  insertEntry(kClientReal, kServer, kServer, kClientSeen);
  resolver_->setQueueHook(QueueHook::PreRouting);
  const auto p = packet(kServer, kClientSeen);
  expectViews(resolver_->resolve(p.view), Direction::ServerToClient, kClientReal, kClientSeen, kServer,
              kServer);
  EXPECT_EQ(resolver_->counters().resolvedByReply, 1u);
}

TEST_F(ConntrackResolverTest, BothViewsAreCachedAfterOneLookup) {
  insertEntry(kClientReal, kServer, kServer, kClientSeen);
  resolver_->setQueueHook(QueueHook::PreRouting);
  ASSERT_TRUE(resolver_->resolve(packet(kServer, kClientSeen).view));
  const auto lookups = resolver_->counters().lookups;
  resolver_->setQueueHook(QueueHook::Forward);
  expectViews(resolver_->resolve(packet(kClientReal, kServer).view), Direction::ClientToServer, kClientReal,
              kClientSeen, kServer, kServer);
  EXPECT_EQ(resolver_->counters().lookups, lookups);
  EXPECT_EQ(resolver_->counters().cacheHits, 1u);
}

TEST_F(ConntrackResolverTest, ClientToServerWithMasqueradeResolvesByOriginalTuple) {
  insertEntry(kClientReal, kServer, kServer, kClientSeen);
  resolver_->setQueueHook(QueueHook::Forward);
  expectViews(resolver_->resolve(packet(kClientReal, kServer).view), Direction::ClientToServer, kClientReal,
              kClientSeen, kServer, kServer);
  EXPECT_EQ(resolver_->counters().resolvedByOriginal, 1u);
}

TEST_F(ConntrackResolverTest, ClientToServerWithPortForwardingResolvesByReversedReplyTuple) {
  // Client 203.0.113.20 -> public 203.0.113.1:21 DNAT -> server 192.168.78.10:21 (passive case).
  const Endpoint client = ep("203.0.113.20:41000");
  const Endpoint serverSeen = ep("203.0.113.1:21");
  const Endpoint serverReal = ep("192.168.78.10:21");
  insertEntry(client, serverSeen, serverReal, client);
  resolver_->setQueueHook(QueueHook::Forward);
  expectViews(resolver_->resolve(packet(client, serverReal).view), Direction::ClientToServer, client, client,
              serverReal, serverSeen);
  EXPECT_EQ(resolver_->counters().resolvedByReply, 1u);
}

TEST_F(ConntrackResolverTest, ClientToServerWithBothNatsResolvesByFilteredDump) {
  const Endpoint serverSeen = ep("203.0.113.99:21");
  insertEntry(kClientReal, serverSeen, kServer, kClientSeen);
  // A decoy with the same client endpoint towards another server.
  insertEntry(kClientReal, ep("198.51.100.50:21"), ep("198.51.100.50:21"), ep("203.0.113.1:40002"));
  resolver_->setQueueHook(QueueHook::Forward);
  expectViews(resolver_->resolve(packet(kClientReal, kServer).view), Direction::ClientToServer, kClientReal,
              kClientSeen, kServer, serverSeen);
  EXPECT_EQ(resolver_->counters().resolvedByDump, 1u);
}

TEST_F(ConntrackResolverTest, Ipv6ResolvesWithoutNat) {
  const Endpoint client = ep("[2001:db8:77::10]:42000");
  const Endpoint server = ep("[2001:db8:1::10]:21");
  insertEntry(client, server, server, client);
  resolver_->setQueueHook(QueueHook::PreRouting);
  expectViews(resolver_->resolve(packet(server, client).view), Direction::ServerToClient, client, client,
              server, server);
}

TEST_F(ConntrackResolverTest, ClientFirstSynIsNotLookedUp) {
  resolver_->setQueueHook(QueueHook::Forward);
  EXPECT_FALSE(resolver_->resolve(packet(kClientReal, kServer, tcp_flags::kSyn).view));
  EXPECT_EQ(resolver_->counters().lookups, 0u);
  EXPECT_EQ(resolver_->counters().firstSynSkipped, 1u);
}

TEST_F(ConntrackResolverTest, PacketsOffTheControlPortsAreNotFtp) {
  insertEntry(ep("192.168.77.10:40000"), ep("203.0.113.10:80"), ep("203.0.113.10:80"), kClientSeen);
  resolver_->setQueueHook(QueueHook::Forward);
  EXPECT_FALSE(resolver_->resolve(packet(kClientReal, ep("203.0.113.10:80")).view));
  EXPECT_EQ(resolver_->counters().lookups, 0u);
}

TEST_F(ConntrackResolverTest, UnknownConnectionResolvesToNothing) {
  resolver_->setQueueHook(QueueHook::PreRouting);
  EXPECT_FALSE(resolver_->resolve(packet(kServer, kClientSeen).view));
  EXPECT_EQ(resolver_->counters().unresolved, 1u);
  EXPECT_EQ(resolver_->counters().errors, 0u);
}

TEST_F(ConntrackResolverTest, AMissIsRememberedForASecond) {
  resolver_->setQueueHook(QueueHook::PreRouting);
  resolver_->setNow(Timestamp::fromSeconds(100));
  const auto p = packet(kServer, kClientSeen);
  EXPECT_FALSE(resolver_->resolve(p.view));
  const auto lookups = resolver_->counters().lookups;
  EXPECT_FALSE(resolver_->resolve(p.view));
  EXPECT_EQ(resolver_->counters().lookups, lookups);
  EXPECT_EQ(resolver_->counters().negativeHits, 1u);
  // The connection appears; after the negative entry expires it is found.
  insertEntry(kClientReal, kServer, kServer, kClientSeen);
  resolver_->setNow(Timestamp::fromSeconds(101.5));
  EXPECT_TRUE(resolver_->resolve(p.view));
}

TEST_F(ConntrackResolverTest, FilteredDumpsAreRateLimited) {
  ConntrackResolverOptions options;
  options.dumpsPerSecond = 2;
  auto limited = ConntrackResolver::open(options);
  ASSERT_TRUE(limited.ok());
  limited.value()->setQueueHook(QueueHook::Forward);
  limited.value()->setNow(Timestamp::fromSeconds(10));
  // Distinct unknown c2s views: each would need the dump.
  for (std::uint16_t port = 41000; port < 41005; ++port) {
    EXPECT_FALSE(limited.value()->resolve(packet(Endpoint{kClientReal.address, port}, kServer).view));
  }
  EXPECT_EQ(limited.value()->counters().dumpsRateLimited, 3u);
}

TEST_F(ConntrackResolverTest, ForgetDropsBothViews) {
  insertEntry(kClientReal, kServer, kServer, kClientSeen);
  resolver_->setQueueHook(QueueHook::PreRouting);
  const auto context = resolver_->resolve(packet(kServer, kClientSeen).view);
  ASSERT_TRUE(context);
  EXPECT_EQ(resolver_->cachedFlows(), 1u);
  resolver_->forget(context->key);
  EXPECT_EQ(resolver_->cachedFlows(), 0u);
}

TEST_F(ConntrackResolverTest, CacheIsBounded) {
  ConntrackResolverOptions options;
  options.maxFlows = 2;
  auto small = ConntrackResolver::open(options);
  ASSERT_TRUE(small.ok());
  small.value()->setQueueHook(QueueHook::PreRouting);
  for (std::uint16_t port = 40010; port < 40013; ++port) {
    const Endpoint client{kClientReal.address, port};
    const Endpoint seen{kClientSeen.address, port};
    insertEntry(client, kServer, kServer, seen);
    ASSERT_TRUE(small.value()->resolve(packet(kServer, seen).view));
  }
  EXPECT_EQ(small.value()->cachedFlows(), 2u);
  EXPECT_EQ(small.value()->counters().evictions, 1u);
}

TEST_F(ConntrackResolverTest, GetByReplyLatency) {
  insertEntry(kClientReal, kServer, kServer, kClientSeen);
  constexpr int kRounds = 2000;
  std::vector<double> us;
  us.reserve(kRounds);
  for (int i = 0; i < kRounds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto entry = resolver_->getByReply(ConntrackTuple{kServer, kClientSeen});
    const auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(entry.ok() && entry.value().has_value());
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("ctnetlink GET by reply tuple: median %.1f us, p99 %.1f us\n", us[us.size() / 2],
              us[us.size() * 99 / 100]);
  RecordProperty("get_median_us", std::to_string(us[us.size() / 2]));
}

}  // namespace
}  // namespace ftpalg::io
