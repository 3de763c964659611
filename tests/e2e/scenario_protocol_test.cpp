// Protocol behaviour in a real session, with `ftpalg run` on the router and the admin's strict
// firewall (issue 15, items 8 and 12d):
//   - a PORT written by a Linux client in two send() calls with Nagle on completes promptly and
//     is rewritten once (docs/decisions/0001, docs/adversarial-cases.md case 13;
//     tests/e2e/scenario-split.sh);
//   - explicit FTPS (vsftpd ssl_enable, curl --ssl-reqd): the control channel turns opaque, no
//     pinhole is opened, and passive mode works once the admin forwards the server's static
//     passive port range (case 11; docs/admin-guide.md#ftps-limits; tests/e2e/scenario-ftps.sh).
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

// "PO" + "RT ...": only bytes after the keyword are ever held, so nothing is held.
TEST(SplitCommand, NagleSplitInsideTheVerbIsNotHeldAndRewrittenOnce) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-split.sh", "in-verb"), 18);
}

// "PORT 192,168,7" + "7,10,...": held until Linux sends the rest as its tail loss probe; a pure
// ACK from the client during the hold must not count as released data.
TEST(SplitCommand, NagleSplitInsideTheAddressIsHeldThenRewrittenOnceWithinOneSecond) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-split.sh", "in-address"), 19);
}

TEST(Ftps, ControlChannelOpaqueNoPinholePassiveWorksThroughTheStaticPortRange) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-ftps.sh", ""), 12);
}

}  // namespace
}  // namespace ftpalg::e2e
