// The operations commands against a real router namespace (tests/e2e/scenario-ops.sh):
//   - `ftpalg check` passes with the lab's strict firewall and changes nothing; without the
//     pinhole accept rule it fails, naming the policy and printing the fix, which makes it pass;
//     a kernel ftp helper in the map syntax is found;
//   - `ftpalg status --json` and the metrics endpoint with a real session (its flow, its pinhole,
//     counters and latency samples), SIGHUP applying a limit without dropping the session.
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

TEST(OpsCheck, PassesWithTheLabsRulesExplainsAMissingAcceptRuleAndFindsAMapSyntaxHelper) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-ops.sh", "check"), 17);
}

TEST(OpsStatus, StatusJsonAndMetricsShowARealSessionAndSighupKeepsIt) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-ops.sh", "status"), 18);
}

}  // namespace
}  // namespace ftpalg::e2e
