// Detection of the kernel's ftp helper from `nft list ruleset` and `iptables-save -t raw` text
// (src/firewall/helper_detection.hpp). The rulesets are written as nft and iptables-save print
// them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "firewall/helper_detection.hpp"

namespace ftpalg::firewall {
namespace {

TEST(HelperDetection, FindsAnNftFtpHelperAssignedToPort21) {
  const std::string ruleset = R"(table inet filter {
	ct helper ftp-standard {
		type "ftp" protocol tcp
		l3proto inet
	}

	chain prerouting {
		type filter hook prerouting priority filter; policy accept;
		tcp dport 21 ct helper set "ftp-standard"
	}
}
)";
  const auto found = helperAssignmentsFromNft(ruleset);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].ports, std::vector<std::uint16_t>{21});
  EXPECT_EQ(conflictingHelpers(found, {21}).size(), 1u);
  EXPECT_TRUE(conflictingHelpers(found, {2121}).empty());
}

TEST(HelperDetection, PortSetsAndMissingPortClauses) {
  const std::string ruleset = R"(table ip t {
	ct helper h {
		type "ftp" protocol tcp
		l3proto ip
	}
	chain c {
		tcp dport { 2100-2102, 990 } ct helper set "h"
		ct helper set "h"
	}
}
)";
  const auto found = helperAssignmentsFromNft(ruleset);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].ports, (std::vector<std::uint16_t>{2100, 2101, 2102, 990}));
  EXPECT_TRUE(found[1].ports.empty());  // applies to every port
  EXPECT_EQ(conflictingHelpers(found, {21}).size(), 1u);
}

TEST(HelperDetection, IgnoresOtherHelperTypes) {
  const std::string ruleset = R"(table inet f {
	ct helper sip-5060 {
		type "sip" protocol udp
		l3proto inet
	}
	chain c {
		udp dport 5060 ct helper set "sip-5060"
	}
}
)";
  EXPECT_TRUE(helperAssignmentsFromNft(ruleset).empty());
}

TEST(HelperDetection, FindsIptablesCtHelperFtp) {
  const std::string dump =
      "*raw\n:PREROUTING ACCEPT [0:0]\n"
      "-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp\n"
      "-A PREROUTING -p tcp -m multiport --dports 2121,3000:3001 -j CT --helper ftp\n"
      "-A PREROUTING -p udp -m udp --dport 69 -j CT --helper tftp\nCOMMIT\n";
  const auto found = helperAssignmentsFromIptablesSave(dump, "iptables-save");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].ports, std::vector<std::uint16_t>{21});
  EXPECT_EQ(found[1].ports, (std::vector<std::uint16_t>{2121, 3000, 3001}));
  EXPECT_EQ(conflictingHelpers(found, {3001}).size(), 1u);
}

TEST(HelperDetection, TheToolNameAndTheRuleSayWhereTheAssignmentIs) {
  const auto found = helperAssignmentsFromIptablesSave(
      "*raw\n-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp\nCOMMIT\n", "ip6tables-save");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].where,
            "ip6tables-save -t raw: -A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp");
}

}  // namespace
}  // namespace ftpalg::firewall
