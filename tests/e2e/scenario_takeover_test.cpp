// The conntrack-owned mode across an ftpalg outage and against forged RSTs (issue 16), with
// `ftpalg run --fail-open --seq-owner kernel` on a masquerading router behind the admin's strict
// firewall with no ftpalg-specific accept rule (tests/e2e/scenario-takeover.sh has the steps):
//   - kill -9 during a transfer on a connection whose PORT rewrites change the length: the
//     transfer completes, commands work while ftpalg is dead, the restarted instance takes the
//     connection over and rewrites its next PORT, whose data connection works;
//   - the same for a clean stop and start (an upgrade);
//   - RSTs forged with the connection's 4-tuple and a wrong sequence number change nothing.
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

TEST(ConntrackOwnedOutage, KillDuringATransferThenRestartTakesTheSessionOver) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-takeover.sh", "kill"), 12);
}

TEST(ConntrackOwnedOutage, CleanStopDuringATransferThenStartTakesTheSessionOver) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-takeover.sh", "term"), 12);
}

TEST(ConntrackOwnedOutage, ForgedRstsWithTheFourTupleAndAWrongSequenceNumberChangeNothing) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-takeover.sh", "rst"), 10);
}

}  // namespace
}  // namespace ftpalg::e2e
