// The end-to-end matrix of issue 4 with `ftpalg run` on the router and the admin's strict
// firewall (forward policy drop, invalid dropped, only new tcp/21 and the pinhole mark accepted,
// nf_conntrack_tcp_be_liberal=0, no kernel ftp helper):
//   1. client behind masquerade, active mode (PORT, EPRT): vsftpd, proftpd, pure-ftpd x curl
//      (-P - with and without --disable-eprt), lftp, wget, ftplib;
//   3. server behind port forwarding, passive mode (PASV, EPSV), the server announcing its
//      private address;
//   4. IPv6 (no NAT): EPRT and EPSV through the ip6 default-drop forward chain.
// Every session LISTs /pub and RETRs a file whose sha256 is verified, in exactly the mode named
// (a client falling back to another mode fails). The decision log must show the rewrite (where
// NAT applies; none where it does not) and exactly one pinhole per announcement; after SIGTERM,
// ftpalg exits 0 and leaves no rule or table behind.
#include "scenario_support.hpp"

namespace ftpalg::e2e {
namespace {

struct Case {
  const char* topo;
  const char* server;
  const char* client;
  const char* mode;
  int family;
  const char* rewrite;  // a DECISION line must start with this ("" = no rewrite at all)
  const char* pinhole;  // a DECISION line must equal this
};

std::string name(const Case& c) {
  std::string n =
      std::string(c.topo) + "_" + c.server + "_" + c.client + "_" + c.mode + "_v" + std::to_string(c.family);
  for (auto& ch : n) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

void PrintTo(const Case& c, std::ostream* os) { *os << name(c); }

class Matrix : public ::testing::TestWithParam<Case> {};

TEST_P(Matrix, SessionSucceedsThroughFtpalgWithOnePinholePerAnnouncement) {
  FTPALG_E2E_REQUIRE_FTPALG_RUN();
  const Case& c = GetParam();
  const auto r = runScenario(std::string(c.topo) + " " + c.server + " " + c.client + " " + c.mode +
                             " --family " + std::to_string(c.family) + " --ftpalg live");
  const std::string out = "runner output:\n" + r.output;
  ASSERT_EQ(r.status, "pass") << out;
  EXPECT_EQ(r.exitCode, 0) << out;
  EXPECT_EQ(r.get("log_mode"), "live") << out;
  EXPECT_EQ(r.get("residue"), "clean") << out;
  EXPECT_EQ(r.get("ftpalg_exit"), "0") << out;
  // One pinhole per PORT/EPRT the client sent or per PASV/EPSV the server answered; LIST and
  // RETR each need one, so at least two.
  EXPECT_GE(r.num("data_verbs"), 2) << out;
  EXPECT_EQ(r.num("pinholes"), r.num("data_verbs")) << out;
  EXPECT_EQ(r.num("rejects"), 0) << out;
  EXPECT_EQ(r.num("anomalies"), 0) << out;
  bool pinholeSeen = false;
  int rewrites = 0;
  for (const auto& d : r.decisions) {
    if (d == c.pinhole) pinholeSeen = true;
    if (d.rfind("rewrite ", 0) == 0) {
      ++rewrites;
      EXPECT_TRUE(*c.rewrite != '\0' && d.rfind(c.rewrite, 0) == 0) << "unexpected " << d << "\n" << out;
    }
  }
  EXPECT_TRUE(pinholeSeen) << "no decision \"" << c.pinhole << "\"\n" << out;
  if (*c.rewrite == '\0') {
    EXPECT_EQ(rewrites, 0) << out;
  } else {
    EXPECT_EQ(rewrites, r.num("data_verbs")) << out;
  }
}

// --- 1. active mode behind masquerade ----------------------------------------------------------
constexpr const char* kPort = "rewrite c2s PORT PORT 203,0,113,1,*,*";
constexpr const char* kEprt = "rewrite c2s EPRT EPRT |1|203.0.113.1|*|";
constexpr const char* kActivePinhole = "pinhole from=203.0.113.10 to=203.0.113.1:* nat_to=192.168.77.10:*";

#define ACTIVE(server)                                                         \
  Case{"masq", server, "curl", "port", 4, kPort, kActivePinhole},              \
      Case{"masq", server, "curl", "eprt", 4, kEprt, kActivePinhole},          \
      Case{"masq", server, "lftp", "port", 4, kPort, kActivePinhole},          \
      Case{"masq", server, "wget", "port", 4, kPort, kActivePinhole},          \
      Case{"masq", server, "ftplib", "port", 4, kPort, kActivePinhole}, Case { \
    "masq", server, "ftplib", "eprt", 4, kEprt, kActivePinhole                 \
  }

INSTANTIATE_TEST_SUITE_P(ActiveBehindMasquerade, Matrix,
                         ::testing::Values(ACTIVE("vsftpd"), ACTIVE("proftpd"), ACTIVE("pure-ftpd"),
                                           Case{"masq", "pyftpdlib", "curl", "port", 4, kPort,
                                                kActivePinhole}),
                         [](const ::testing::TestParamInfo<Case>& p) { return name(p.param); });

// --- 3. passive mode to a port-forwarded server -------------------------------------------------
// A 229 names only a port, which ftpalg keeps (docs/decisions/0004): no rewrite, but a pinhole
// forwarded to the private server.
constexpr const char* k227 = "rewrite s2c 227 ";
constexpr const char* kPassivePinhole = "pinhole from=203.0.113.20 to=203.0.113.1:* nat_to=192.168.78.10:*";

#define PASSIVE(server)                                                    \
  Case{"dnat", server, "curl", "pasv", 4, k227, kPassivePinhole},          \
      Case{"dnat", server, "curl", "epsv", 4, "", kPassivePinhole}, Case { \
    "dnat", server, "ftplib", "pasv", 4, k227, kPassivePinhole             \
  }

INSTANTIATE_TEST_SUITE_P(PassiveToPortForwardedServer, Matrix,
                         ::testing::Values(PASSIVE("vsftpd"), PASSIVE("proftpd"), PASSIVE("pure-ftpd"),
                                           Case{"dnat", "vsftpd", "lftp", "pasv", 4, k227, kPassivePinhole},
                                           Case{"dnat", "vsftpd", "wget", "pasv", 4, k227, kPassivePinhole},
                                           Case{"dnat", "pyftpdlib", "curl", "pasv", 4, k227,
                                                kPassivePinhole}),
                         [](const ::testing::TestParamInfo<Case>& p) { return name(p.param); });

// --- 4. IPv6, no NAT, default-drop forward chain --------------------------------------------
constexpr const char* kV6Eprt = "pinhole from=2001:db8:1::10 to=[2001:db8:77::10]:* nat_to=null";
constexpr const char* kV6EpsvOut = "pinhole from=2001:db8:77::10 to=[2001:db8:1::10]:* nat_to=null";
constexpr const char* kV6EpsvIn = "pinhole from=2001:db8:1::20 to=[2001:db8:78::10]:* nat_to=null";

INSTANTIATE_TEST_SUITE_P(Ipv6DefaultDrop, Matrix,
                         ::testing::Values(Case{"masq", "vsftpd", "curl", "eprt", 6, "", kV6Eprt},
                                           Case{"masq", "proftpd", "lftp", "eprt", 6, "", kV6Eprt},
                                           Case{"masq", "pure-ftpd", "wget", "eprt", 6, "", kV6Eprt},
                                           Case{"masq", "pyftpdlib", "ftplib", "eprt", 6, "", kV6Eprt},
                                           Case{"masq", "vsftpd", "curl", "epsv", 6, "", kV6EpsvOut},
                                           Case{"masq", "pure-ftpd", "ftplib", "epsv", 6, "", kV6EpsvOut},
                                           Case{"dnat", "proftpd", "curl", "epsv", 6, "", kV6EpsvIn},
                                           Case{"dnat", "vsftpd", "lftp", "epsv", 6, "", kV6EpsvIn}),
                         [](const ::testing::TestParamInfo<Case>& p) { return name(p.param); });

}  // namespace
}  // namespace ftpalg::e2e
