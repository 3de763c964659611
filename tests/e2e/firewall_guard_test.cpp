// FirewallGuard (src/app/firewall_guard.hpp) against the kernel's nf_tables notifications, in a
// private network namespace: a deletion by another transaction is reinstalled once, the guard's
// own reinstall does not retrigger it, and a part deleted again and again is reinstalled at most
// FirewallGuard::kBurst times before the guard backs off.
#include "../../src/app/firewall_guard.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>

#include "../../src/firewall/nft_script.hpp"

namespace ftpalg::app {
namespace {

constexpr const char* kTable = "ftpalg_guard_test";

// Feeds the guard what arrives within `window`.
void pump(FirewallGuard& guard, std::chrono::milliseconds window) {
  const auto until = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < until) {
    pollfd fd{guard.fd(), POLLIN, 0};
    if (::poll(&fd, 1, 20) > 0) {
      ASSERT_TRUE(guard.onReadable());
    }
    guard.onTick();
  }
}

class FirewallGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (a private network namespace, nf_tables)";
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
    ASSERT_TRUE(firewall::runNftScript(std::string("add table inet ") + kTable + "\n"));
    auto monitor = firewall::RulesetMonitor::open();
    ASSERT_TRUE(monitor) << monitor.error();
    GuardedPart part;
    part.name = std::string("nft table inet ") + kTable;
    part.watched = {
        firewall::WatchedTable{firewall::FirewallPart::OwnTable, firewall::kFamilyInet, kTable, {}}};
    // The same shape of transaction as PinholeTable::recreate(): it deletes the table itself.
    part.reinstall = [this] {
      ++reinstalls_;
      return firewall::runNftScript(std::string("add table inet ") + kTable + "\ndelete table inet " +
                                    kTable + "\nadd table inet " + kTable + "\n");
    };
    part.verify = [] { return firewall::runNftScript(std::string("list table inet ") + kTable + "\n"); };
    std::vector<GuardedPart> parts;
    parts.push_back(std::move(part));
    guard_ = std::make_unique<FirewallGuard>(std::move(monitor.value()), std::move(parts));
    ASSERT_TRUE(guard_->arm());
  }

  static Status<> deleteTable() {
    return firewall::runNftScript(std::string("delete table inet ") + kTable + "\n");
  }

  int reinstalls_ = 0;
  std::unique_ptr<FirewallGuard> guard_;
};

TEST_F(FirewallGuardTest, ADeletionIsReinstalledOnceAndItsOwnReinstallDoesNotRetriggerIt) {
  pump(*guard_, std::chrono::milliseconds(200));
  EXPECT_EQ(reinstalls_, 0) << "arm() must ignore what happened before";
  ASSERT_TRUE(deleteTable());
  pump(*guard_, std::chrono::milliseconds(1000));
  EXPECT_EQ(reinstalls_, 1);
  EXPECT_TRUE(firewall::runNftScript(std::string("list table inet ") + kTable + "\n"));
  EXPECT_EQ(guard_->reinstalls(), 1u);
}

TEST_F(FirewallGuardTest, SomethingThatKeepsDeletingItGetsAtMostABurstThenABackoff) {
  for (int i = 0; i < FirewallGuard::kBurst + 2; ++i) {
    ASSERT_TRUE(deleteTable().ok() || reinstalls_ == FirewallGuard::kBurst);
    pump(*guard_, std::chrono::milliseconds(150));
  }
  EXPECT_EQ(reinstalls_, FirewallGuard::kBurst);
  const auto wait = guard_->nextTick();
  ASSERT_TRUE(wait) << "the deleted part stays due";
  EXPECT_GT(wait->count(), 0) << "and waits out the backoff";
}

}  // namespace
}  // namespace ftpalg::app
