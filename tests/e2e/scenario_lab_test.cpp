// The lab itself, without ftpalg: proves that the namespaces, the strict firewall, the NAT and
// every real server and client work, and that the problem ftpalg solves is real (issue 4,
// end-to-end 2: the negative control). Each expectation here can fail: a lab that forwarded
// too much would make the "fails without ftpalg" cases pass, a broken lab the "works" cases fail.
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

// --- what must work without ftpalg ------------------------------------------------------------

class RouteOnlyLab : public ::testing::TestWithParam<const char*> {};

// Route-only topology, open firewall: each server serves LIST and RETR to curl in active (PORT)
// and in passive (EPSV) mode. If this fails, the lab is broken, not ftpalg.
TEST_P(RouteOnlyLab, ServerWorksInActiveAndPassiveModeWithoutNat) {
  FTPALG_E2E_REQUIRE_ROOT();
  for (const char* mode : {"port", "epsv"}) {
    const auto r = runScenario(std::string("route ") + GetParam() + " curl " + mode + " --firewall open");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.status, "pass") << describe(r);
  }
}
INSTANTIATE_TEST_SUITE_P(Servers, RouteOnlyLab,
                         ::testing::Values("vsftpd", "proftpd", "pure-ftpd", "pyftpdlib"), paramName);

// Behind masquerade, with the strict firewall but an open egress policy (a home router),
// passive mode needs no helper: the control connection passes the filter and the NAT.
TEST(MasqueradeLab, PassiveModeWorksThroughStrictFirewallWithOpenEgress) {
  FTPALG_E2E_REQUIRE_ROOT();
  for (const char* client : {"curl", "ftplib"}) {
    const auto r = runScenario(std::string("masq vsftpd ") + client + " pasv --egress open");
    EXPECT_EQ(r.status, "pass") << describe(r);
  }
  const auto v6 = runScenario("masq vsftpd curl epsv --family 6 --egress open");
  EXPECT_EQ(v6.status, "pass") << describe(v6);
}

// --- what must fail without ftpalg ------------------------------------------------------------

// The negative control: active mode behind masquerade fails without ftpalg, first at the
// server's anti-bounce check (docs/design.md#anti-bounce-without-an-alg): vsftpd and pure-ftpd 500, pyftpdlib
// 501.
TEST(MasqueradeLab, ActiveModeFailsWithoutFtpalg) {
  FTPALG_E2E_REQUIRE_ROOT();
  struct Case {
    const char* args;
    const char* reason;
  };
  for (const Case& c :
       {Case{"masq vsftpd curl port", "reply_500"}, Case{"masq vsftpd ftplib eprt", "reply_500"},
        Case{"masq pure-ftpd curl port", "reply_500"}, Case{"masq pyftpdlib ftplib port", "reply_501"}}) {
    const auto r = runScenario(std::string(c.args) + " --connect-timeout 3 --expect fail");
    EXPECT_EQ(r.exitCode, 1) << c.args << "\n" << describe(r);
    EXPECT_EQ(r.status, "fail") << c.args << "\n" << describe(r);
    EXPECT_EQ(r.get("reason"), c.reason) << c.args << "\n" << describe(r);
  }
}

// The strict egress policy really drops data connections that no pinhole admits: passive mode
// from behind masquerade fails (IPv4 and IPv6).
TEST(MasqueradeLab, StrictEgressDropsPassiveDataConnectionsWithoutPinhole) {
  FTPALG_E2E_REQUIRE_ROOT();
  for (const char* args : {"masq vsftpd curl pasv", "masq vsftpd curl epsv --family 6"}) {
    const auto r = runScenario(std::string(args) + " --connect-timeout 3 --expect fail");
    EXPECT_EQ(r.status, "fail") << args << "\n" << describe(r);
    EXPECT_NE(r.get("reason"), "ok") << describe(r);
  }
}

// IPv6 is routed without NAT, but the default-drop forward chain stops the server's active
// data connection to the client.
TEST(MasqueradeLab, Ipv6ActiveModeBlockedByDefaultDropWithoutFtpalg) {
  FTPALG_E2E_REQUIRE_ROOT();
  const auto r = runScenario("masq vsftpd ftplib eprt --family 6 --connect-timeout 3 --expect fail");
  EXPECT_EQ(r.status, "fail") << describe(r);
}

// A port-forwarded server announces its private address in its 227: passive mode fails
// without ftpalg (PASV with curl, which trusts the 227; EPSV, which no firewall rule admits).
TEST(DnatLab, PassiveModeFailsWithoutFtpalg) {
  FTPALG_E2E_REQUIRE_ROOT();
  for (const char* args : {"dnat vsftpd curl pasv", "dnat vsftpd ftplib epsv"}) {
    const auto r = runScenario(std::string(args) + " --connect-timeout 3 --expect fail");
    EXPECT_EQ(r.status, "fail") << args << "\n" << describe(r);
  }
}

}  // namespace
}  // namespace ftpalg::e2e
