// Installing and removing the queue rules of `ftpalg run` (queue_rules.hpp has the rules): with
// iptables-save / iptables-restore, or with libnftables where the kernel has the nft `queue`
// expression.
//
// install() replaces a stale copy (a crashed instance's) in one transaction per table, so no
// queue point is ever without its rule, and then lists the rules back from the kernel: `run`
// says it is running only when they are really in place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ftpalg/core/result.hpp"
#include "queue_rules.hpp"
#include "ruleset_watch.hpp"

namespace ftpalg::firewall {

class QueueRules {
 public:
  enum class Kind : std::uint8_t { Nft, Iptables };

  // Nft when the kernel has the nft `queue` expression (probed without a change: nft's check
  // mode) and spec.layout is EngineOwned, else iptables; an error when
  // neither can be used. Installs nothing.
  static Result<QueueRules> plan(const QueueRuleSpec& spec);

  QueueRules(QueueRules&& other) noexcept;
  QueueRules& operator=(QueueRules&&) = delete;
  QueueRules(const QueueRules&) = delete;
  ~QueueRules();  // remove()s what install() put in place, on every way out of `run`

  Kind kind() const { return kind_; }
  // Where the rules live: "nft table inet ftpalg_queue" / "iptables chains ftpalg-c2s/ftpalg-s2c" /
  // "iptables chain ftpalg-ct".
  std::string description() const;
  // Limitations found by plan() (e.g. no ip6tables: IPv6 control traffic is not queued).
  const std::vector<std::string>& warnings() const { return warnings_; }
  // iptables-legacy needs CAP_NET_RAW too (it talks through a raw socket), to remove the rules
  // at shutdown after the drop to least privilege.
  bool needsNetRaw() const;

  // Installs the rules, replacing a stale copy in the same transaction (a stale copy of the other
  // kind, iptables or nft, is removed right after), then lists them back and fails, naming what is
  // missing or extra, when they are not exactly in place.
  Status<> install();
  // Lists the rules back from the kernel: an error naming what is missing or extra unless
  // exactly the installed rules are in place (what install() checks last). Changes nothing.
  Status<> verify() const;
  // Where the rules live, for the firewall-reload watch (ruleset_watch.hpp): the nft queue table,
  // or iptables-nft's tables with ftpalg's chains and the built-in chains holding its jumps.
  std::vector<WatchedTable> watched() const;
  // Removes them (idempotent: nothing to remove is not an error), then checks that nothing of
  // ftpalg's is listed any more.
  Status<> remove();
  // What differs, now, between the rules the kernel lists (iptables-save -t mangle/-t raw per
  // family, or nft list table) and the rules install() puts in place: empty when they are there.
  // Each entry names the family ("iptables: ", "ip6tables: ") or the nft table. The error is a
  // listing that failed. Changes nothing.
  Result<std::vector<std::string>> problems() const;
  const QueueRuleSpec& spec() const { return spec_; }

 private:
  struct IptablesFamily {
    IpFamily family;
    std::string save;     // /usr/sbin/iptables-save or ip6tables-save
    std::string restore;  // ... -restore
  };
  QueueRules() = default;
  Result<IptablesListing> list(const IptablesFamily& family) const;
  Status<> restore(const IptablesFamily& family, const std::string& input) const;
  Status<> removeIptables() const;  // every layout's chains and jumps, each family

  QueueRuleSpec spec_;
  Kind kind_ = Kind::Iptables;
  bool nftQueue_ = false;  // the kernel has the nft `queue` expression
  std::vector<IptablesFamily> families_;
  std::vector<std::string> warnings_;
  bool installed_ = false;
};

}  // namespace ftpalg::firewall
