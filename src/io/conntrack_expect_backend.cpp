// ConntrackExpectBackend: see conntrack_expect_backend.hpp.
#include "conntrack_expect_backend.hpp"

#include <cerrno>

#include "io/conntrack_session_port.hpp"

namespace ftpalg::io {

Result<ExpectationRequest> expectationFor(const Pinhole& pinhole) {
  const NatMapping& nat = pinhole.controlNat;
  const bool serverConnects = pinhole.announcedBy == Direction::ClientToServer;  // PORT/EPRT
  // nat-follow-master forwards to the announcing peer's real address, taken from the master.
  const IpAddress announcer = serverConnects ? nat.clientReal.address : nat.serverReal.address;
  if (pinhole.from.family() != announcer.family() || pinhole.to.address.family() != announcer.family()) {
    return Err("pinhole " + pinhole.from.toString() + " -> " + pinhole.to.toString() +
               ": not of the control connection's address family");
  }
  if (pinhole.natTo && pinhole.natTo->address != announcer) {
    return Err("pinhole " + pinhole.from.toString() + " -> " + pinhole.to.toString() + " forwards to " +
               pinhole.natTo->toString() + ", not to the announcing peer " + announcer.toString() +
               ": a conntrack expectation cannot express that");
  }
  ExpectationRequest request;
  request.master = originalTupleOf(nat);
  request.tuple = ConntrackTuple{Endpoint{pinhole.from, 0}, pinhole.to};
  request.natDir = serverConnects ? ConntrackDir::Reply : ConntrackDir::Original;
  request.natPort = pinhole.natTo ? pinhole.natTo->port : pinhole.to.port;
  request.timeoutSeconds = static_cast<std::uint32_t>(pinhole.timeout.count());
  return request;
}

Result<std::unique_ptr<ConntrackExpectBackend>> ConntrackExpectBackend::open() {
  auto netlink = ConntrackNetlink::open();
  if (!netlink) return Err(netlink.error());
  return std::unique_ptr<ConntrackExpectBackend>(new ConntrackExpectBackend(std::move(netlink.value())));
}

Status<> ConntrackExpectBackend::open(const Pinhole& pinhole) {
  auto request = expectationFor(pinhole);
  if (!request) return Err(request.error());
  auto created = netlink_->createExpectation(*request);
  if (created) return okStatus();
  std::string why = created.error().message;
  switch (created.error().code) {
    case EEXIST:
    case EBUSY: why += " (another expectation already admits this data connection)"; break;
    case EOPNOTSUPP: why += " (the control connection has no helper: it is not anchored)"; break;
    case ENOENT: why += " (no such control connection in conntrack)"; break;
    default: break;
  }
  return Err(why);
}

Status<> ConntrackExpectBackend::close(const Pinhole& pinhole, Reason /*reason*/) {
  const ConntrackTuple tuple{Endpoint{pinhole.from, 0}, pinhole.to};
  auto found = netlink_->getExpectation(tuple);
  if (!found) return Err(found.error().message);
  // Used, expired, evicted by the session's newer one, or now another connection's: not ours.
  if (!found.value() || found.value()->master != originalTupleOf(pinhole.controlNat)) return okStatus();
  if (auto deleted = netlink_->deleteExpectation(tuple, found.value()->id);
      !deleted && deleted.error().code != ENOENT) {
    return Err(deleted.error().message);
  }
  return okStatus();
}

}  // namespace ftpalg::io
