// FirewallGuard: keeps ftpalg's firewall objects in place while `ftpalg run` runs
// (docs/admin-guide.md#firewall-reloads).
//
// A firewall reload deletes them under the running daemon: `systemctl reload nftables` (Debian's
// /etc/nftables.conf starts with `flush ruleset`), a firewalld reload, `nft flush ruleset`,
// iptables-restore without --noflush. The guard reads the kernel's nf_tables notifications
// (firewall/ruleset_monitor.hpp) on the main thread, and when a committed transaction deletes
// something of a part it guards (firewall/ruleset_watch.hpp decides), it reinstalls that part
// at once, with the part's own installer (the same transaction as at start), logs one warning
// naming what was deleted, by which process and what was reinstalled, and then runs the part's
// follow-up (the nft pinhole table: each worker adds its engine's pending pinholes again).
//
// Its own changes never trigger it: after a reinstall it reads the ruleset's generation id and
// ignores every transaction up to it (its own and any that raced with it), then verifies each
// reinstalled part from the kernel's listing; a part that is not in place stays due and is
// retried. Lost notifications (ENOBUFS) make it verify every part. Should something remove
// ftpalg's objects again and again (another manager fighting over them), reinstalls are spaced
// out: more than kBurst within kBurstWindow and the next waits, doubling up to kMaxBackoff, with
// an error saying so.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "firewall/ruleset_monitor.hpp"
#include "firewall/ruleset_watch.hpp"
#include "ftpalg/core/result.hpp"

namespace ftpalg::app {

struct GuardedPart {
  std::string name;  // "nft table inet ftpalg", "queue rules (iptables chains ftpalg-c2s/ftpalg-s2c)"
  std::vector<firewall::WatchedTable> watched;
  std::function<Status<>()> reinstall;   // replaces the part in one transaction and checks it
  std::function<Status<>()> verify;      // lists it back; changes nothing
  std::function<void()> afterReinstall;  // optional: e.g. re-add the pending pinholes
};

class FirewallGuard {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kBurst = 5;
  static constexpr std::chrono::seconds kBurstWindow{60};
  static constexpr std::chrono::seconds kMaxBackoff{60};

  FirewallGuard(std::unique_ptr<firewall::RulesetMonitor> monitor, std::vector<GuardedPart> parts);

  // Once every part is installed (before READY): transactions up to the current generation are
  // the start-up's own.
  Status<> arm();

  int fd() const { return monitor_->fd(); }
  // The socket is readable: reads the notifications, reinstalls what is due. Returns false
  // after a socket error (reported; the guard is then off).
  bool onReadable();
  // Retries a due part whose reinstall failed or waits out a backoff.
  void onTick();
  // How long the caller's poll may sleep before onTick() has work (nullopt: nothing due).
  std::optional<std::chrono::milliseconds> nextTick() const;

  // Reinstalls done so far (for tests and the stop summary).
  std::uint64_t reinstalls() const { return reinstalls_; }

 private:
  struct Due {
    std::vector<firewall::WatchHit> hits;  // what was deleted, distinct, in order (at most 64)
    std::string by;                        // "nft (pid 1234, ruleset generation 57)"
    bool pending = false;
  };
  void reinstallDue();
  void verifyAll(const std::string& why);

  std::unique_ptr<firewall::RulesetMonitor> monitor_;
  std::vector<GuardedPart> parts_;
  std::vector<Due> due_;
  std::uint32_t ignoreUpTo_ = 0;
  bool armed_ = false;
  std::vector<Clock::time_point> recent_;  // reinstall times within kBurstWindow
  std::optional<Clock::time_point> notBefore_;
  std::chrono::seconds backoff_{1};
  std::uint64_t reinstalls_ = 0;
};

}  // namespace ftpalg::app
