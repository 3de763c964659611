// NftBackend and the pinhole table's owner (firewall::PinholeTable) against the real kernel, in a
// private network namespace (root only; skipped otherwise). The whole test process moves into a fresh,
// anonymous network namespace (unshare(CLONE_NEWNET)): the host's ruleset is never touched, and the namespace
// disappears with the process even when a test fails. `nft` subprocesses inherit the namespace.
#include "backend/nft_backend.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/dry_run_backend.hpp"
#include "firewall/pinhole_table.hpp"
#include "no_skip_under_root.hpp"

namespace ftpalg::backend {
namespace {

using firewall::inspectTable;
using firewall::NftTableSpec;
using firewall::PinholeTable;

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return output;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  ::pclose(pipe);
  return output;
}

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

Pinhole pinhole4(std::uint16_t port, bool nat) {
  Pinhole p;
  p.id = port;
  p.from = ip("198.51.100.7");
  p.to = Endpoint{ip("203.0.113.1"), port};
  if (nat) p.natTo = Endpoint{ip("192.168.78.10"), port};
  p.timeout = std::chrono::seconds(30);
  return p;
}

class NftBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    inNamespace_ = ::unshare(CLONE_NEWNET) == 0;
  }
  void SetUp() override {
    FTPALG_E2E_SKIP_UNLESS_ROOT("creates nft tables in a private netns");
    ASSERT_TRUE(inNamespace_) << "unshare(CLONE_NEWNET) failed";
    run("nft delete table inet ftpalg");
  }
  // The table, then one backend on it, as `run` has them.
  void createTableAndBackend() {
    auto created = PinholeTable::create(NftTableSpec{});
    ASSERT_TRUE(created.ok()) << created.error();
    table_.emplace(std::move(created.value()));
    auto attached = NftBackend::attach(table_->spec());
    ASSERT_TRUE(attached.ok()) << attached.error();
    backend_ = std::move(attached.value());
  }
  void TearDown() override {
    backend_.reset();
    table_.reset();
  }
  static inline bool inNamespace_ = false;
  std::optional<PinholeTable> table_;
  std::unique_ptr<NftBackend> backend_;
};

TEST_F(NftBackendTest, CreateInstallsMapsSetsAndDnatChain) {
  auto created = PinholeTable::create(NftTableSpec{});
  ASSERT_TRUE(created.ok()) << created.error();
  const std::string table = run("nft list table inet ftpalg");
  for (const char* expected :
       {"map pinholes4", "set armed4", "map pinholes6", "set armed6",
        "type nat hook prerouting priority dstnat - 1", "delete @armed4 { ip saddr . ip daddr . tcp dport }",
        "dnat ip to ip saddr . ip daddr . tcp dport map @pinholes4",
        "dnat ip6 to ip6 saddr . ip6 daddr . tcp dport map @pinholes6", "comment \"ftpalg pid="}) {
    EXPECT_NE(table.find(expected), std::string::npos) << expected << "\n" << table;
  }
}

TEST_F(NftBackendTest, CreateFlushesAStaleTableLeftByACrash) {
  run("nft add table inet ftpalg");
  run("nft add map inet ftpalg pinholes4 '{ type ipv4_addr . ipv4_addr . inet_service : "
      "ipv4_addr . inet_service; flags timeout; }'");
  run("nft add element inet ftpalg pinholes4 '{ 198.51.100.9 . 203.0.113.1 . 40000 : "
      "192.168.78.10 . 40000 }'");
  auto created = PinholeTable::create(NftTableSpec{});
  ASSERT_TRUE(created.ok()) << created.error();
  EXPECT_EQ(run("nft -j list map inet ftpalg pinholes4").find("198.51.100.9"), std::string::npos);
}

TEST_F(NftBackendTest, InspectTableReportsTheOwnerPid) {
  auto none = inspectTable("ftpalg");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_FALSE(none->exists);
  auto created = PinholeTable::create(NftTableSpec{});
  ASSERT_TRUE(created.ok()) << created.error();
  auto existing = inspectTable("ftpalg");
  ASSERT_TRUE(existing.ok()) << existing.error();
  EXPECT_TRUE(existing->exists);
  ASSERT_TRUE(existing->ownerPid.has_value());
  EXPECT_EQ(*existing->ownerPid, ::getpid());
}

TEST_F(NftBackendTest, OpenAddsMapElementAndArmedTokenWithTimeout) {
  createTableAndBackend();
  auto& backend = backend_;
  ASSERT_TRUE(backend->open(pinhole4(50123, true)).ok());
  const std::string map = run("nft -j list map inet ftpalg pinholes4");
  EXPECT_NE(map.find(R"({"concat": ["198.51.100.7", "203.0.113.1", 50123]})"), std::string::npos) << map;
  EXPECT_NE(map.find(R"({"concat": ["192.168.78.10", 50123]})"), std::string::npos) << map;
  EXPECT_NE(map.find(R"("timeout": 30)"), std::string::npos) << map;
  const std::string armed = run("nft -j list set inet ftpalg armed4");
  EXPECT_NE(armed.find(R"({"concat": ["198.51.100.7", "203.0.113.1", 50123]})"), std::string::npos) << armed;
}

TEST_F(NftBackendTest, PinholeWithoutNatMapsToItsOwnTarget) {
  createTableAndBackend();
  auto& backend = backend_;
  ASSERT_TRUE(backend->open(pinhole4(50200, false)).ok());
  const std::string map = run("nft -j list map inet ftpalg pinholes4");
  EXPECT_NE(map.find(R"({"concat": ["203.0.113.1", 50200]})"), std::string::npos) << map;
}

TEST_F(NftBackendTest, Ipv6PinholeGoesToTheIpv6Map) {
  createTableAndBackend();
  auto& backend = backend_;
  Pinhole p;
  p.id = 7;
  p.from = ip("2001:db8:2::10");
  p.to = Endpoint{ip("2001:db8:1::10"), 40001};
  p.timeout = std::chrono::seconds(60);
  ASSERT_TRUE(backend->open(p).ok());
  const std::string map = run("nft -j list map inet ftpalg pinholes6");
  EXPECT_NE(map.find(R"({"concat": ["2001:db8:2::10", "2001:db8:1::10", 40001]})"), std::string::npos) << map;
  EXPECT_NE(map.find(R"({"concat": ["2001:db8:1::10", 40001]})"), std::string::npos) << map;
  ASSERT_TRUE(backend->close(p, Reason::SessionClosed).ok());
  EXPECT_EQ(run("nft -j list map inet ftpalg pinholes6").find("40001"), std::string::npos);
}

TEST_F(NftBackendTest, CloseDeletesBothElements) {
  createTableAndBackend();
  auto& backend = backend_;
  const Pinhole p = pinhole4(50300, true);
  ASSERT_TRUE(backend->open(p).ok());
  ASSERT_TRUE(backend->close(p, Reason::SessionClosed).ok());
  EXPECT_EQ(run("nft -j list map inet ftpalg pinholes4").find("50300"), std::string::npos);
  EXPECT_EQ(run("nft -j list set inet ftpalg armed4").find("50300"), std::string::npos);
}

TEST_F(NftBackendTest, CloseAfterTheTokenWasConsumedStillDeletesTheMapElement) {
  createTableAndBackend();
  auto& backend = backend_;
  const Pinhole p = pinhole4(50400, true);
  ASSERT_TRUE(backend->open(p).ok());
  // What the data connection's SYN does in the pre_dnat chain.
  run("nft delete element inet ftpalg armed4 '{ 198.51.100.7 . 203.0.113.1 . 50400 }'");
  ASSERT_TRUE(backend->close(p, Reason::SessionClosed).ok());
  EXPECT_EQ(run("nft -j list map inet ftpalg pinholes4").find("50400"), std::string::npos);
  // Closing again (both gone) is not an error either.
  EXPECT_TRUE(backend->close(p, Reason::Expired).ok());
}

TEST_F(NftBackendTest, TheTableGoesWithItsOwnerNotWithTheBackends) {
  {
    auto created = PinholeTable::create(NftTableSpec{});
    ASSERT_TRUE(created.ok()) << created.error();
    PinholeTable owner = std::move(created.value());
    {
      auto first = NftBackend::attach(owner.spec());
      ASSERT_TRUE(first.ok()) << first.error();
      ASSERT_TRUE((*first)->open(pinhole4(50500, true)).ok());
    }
    // The backend is gone; the table and its pinhole stay while their owner lives.
    EXPECT_NE(run("nft -j list map inet ftpalg pinholes4").find("50500"), std::string::npos);
    auto second = NftBackend::attach(owner.spec());
    ASSERT_TRUE(second.ok()) << second.error();
    ASSERT_TRUE((*second)->open(pinhole4(50600, false)).ok());
  }
  EXPECT_NE(run("nft list table inet ftpalg").find("No such file or directory"), std::string::npos);
}

TEST_F(NftBackendTest, RemovingTheTableTwiceOrAfterAFlushIsNotAnError) {
  auto created = PinholeTable::create(NftTableSpec{});
  ASSERT_TRUE(created.ok()) << created.error();
  run("nft delete table inet ftpalg");  // what `nft flush ruleset` does to it
  EXPECT_TRUE(created->remove().ok());
  EXPECT_TRUE(created->remove().ok());
}

TEST_F(NftBackendTest, ATableOfSomeoneElseOrOfALiveFtpalgIsRefusedAStaleOneIsNot) {
  run("nft add table inet ftpalg");
  auto foreign = firewall::checkPinholeTableFree(NftTableSpec{});
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().find("was not created by ftpalg"), std::string::npos) << foreign.error();
  run("nft delete table inet ftpalg");
  // pid 1 is alive but is not an ftpalg: its table counts as left behind.
  run("nft add table inet ftpalg '{ comment \"ftpalg pid=1\"; }'");
  auto stale = firewall::checkPinholeTableFree(NftTableSpec{});
  ASSERT_TRUE(stale.ok()) << stale.error();
  ASSERT_TRUE(stale->has_value());
  EXPECT_EQ(**stale, 1);
  run("nft delete table inet ftpalg");
  EXPECT_FALSE(firewall::checkPinholeTableFree(NftTableSpec{})->has_value());
}

TEST_F(NftBackendTest, OpenPlusCloseLatency) {
  createTableAndBackend();
  auto& backend = backend_;
  constexpr int kRounds = 2000;
  std::vector<double> openUs, closeUs;
  openUs.reserve(kRounds);
  closeUs.reserve(kRounds);
  for (int i = 0; i < kRounds; ++i) {
    const Pinhole p = pinhole4(static_cast<std::uint16_t>(20000 + i), true);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(backend->open(p).ok());
    const auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(backend->close(p, Reason::SessionClosed).ok());
    const auto t2 = std::chrono::steady_clock::now();
    openUs.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    closeUs.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  auto percentile = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
  };
  std::printf("nft pinhole open  (map + armed, one batch, acked): median %.1f us, p99 %.1f us\n",
              percentile(openUs, 0.5), percentile(openUs, 0.99));
  std::printf("nft pinhole close (map + armed, one batch, acked): median %.1f us, p99 %.1f us\n",
              percentile(closeUs, 0.5), percentile(closeUs, 0.99));
  RecordProperty("open_median_us", std::to_string(percentile(openUs, 0.5)));
  RecordProperty("close_median_us", std::to_string(percentile(closeUs, 0.5)));
}

TEST(DryRunBackendTest, RecordsWhatLiveModeWouldInstall) {
  DryRunBackend backend;
  const Pinhole p = pinhole4(50700, true);
  ASSERT_TRUE(backend.open(p).ok());
  EXPECT_EQ(backend.installed().size(), 1u);
  ASSERT_TRUE(backend.close(p, Reason::Replaced).ok());
  EXPECT_TRUE(backend.installed().empty());
  EXPECT_EQ(backend.openedTotal(), 1u);
  EXPECT_EQ(backend.closedTotal(), 1u);
}

}  // namespace
}  // namespace ftpalg::backend
