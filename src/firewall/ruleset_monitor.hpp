// RulesetMonitor: the kernel's nf_tables change notifications, read the way `nft monitor` reads
// them (a NETLINK_NETFILTER socket joined to the NFNLGRP_NFTABLES multicast group, a large
// receive buffer against ENOBUFS), for the firewall-reload watch (ruleset_watch.hpp says which
// changes concern ftpalg; src/app/firewall_guard.hpp reinstalls).
//
// The kernel sends, for each committed transaction, one message per changed table, chain, rule,
// set, element or object, then NFT_MSG_NEWGEN: the new generation id (NFTA_GEN_ID), the pid and
// the command name of the task that committed (NFTA_GEN_PROC_PID, NFTA_GEN_PROC_NAME; a thread
// id for a multi-threaded committer). read() hands over complete transactions only, keeping
// from each only its deletions other than of set elements (ruleset_watch.hpp: nothing else can
// concern ftpalg), so the pinhole element traffic of ftpalg's own backends costs one parse each
// and no memory.
//
// Messages lost to a full socket buffer (ENOBUFS) are reported as `lost`: the reader must then
// check ftpalg's objects itself. Not thread-safe; one reader.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ftpalg/core/result.hpp"
#include "ruleset_watch.hpp"

namespace ftpalg::firewall {

struct RulesetTransaction {
  std::uint32_t generation = 0;        // NFTA_GEN_ID after the commit
  std::uint32_t pid = 0;               // NFTA_GEN_PROC_PID
  std::string process;                 // NFTA_GEN_PROC_NAME ("nft", "iptables-nft-re", "firewalld", ...)
  std::vector<RulesetChange> changes;  // deletions other than of set elements, in order
};

class RulesetMonitor {
 public:
  // Opens the socket and joins NFNLGRP_NFTABLES (needs CAP_NET_ADMIN only for the 8 MB buffer,
  // SO_RCVBUFFORCE; without it the system's default maximum).
  static Result<std::unique_ptr<RulesetMonitor>> open();
  ~RulesetMonitor();
  RulesetMonitor(const RulesetMonitor&) = delete;
  RulesetMonitor& operator=(const RulesetMonitor&) = delete;

  int fd() const;

  struct Batch {
    std::vector<RulesetTransaction> transactions;  // complete (their NEWGEN arrived), in order
    bool lost = false;                             // ENOBUFS: notifications were dropped
  };
  // Non-blocking: reads everything pending. Err() only for a socket failure.
  Result<Batch> read();

  // The ruleset's current generation id (NFT_MSG_GETGEN on a socket of its own).
  static Result<std::uint32_t> currentGeneration();

 private:
  struct Impl;
  explicit RulesetMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ftpalg::firewall
