// ConntrackSessionPort: the live KernelSessionPort of the conntrack-owned mode
// (docs/design.md#kernel-sequence-adjustment). Each call is one acknowledged ctnetlink update of
// the control connection's conntrack entry, named by its ORIGINAL tuple
// (nat.clientReal -> nat.serverSeenByClient):
//   adjustSequence:     CTA_SEQ_ADJ_ORIG (client->server) or CTA_SEQ_ADJ_REPLY (server->client)
//   markDialogVerified: CTA_MARK = CTA_MARK_MASK = the verified mark bit (--verified-mark)
// Cost: 2-5 us each (docs/design.md). Not thread-safe: one per queue worker (its own socket).
#pragma once

#include <cstdint>
#include <memory>

#include "ftpalg/io/interfaces.hpp"
#include "io/conntrack_netlink.hpp"

namespace ftpalg::io {

// The ORIGINAL tuple of a control connection, from its NAT view.
ConntrackTuple originalTupleOf(const NatMapping& nat);

class ConntrackSessionPort final : public KernelSessionPort {
 public:
  static Result<std::unique_ptr<ConntrackSessionPort>> open(std::uint32_t verifiedMark);

  Status<> adjustSequence(const AdjustKernelSequence& adjust) override;
  Status<> markDialogVerified(const MarkDialogVerified& mark) override;

 private:
  ConntrackSessionPort(std::unique_ptr<ConntrackNetlink> netlink, std::uint32_t verifiedMark)
      : netlink_(std::move(netlink)), verifiedMark_(verifiedMark) {}
  std::unique_ptr<ConntrackNetlink> netlink_;
  std::uint32_t verifiedMark_;
};

}  // namespace ftpalg::io
