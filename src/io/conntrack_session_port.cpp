// ConntrackSessionPort: see conntrack_session_port.hpp.
#include "conntrack_session_port.hpp"

namespace ftpalg::io {

ConntrackTuple originalTupleOf(const NatMapping& nat) {
  return ConntrackTuple{nat.clientReal, nat.serverSeenByClient};
}

Result<std::unique_ptr<ConntrackSessionPort>> ConntrackSessionPort::open(std::uint32_t verifiedMark) {
  auto netlink = ConntrackNetlink::open();
  if (!netlink) return Err(netlink.error());
  return std::unique_ptr<ConntrackSessionPort>(
      new ConntrackSessionPort(std::move(netlink.value()), verifiedMark));
}

Status<> ConntrackSessionPort::adjustSequence(const AdjustKernelSequence& adjust) {
  const ConntrackDir dir =
      adjust.direction == Direction::ClientToServer ? ConntrackDir::Original : ConntrackDir::Reply;
  if (auto set = netlink_->setSeqAdj(originalTupleOf(adjust.nat), dir, adjust.record); !set)
    return Err(set.error().message);
  return okStatus();
}

Status<> ConntrackSessionPort::markDialogVerified(const MarkDialogVerified& mark) {
  if (auto set = netlink_->setMarkBits(originalTupleOf(mark.nat), verifiedMark_, verifiedMark_); !set)
    return Err(set.error().message);
  return okStatus();
}

}  // namespace ftpalg::io
