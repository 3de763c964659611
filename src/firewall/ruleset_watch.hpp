// Which nf_tables changes concern ftpalg's own firewall objects (standard library only): the pure
// half of the firewall-reload watch (ruleset_monitor.hpp reads the kernel's notifications;
// src/app/firewall_guard.hpp reinstalls).
//
// A firewall reload (`systemctl reload nftables`: Debian's /etc/nftables.conf starts with `flush
// ruleset`; a firewalld reload; `iptables-restore` without --noflush on iptables-nft) deletes
// ftpalg's objects while the daemon keeps running. The kernel announces every committed change
// to the NFNLGRP_NFTABLES multicast group (one message per table, chain, rule, set, object or
// element, then NFT_MSG_NEWGEN with the new generation id and the committing process): the
// same notifications `nft monitor` prints. A change concerns ftpalg when it DELETES
//   - anything in a table ftpalg owns whole (`inet ftpalg`, `inet ftpalg_queue`, `inet
//     ftpalg_dryrun`): the table, a chain, a rule, a set or map, a stateful object; or
//   - in a table ftpalg shares with the admin (iptables-nft's `ip mangle`, `ip raw`, `ip6 ...`):
//     the table, or one of ftpalg's chains (ftpalg-c2s, ...) or a rule of it, or a rule of a
//     built-in chain that holds ftpalg's jump (FORWARD, PREROUTING).
// Element changes are never a concern: ftpalg's own pinholes are element adds and deletes, and
// the single-use tokens are deleted by the packet path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ftpalg::firewall {

// nf_tables families (NFPROTO_*).
inline constexpr std::uint8_t kFamilyInet = 1;
inline constexpr std::uint8_t kFamilyIpv4 = 2;
inline constexpr std::uint8_t kFamilyIpv6 = 10;

// One nf_tables notification, as far as the watch needs it.
struct RulesetChange {
  enum class Object : std::uint8_t { Table, Chain, Rule, Set, Element, StatefulObject, Other };
  Object object = Object::Other;
  bool deleted = false;
  std::uint8_t family = 0;
  std::string table;
  std::string chain;  // Chain: its name; Rule: the chain it is in; else empty
};

// What ftpalg has in place, by what reinstalls it.
enum class FirewallPart : std::uint8_t {
  OwnTable,    // ftpalg's nft table (pinhole maps, anchor): firewall::PinholeTable
  QueueRules,  // the queue rules (iptables chains or the nft queue table): firewall::QueueRules
  CopyRules,   // --dry-run's NFLOG rules (nft table inet ftpalg_dryrun)
};

struct WatchedTable {
  FirewallPart part = FirewallPart::OwnTable;
  std::uint8_t family = kFamilyInet;
  std::string table;
  // Empty: ftpalg owns the whole table. Else the chains of a shared table that concern ftpalg:
  // its own chains and the built-in chains holding its jumps.
  std::vector<std::string> chains;
};

struct WatchHit {
  FirewallPart part = FirewallPart::OwnTable;
  std::string table;        // "nft table ip mangle"
  std::string what;         // `table`, or `table` + ": chain FORWARD", ": a rule of chain FORWARD", ...
  bool wholeTable = false;  // the table itself was deleted
  friend bool operator==(const WatchHit&, const WatchHit&) = default;
};

// `hits` as one line for the log: each distinct hit once, in order, leaving out the parts of a
// table whose deletion is itself listed; at most `limit` items, then "and N more".
std::string describeHits(const std::vector<WatchHit>& hits, std::size_t limit = 4);

// The part `change` deletes something of, or nullopt when it concerns none of `watched`.
std::optional<WatchHit> concernedPart(const RulesetChange& change, const std::vector<WatchedTable>& watched);

// "inet", "ip", "ip6", or the number.
std::string familyName(std::uint8_t family);

}  // namespace ftpalg::firewall
