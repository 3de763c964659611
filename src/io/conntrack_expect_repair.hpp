// Replicated expectations on a router that takes over (docs/ha.md): conntrackd (ExpectationSync)
// replicates an anchored control connection's pending expectation, but it injects it WITHOUT
// CTA_EXPECT_NAT and CTA_EXPECT_FN (libnetfilter_conntrack's nfexp_nlmsg_build() never emits
// them; measured with conntrack-tools 1.4.7 / libnetfilter_conntrack 1.0.9, unchanged in 1.1.1).
// Such an expectation admits the data connection RELATED but not NAT'ed: the SYN to the public
// address lands on the router's own stack (RST, the client sees 425). This piece deletes it and
// re-creates it as ConntrackExpectBackend would have (conntrack_expect_backend.hpp: NAT direction,
// the inside port in the NAT tuple's source port, fn "nat-follow-master"), through the same
// ConntrackNetlink::createExpectation.
//
// Which expectations: every EXP_NEW event (NFNLGRP_CONNTRACK_EXP_NEW) of an expectation that has
// neither a NAT direction nor a function (ftpalg's own always have both, so its own events are
// skipped by content, not by netlink port id), whose master is an anchored control connection
// (conntrack_takeover.hpp: takeoverOf) with NAT (a routed master needs no NAT: its replicated
// expectation works as it is and is left alone).
//
// The inside port. Replicated state holds only the public port Q (the expectation tuple's
// destination port). The engine chooses Q = P, the announced port, whenever no other pinhole of
// the same connector to the same public address holds P (src/engine/pinhole_table.cpp,
// choosePublicPort: P, then P+1, ...); so the re-created expectation forwards to the inside port Q.
// A pinhole that had to move to Q != P (two sessions of one connector announcing the same port on
// the same public address at the same time) is re-created wrongly and its data connection fails
// like a lost one. Counted as lost (and logged): a master that is gone, a tuple that fits neither
// direction of the master, a re-creation the kernel refuses (EEXIST: another expectation holds
// the tuple).
//
// Between the delete and the create (microseconds) a data SYN would find no expectation.
// Not thread-safe: one instance (the first queue worker's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ftpalg/core/result.hpp"
#include "io/conntrack_netlink.hpp"
#include "io/conntrack_takeover.hpp"

namespace ftpalg::io {

// True when `expectation` is a replicated one that lost its NAT (no CTA_EXPECT_NAT, no CTA_EXPECT_FN).
bool lacksNat(const ExpectationEntry& expectation);

// The expectation to create in place of `replicated`, an expectation of `master` (its conntrack
// entry) without NAT: PORT/EPRT when its tuple is master-reply-source -> master-reply-destination
// (the server connects to the client's public address: NAT dir REPLY, forwarded to the master's
// ORIGINAL source), 227/229 when it is master-original-source -> master-original-destination (the
// client connects to the server's public address: NAT dir ORIGINAL, forwarded to the master's
// REPLY source); inside port = public port (above); timeout = the replicated one's remaining time
// (at least 1 s). An error names why the pinhole cannot be derived.
Result<ExpectationRequest> natRequestFor(const ExpectationEntry& replicated, const ConntrackEntry& master);

class ReplicatedExpectationRepair {
 public:
  // Joins NFNLGRP_CONNTRACK_EXP_NEW. `anchor` says which masters are ftpalg's (control ports,
  // control mark).
  static Result<std::unique_ptr<ReplicatedExpectationRepair>> open(const TakeoverOptions& anchor);
  ~ReplicatedExpectationRepair();
  ReplicatedExpectationRepair(const ReplicatedExpectationRepair&) = delete;
  ReplicatedExpectationRepair& operator=(const ReplicatedExpectationRepair&) = delete;

  // The event socket to poll for POLLIN.
  int fd() const;

  // One line per repaired or lost pinhole (lost = true for a loss), for the daemon's log.
  using Reporter = std::function<void(const std::string& line, bool lost)>;
  // Reads every pending event and repairs what needs it. After lost events (ENOBUFS) it repairs
  // from an expectation dump. An error: the socket failed.
  Status<> read(const Reporter& report);
  // Repairs every expectation in the table that needs it (a dump): at start, and after ENOBUFS.
  Status<> repairAll(const Reporter& report);

  struct Counters {
    std::uint64_t events = 0;      // EXP_NEW events read
    std::uint64_t repaired = 0;    // deleted and re-created with NAT
    std::uint64_t lost = 0;        // needed NAT and could not get it
    std::uint64_t eventsLost = 0;  // ENOBUFS reports
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Impl;
  explicit ReplicatedExpectationRepair(std::unique_ptr<Impl> impl);
  void consider(const ExpectationEntry& expectation, const Reporter& report);
  std::unique_ptr<Impl> impl_;
  Counters counters_;
};

}  // namespace ftpalg::io
