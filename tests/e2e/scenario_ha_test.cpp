// Router failover keeps FTP sessions (docs/ha.md): two routers with keepalived VRRP and conntrackd
// FTFW (ExpectationSync), ftpalg --seq-owner kernel on both, the admin's strict firewall without
// any ftpalg-specific rule, be_liberal=0. tests/e2e/scenario-ha.sh drives real vsftpd servers and
// a python ftplib client through a crash of the master (keepalived SIGKILLed, its switch ports
// down) and a fail-back; every CHECK line must be ok.
//
// Each scenario takes 5-15 s (the 50 MB RETR lasts about 4.5 s at the server's 12 MB/s rate limit).
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

ScenarioResult runHa(const std::string& scenario) { return runScript("scenario-ha.sh", scenario); }

// A length-changing PORT (192,168,77,10 -> 203,0,113,1: -2 bytes per rewrite): the 50 MB RETR
// survives the crash of router a with the right sha256, the control connection goes on through
// b, the next PORT is rewritten by b and its data connection works, and after the fail-back to a
// a third PORT is rewritten by a and works.
TEST(ScenarioHa, ActiveSessionSurvivesFailoverAndFailback) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  const ScenarioResult r = runHa("active");
  expectAllChecksOk(r, 10);
}

// Passive mode to the DNAT'd inside server: its 227 (192,168,77,20 -> 203,0,113,1) is rewritten
// by a, then by b after the crash, then by a after the fail-back.
TEST(ScenarioHa, PassiveSessionToDnatServerSurvivesFailoverAndFailback) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  const ScenarioResult r = runHa("passive");
  expectAllChecksOk(r, 11);
}

// A PORT announced through a just before its crash: the replicated expectation arrives on b
// without NAT, b's ftpalg re-creates it with NAT, and the server's data connection to the public
// address reaches the client through b.
TEST(ScenarioHa, PinholeAnnouncedOnAUsedThroughB) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  const ScenarioResult r = runHa("pending");
  expectAllChecksOk(r, 5);
}

}  // namespace
}  // namespace ftpalg::e2e
