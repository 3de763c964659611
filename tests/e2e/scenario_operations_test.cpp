// Operations under a running `ftpalg run` (issue 17, items 3 and 7):
//   - firewall reloads (docs/admin-guide.md#firewall-reloads): `nft -f` of a file starting with
//     `flush ruleset` in the middle of an active-mode session, then a reload in two transactions;
//     ftpalg reinstalls its queue rules, its table and the pending pinhole, logs it, and does not
//     loop; in both sequence-owner modes (tests/e2e/scenario-reload.sh);
//   - the dry-run through NFLOG copies (docs/admin-guide.md#dry-run-and-shadow-mode): next to the
//     kernel's ftp helper, which serves the session while ftpalg logs its own decisions, and
//     stopped with SIGSTOP without stalling the session (tests/e2e/scenario-shadow.sh).
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

TEST(FirewallReload, ReinstallsQueueRulesTableAndPendingPinholeAndDoesNotLoop) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-reload.sh", ""), 24);
}

TEST(FirewallReload, ConntrackOwnedModeReinstallsItsChainAndAnchorAndKeepsTheExpectation) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-reload.sh", "--seq-owner kernel"), 24);
}

TEST(DryRun, ShadowsTheKernelHelperWithTheSameRewriteAndAStoppedInstanceDelaysNothing) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-shadow.sh", ""), 9);
}

}  // namespace
}  // namespace ftpalg::e2e
