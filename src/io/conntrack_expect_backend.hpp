// ConntrackExpectBackend: pinholes as conntrack expectations of the control connection
// (`--pinhole-backend conntrack`, the default of the conntrack-owned mode;
// docs/design.md#expectations-as-pinholes). The data connection arrives RELATED and NAT'ed by
// the kernel, so the admin's ordinary `ct state established,related accept` admits it: no
// ftpalg-specific accept rule, and `conntrack -L expect` / `conntrack -E expect` show pinholes.
//
// open(): IPCTNL_MSG_EXP_NEW with NLM_F_CREATE | NLM_F_EXCL, then the timer (a second EXP_NEW):
//   master = the control connection's ORIGINAL tuple (pinhole.controlNat);
//   tuple  = pinhole.from:any -> pinhole.to (the source port wildcarded by the mask);
//   NAT    = direction REPLY for PORT/EPRT (the server connects: nat-follow-master maps it to the
//            master's ORIGINAL source, the client), ORIGINAL for 227/229 (the client connects: mapped
//            to the master's REPLY source, the server); the forwarded-to port in the NAT tuple's
//            source port; the addresses come from the master, so pinhole.natTo's address must be
//            the announcing peer's real address (it always is);
//   fn     = "nat-follow-master" (it also source-NATs the data connection like the master).
// The master needs a helper (ftpalg's anchor): a connection without one fails with EOPNOTSUPP. A
// master holds one expectation (max_expected 1 of the sane helper): a newer one evicts the older
// in the kernel, as the engine replaces a session's pinhole. EEXIST: another expectation (of any
// master) already admits the tuple; the open fails and is reported (the engine's public-port
// choice cannot see other queues' pinholes).
//
// close(): looks the expectation up by its tuple (EXP_GET) and deletes it by tuple and id
// (EXP_DELETE) only when its master is this pinhole's control connection; one already used or
// expired, or one that is now another master's, is not an error.
//
// Not thread-safe: one backend per queue worker (its own socket).
#pragma once

#include <memory>

#include "ftpalg/io/interfaces.hpp"
#include "io/conntrack_netlink.hpp"

namespace ftpalg::io {

// The expectation that implements `pinhole`, or an error naming why it cannot be expressed.
Result<ExpectationRequest> expectationFor(const Pinhole& pinhole);

class ConntrackExpectBackend final : public PinholeBackend {
 public:
  static Result<std::unique_ptr<ConntrackExpectBackend>> open();

  Status<> open(const Pinhole& pinhole) override;
  Status<> close(const Pinhole& pinhole, Reason reason) override;

 private:
  explicit ConntrackExpectBackend(std::unique_ptr<ConntrackNetlink> netlink) : netlink_(std::move(netlink)) {}
  std::unique_ptr<ConntrackNetlink> netlink_;
};

}  // namespace ftpalg::io
