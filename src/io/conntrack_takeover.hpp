// The anchored control connections conntrack holds right now, as KernelTakeover records
// (include/ftpalg/engine/kernel_session.hpp): what a starting instance hands its engines
// (Engine::adopt) so that it continues where the previous one stopped, and what a worker compares
// its sessions with after lost destroy events (docs/design.md#restart-and-takeover).
//
//   1. a conntrack dump filtered in the kernel on the control mark bit and the helper status bit
//      (data connections inherit the mark but carry no helper):
//        conntrack -L --mark MARK/MARK   (+ CTA_STATUS IPS_HELPER / IPS_HELPER)
//   2. kept here: helper "sane" (the kernel filter has no key for the helper name) and the
//      server's real port (reply source) a control port;
//   3. each entry's CTA_SEQ_ADJ_ORIG / CTA_SEQ_ADJ_REPLY (zeros when absent), the verified mark bit;
//   4. an expectation dump, matched to the entries by master tuple: the pending pinhole.
#pragma once

#include <cstdint>
#include <vector>

#include "ftpalg/engine/kernel_session.hpp"
#include "io/conntrack_netlink.hpp"

namespace ftpalg::io {

struct TakeoverOptions {
  std::vector<std::uint16_t> controlPorts{21};
  std::uint32_t controlMark = 0x00020000;
  std::uint32_t verifiedMark = 0x00040000;
  bool withExpectations = true;  // step 4 (a resync needs only the connections)
};

// The KernelTakeover of one dumped entry (steps 2 and 3), or nullopt when it is not an anchored
// control connection.
std::optional<KernelTakeover> takeoverOf(const ConntrackEntry& entry, const TakeoverOptions& options);
// The pending pinhole an expectation of `master` stands for.
PendingExpectation pendingOf(const ExpectationEntry& expectation, const ConntrackEntry& master);

// The takeover of one connection the engine meets mid-stream (a failover: conntrackd committed it
// on this router, docs/ha.md): a GET of its entry by the ORIGINAL tuple of `nat`, then takeoverOf.
// nullopt: gone, or not an anchored control connection. No pending expectation is looked up (a
// replicated one is repaired by conntrack_expect_repair.hpp; it lives and dies with its master).
Result<std::optional<KernelTakeover>> takeoverOfConnection(ConntrackNetlink& netlink, const NatMapping& nat,
                                                           const TakeoverOptions& options);

Result<std::vector<KernelTakeover>> dumpAnchoredConnections(ConntrackNetlink& netlink,
                                                            const TakeoverOptions& options);

}  // namespace ftpalg::io
