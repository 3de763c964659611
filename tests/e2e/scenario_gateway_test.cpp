// `ftpalg run` on the router, beyond the matrix (issue 4, end-to-end 1, 2, 5, 6):
//   - one control connection: a 50 MB RETR, then 100 more commands (seq/ack stays right after
//     the length-changing rewrites);
//   - the negative control: active mode fails with ftpalg not running, and with --dry-run, whose
//     log shows the same decisions as the live run;
//   - fail modes: --fail-open survives SIGKILL for passive FTP, --fail-closed stalls, a restart
//     leaves no stale rule or pinhole (tests/e2e/scenario-failmode.sh);
//   - pinhole hygiene: one connection, from the announced peer only, gone after the control
//     connection closes or the timeout (tests/e2e/scenario-pinhole.sh, checked with nft list).
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

TEST(LongSession, FiftyMegabyteRetrThenHundredCommandsOnOneControlConnection) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  const auto r = runScenario(
      "masq vsftpd ftplib port --ftpalg live --big 52428800 --ftplib-extra '--extra-commands 100'");
  ASSERT_EQ(r.status, "pass") << describe(r);
  // PORT for the big RETR, the LIST, the small RETR and one per extra LIST (every tenth of the
  // 100 commands): each rewritten (the address grows from 192,168,77,10 to 203,0,113,1 minus
  // one byte: a length change every time) and each with its own pinhole.
  EXPECT_EQ(r.num("data_verbs"), 12) << describe(r);
  EXPECT_EQ(r.num("rewrites"), 12) << describe(r);
  EXPECT_EQ(r.num("pinholes"), 12) << describe(r);
  EXPECT_EQ(r.num("anomalies"), 0) << describe(r);
  EXPECT_EQ(r.get("residue"), "clean") << describe(r);
}

// Without ftpalg, active mode behind masquerade fails (vsftpd's anti-bounce check: 500).
TEST(NegativeControl, ActiveModeFailsWithFtpalgNotRunning) {
  FTPALG_E2E_REQUIRE_ROOT();
  const auto r = runScenario("masq vsftpd curl port --ftpalg none --connect-timeout 3 --expect fail");
  EXPECT_EQ(r.status, "fail") << describe(r);
  EXPECT_EQ(r.get("reason"), "reply_500") << describe(r);
}

// --dry-run changes nothing, so the session fails exactly as without ftpalg; its log holds the
// decisions the live run made for the same session (up to where the dry-run session stopped).
TEST(NegativeControl, DryRunFailsLikeNoFtpalgAndLogsTheLiveDecisions) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  for (const char* mode : {"port", "eprt"}) {
    const std::string base = std::string("masq vsftpd ftplib ") + mode;
    const auto live = runScenario(base + " --ftpalg live");
    const auto dry = runScenario(base + " --ftpalg dry-run --expect fail");
    ASSERT_EQ(live.status, "pass") << describe(live);
    EXPECT_EQ(dry.status, "fail") << describe(dry);
    EXPECT_EQ(dry.get("reason"), "reply_500") << "the server must see the unmodified line\n" << describe(dry);
    EXPECT_EQ(dry.get("log_mode"), "dry-run") << describe(dry);
    EXPECT_EQ(dry.get("residue"), "clean") << describe(dry);
    // Pinhole closes follow the session's lifetime, which differs (the dry-run session ends at
    // the server's 500): compare the announcements' decisions.
    const auto announcements = [](const ScenarioResult& r) {
      std::vector<std::string> out;
      for (const auto& d : r.decisions) {
        if (d.rfind("pinhole_close ", 0) != 0) out.push_back(d);
      }
      return out;
    };
    const auto dryDecisions = announcements(dry);
    const auto liveDecisions = announcements(live);
    ASSERT_GE(dryDecisions.size(), 2u) << "a rewrite and a pinhole, at least\n" << describe(dry);
    ASSERT_LE(dryDecisions.size(), liveDecisions.size()) << describe(dry) << describe(live);
    for (std::size_t i = 0; i < dryDecisions.size(); ++i) {
      EXPECT_EQ(dryDecisions[i], liveDecisions[i]) << "decision " << i << "\n"
                                                   << describe(dry) << describe(live);
    }
  }
}

TEST(FailMode, FailOpenKeepsPassiveFtpWorkingAfterSigkillAndRestartLeavesNothingStale) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-failmode.sh", "open"), 11);
}

TEST(FailMode, FailClosedStallsControlAfterSigkillAndRestartLeavesNothingStale) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-failmode.sh", "closed"), 11);
}

TEST(PinholeHygiene, OneConnectionFromTheAnnouncedPeerOnlyIpv4) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-pinhole.sh", "single --family 4"), 8);
}

TEST(PinholeHygiene, OneConnectionFromTheAnnouncedPeerOnlyIpv6) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-pinhole.sh", "single --family 6"), 8);
}

TEST(PinholeHygiene, GoneWhenTheControlConnectionCloses) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-pinhole.sh", "close"), 5);
}

TEST(PinholeHygiene, GoneAfterItsTimeout) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-pinhole.sh", "timeout"), 5);
}

// The lab's firewall carries the accept rule `ftpalg rules` tells an admin to add, verbatim.
TEST(AdminRule, LabFirewallUsesTheRuleThatFtpalgRulesPrints) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  const std::string lab = sourceDir() + "/scripts/lab/lab.sh";
  const int rc = shell("rule=$(bash -c 'source " + quote(lab) + " && echo \"$LAB_PINHOLE_RULE\"') && " +
                       "test -n \"$rule\" && timeout 5 " + quote(ftpalgBin()) +
                       " rules --firewall nft | grep -qxF \"$rule\"");
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace ftpalg::e2e
