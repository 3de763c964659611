// Who may use a pinhole, with `ftpalg run` on the router and the admin's strict firewall
// (issue 15, items 10, 12b and 12c; tests/e2e/scenario-peers.sh, run-scenario.sh):
//   - a third host probing a port-forwarded server's passive pinhole is refused, and the client
//     that asked for it still gets its file (docs/adversarial-cases.md case 27);
//   - two masqueraded clients announcing the same port at once both succeed, each data
//     connection reaching the client that announced it (docs/decisions/0004, case 28);
//   - a port-forwarded server that announces the public address itself (vsftpd pasv_address,
//     proftpd MasqueradeAddress): nothing to rewrite, one pinhole forwarding to the inside
//     server per announcement (docs/decisions/0005).
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

TEST(PinholePeers, ThirdHostProbingAPassivePinholeIsRefusedAndTheClientStillSucceeds) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  const auto r = runScript("scenario-peers.sh", "third-host");
  expectAllChecksOk(r, 8);
  EXPECT_EQ(r.decisions.size(), 3u) << describe(r);  // rewrite, pinhole, pinhole_close
}

TEST(PinholePeers, TwoClientsAnnouncingTheSamePortAtOnceEachGetTheirOwnData) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  expectAllChecksOk(runScript("scenario-peers.sh", "same-port"), 9);
}

class PublicAddressServer : public ::testing::TestWithParam<const char*> {};

// The 227 already names 203.0.113.1, the address the client reached: ftpalg rewrites nothing
// and opens, per announcement, one pinhole forwarding the public port to the inside server.
TEST_P(PublicAddressServer, PassiveSessionWorksWithoutRewriteAndWithOnePinholeToTheInsideServer) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  for (const char* client : {"curl", "ftplib"}) {
    const auto r = runScenario(std::string("dnat ") + GetParam() + " " + client +
                               " pasv --ftpalg live --announce-public");
    ASSERT_EQ(r.status, "pass") << client << "\n" << describe(r);
    EXPECT_EQ(r.get("residue"), "clean") << describe(r);
    EXPECT_EQ(r.num("data_verbs"), 2) << describe(r);
    EXPECT_EQ(r.num("rewrites"), 0) << describe(r);
    EXPECT_EQ(r.num("pinholes"), 2) << describe(r);
    EXPECT_EQ(r.num("rejects"), 0) << describe(r);
    EXPECT_EQ(r.num("anomalies"), 0) << describe(r);
    int toInsideServer = 0;
    for (const auto& d : r.decisions) {
      if (d == "pinhole from=203.0.113.20 to=203.0.113.1:* nat_to=192.168.78.10:*") ++toInsideServer;
    }
    EXPECT_EQ(toInsideServer, 2) << describe(r);
  }
}
INSTANTIATE_TEST_SUITE_P(Servers, PublicAddressServer, ::testing::Values("vsftpd", "proftpd"), paramName);

}  // namespace
}  // namespace ftpalg::e2e
