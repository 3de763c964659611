// IpAddress / IpPrefix / Endpoint / FlowKey: text parsing (RFC 4291 §2.2), canonical output
// (RFC 5952), value semantics and hashing.
#include "ftpalg/core/ip_address.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "packet_builder.hpp"

namespace ftpalg {
namespace {

using testing::ep;
using testing::ip;

struct TextCase {
  const char* input;
  const char* canonical;
};

class ValidIpv4Text : public ::testing::TestWithParam<TextCase> {};

TEST_P(ValidIpv4Text, ParsesToV4AndPrintsCanonically) {
  const auto parsed = IpAddress::parse(GetParam().input);
  ASSERT_TRUE(parsed.has_value()) << GetParam().input;
  EXPECT_TRUE(parsed->isV4());
  EXPECT_EQ(parsed->bytes().size(), 4u);
  EXPECT_EQ(parsed->toString(), GetParam().canonical);
}

INSTANTIATE_TEST_SUITE_P(Table, ValidIpv4Text,
                         ::testing::Values(TextCase{"192.0.2.1", "192.0.2.1"}, TextCase{"0.0.0.0", "0.0.0.0"},
                                           TextCase{"255.255.255.255", "255.255.255.255"},
                                           TextCase{"198.51.100.0", "198.51.100.0"},
                                           TextCase{"203.0.113.99", "203.0.113.99"}));

class InvalidIpText : public ::testing::TestWithParam<const char*> {};

TEST_P(InvalidIpText, IsRejected) {
  EXPECT_FALSE(IpAddress::parse(GetParam()).has_value()) << '"' << GetParam() << '"';
}

INSTANTIATE_TEST_SUITE_P(Ipv4, InvalidIpText,
                         ::testing::Values("", "192.0.2", "192.0.2.1.5", "192.0.2.256", "192.0.2.1000",
                                           "192.0.2.-1", "192.0.2.+1", "192..2.1", ".192.0.2.1", "192.0.2.1.",
                                           "192.0.2.0x1", " 192.0.2.1", "192.0.2.1 ", "192.0.2.01",
                                           "1.2.3.4/24", "a.b.c.d", "192.0.2.1\n", "4294967296.1.1.1"));

INSTANTIATE_TEST_SUITE_P(Ipv6, InvalidIpText,
                         ::testing::Values(":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3",
                                           ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "1:2:3:4:5:6:7:8::",
                                           "::1:2:3:4:5:6:7:8", "12345::", "g::", "fe80::1%eth0", "fe80::%1",
                                           "::ffff:192.0.2.256", "::192.0.2.1:1", "1:2:3:4:5:6:7:192.0.2.1",
                                           "::ffff:192.0.2", "[2001:db8::1]", "2001:db8::1 ",
                                           "+1::", "-1::", "::0x1", "1:2:3:4:5:6:192.0.2.1::"));

class ValidIpv6Text : public ::testing::TestWithParam<TextCase> {};

TEST_P(ValidIpv6Text, ParsesToV6AndPrintsRfc5952Form) {
  const auto parsed = IpAddress::parse(GetParam().input);
  ASSERT_TRUE(parsed.has_value()) << GetParam().input;
  EXPECT_TRUE(parsed->isV6());
  EXPECT_EQ(parsed->bytes().size(), 16u);
  EXPECT_EQ(parsed->toString(), GetParam().canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidIpv6Text,
    ::testing::Values(TextCase{"::", "::"}, TextCase{"::1", "::1"}, TextCase{"1::", "1::"},
                      TextCase{"2001:DB8::1", "2001:db8::1"},                              // §4.3 lower case
                      TextCase{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},  // §4.1, §4.2.1
                      TextCase{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},  // §4.2.3 first of equal runs
                      TextCase{"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},        // §4.2.3 longest run
                      TextCase{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // §4.2.2 single zero kept
                      TextCase{"2001:db8::0:1", "2001:db8::1"},
                      TextCase{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
                      TextCase{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},  // "::" for one group
                      TextCase{"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"}, TextCase{"fe80::", "fe80::"},
                      TextCase{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},  // §5 mapped: dotted quad
                      TextCase{"::ffff:c000:0201", "::ffff:192.0.2.1"},
                      TextCase{"::192.0.2.1", "::c000:201"},  // not mapped: hex
                      TextCase{"1:2:3:4:5:6:192.0.2.1", "1:2:3:4:5:6:c000:201"},
                      TextCase{"2001:db8:1::7", "2001:db8:1::7"}, TextCase{"0:0:0:0:0:0:0:0", "::"}));

TEST(IpAddress, DefaultIsV4Unspecified) {
  const IpAddress address;
  EXPECT_TRUE(address.isV4());
  EXPECT_TRUE(address.isUnspecified());
  EXPECT_EQ(address.toString(), "0.0.0.0");
}

TEST(IpAddress, UnspecifiedIsDetectedForBothFamilies) {
  EXPECT_TRUE(ip("::").isUnspecified());
  EXPECT_FALSE(ip("::1").isUnspecified());
  EXPECT_FALSE(ip("0.0.0.1").isUnspecified());
}

TEST(IpAddress, V4HostOrderAndOctetsAgree) {
  const IpAddress address = IpAddress::fromV4HostOrder(0xC0000201);
  EXPECT_EQ(address, ip("192.0.2.1"));
  EXPECT_EQ(address.v4HostOrder(), 0xC0000201u);
  EXPECT_EQ(address.v4Octets(), (std::array<std::uint8_t, 4>{192, 0, 2, 1}));
  EXPECT_EQ(IpAddress::fromV4Octets({198, 51, 100, 7}).toString(), "198.51.100.7");
}

TEST(IpAddress, BytesAreInWireOrder) {
  const auto address = ip("2001:db8::102");
  const auto bytes = address.bytes();
  ASSERT_EQ(bytes.size(), 16u);
  EXPECT_EQ(bytes[0], 0x20);
  EXPECT_EQ(bytes[1], 0x01);
  EXPECT_EQ(bytes[2], 0x0d);
  EXPECT_EQ(bytes[3], 0xb8);
  EXPECT_EQ(bytes[14], 0x01);
  EXPECT_EQ(bytes[15], 0x02);
}

TEST(IpAddress, FromBytesAcceptsOnlyFourOrSixteen) {
  const std::uint8_t raw[17] = {203, 0, 113, 5};
  EXPECT_EQ(IpAddress::fromBytes(std::span(raw, 4)), ip("203.0.113.5"));
  ASSERT_TRUE(IpAddress::fromBytes(std::span(raw, 16)).has_value());
  EXPECT_TRUE(IpAddress::fromBytes(std::span(raw, 16))->isV6());
  for (std::size_t size : {0u, 3u, 5u, 15u, 17u}) {
    EXPECT_FALSE(IpAddress::fromBytes(std::span(raw, size)).has_value()) << size;
  }
}

TEST(IpAddress, V4AndV4MappedV6AreDifferentValues) {
  EXPECT_NE(ip("192.0.2.1"), ip("::ffff:192.0.2.1"));
  EXPECT_NE(ip("0.0.0.0"), ip("::"));
}

TEST(IpAddress, OrderingIsTotalAndFamilyFirst) {
  EXPECT_LT(ip("192.0.2.1"), ip("192.0.2.2"));
  EXPECT_LT(ip("255.255.255.255"), ip("::"));
}

TEST(IpAddress, ParsedTextRoundTripsThroughCanonicalForm) {
  for (const char* text :
       {"2001:db8::1", "::ffff:198.51.100.7", "fe80::1:2", "192.0.2.77", "2001:db8:0:1::", "1:0:0:2::3"}) {
    const auto first = ip(text);
    EXPECT_EQ(ip(first.toString()), first) << text;
  }
}

// ---- IpPrefix -----------------------------------------------------------------------------------

TEST(IpPrefix, ParsesAndClearsHostBits) {
  const auto prefix = IpPrefix::parse("192.0.2.77/24");
  ASSERT_TRUE(prefix.has_value());
  EXPECT_EQ(prefix->network, ip("192.0.2.0"));
  EXPECT_EQ(prefix->length, 24);
  EXPECT_EQ(prefix->toString(), "192.0.2.0/24");
  const auto v6 = IpPrefix::parse("2001:db8:abcd:12ff::1/52");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->toString(), "2001:db8:abcd:1000::/52");
}

TEST(IpPrefix, BareAddressIsAFullLengthPrefix) {
  EXPECT_EQ(IpPrefix::parse("198.51.100.7")->length, 32);
  EXPECT_EQ(IpPrefix::parse("2001:db8::7")->length, 128);
}

TEST(IpPrefix, RejectsBadLengths) {
  for (const char* text : {"192.0.2.0/33", "192.0.2.0/", "192.0.2.0/-1", "192.0.2.0/+8", "2001:db8::/129",
                           "2001:db8::/1000", "192.0.2.0/8/8", "/8", "192.0.2.0/08", "192.0.2.0/ 8"}) {
    EXPECT_FALSE(IpPrefix::parse(text).has_value()) << text;
  }
}

struct ContainsCase {
  const char* prefix;
  const char* address;
  bool contained;
};

class PrefixContains : public ::testing::TestWithParam<ContainsCase> {};

TEST_P(PrefixContains, MatchesOnlyTheNetworkBits) {
  const auto prefix = IpPrefix::parse(GetParam().prefix);
  ASSERT_TRUE(prefix.has_value());
  EXPECT_EQ(prefix->contains(ip(GetParam().address)), GetParam().contained)
      << GetParam().prefix << " " << GetParam().address;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PrefixContains,
    ::testing::Values(ContainsCase{"192.168.0.0/16", "192.168.77.1", true},
                      ContainsCase{"192.168.0.0/16", "192.169.0.1", false},
                      ContainsCase{"198.51.100.0/25", "198.51.100.127", true},
                      ContainsCase{"198.51.100.0/25", "198.51.100.128", false},
                      ContainsCase{"0.0.0.0/0", "203.0.113.1", true},
                      ContainsCase{"0.0.0.0/0", "2001:db8::1", false},  // family mismatch
                      ContainsCase{"::/0", "192.0.2.1", false}, ContainsCase{"::/0", "2001:db8::1", true},
                      ContainsCase{"2001:db8::/32", "2001:db8:ffff::1", true},
                      ContainsCase{"2001:db8::/33", "2001:db8:8000::1", false},
                      ContainsCase{"203.0.113.5/32", "203.0.113.5", true},
                      ContainsCase{"203.0.113.5/32", "203.0.113.4", false},
                      ContainsCase{"2001:db8::5/127", "2001:db8::4", true},
                      ContainsCase{"2001:db8::5/127", "2001:db8::6", false}));

// ---- Endpoint, FlowKey --------------------------------------------------------------------------

TEST(Endpoint, ParsesAndPrintsBothFamilies) {
  const auto v4 = Endpoint::parse("192.0.2.1:21");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->address, ip("192.0.2.1"));
  EXPECT_EQ(v4->port, 21);
  EXPECT_EQ(v4->toString(), "192.0.2.1:21");
  const auto v6 = Endpoint::parse("[2001:DB8::1]:65535");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->address, ip("2001:db8::1"));
  EXPECT_EQ(v6->port, 65535);
  EXPECT_EQ(v6->toString(), "[2001:db8::1]:65535");
}

TEST(Endpoint, AcceptsPortZero) { EXPECT_EQ(ep("198.51.100.1:0").port, 0); }

TEST(Endpoint, RejectsMalformedText) {
  for (const char* text :
       {"192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:-1", "192.0.2.1:+21", "192.0.2.1:21x",
        "192.0.2.1:123456", "2001:db8::1:21", "[2001:db8::1]", "[2001:db8::1]21", "[2001:db8::1:21",
        "[192.0.2.1]:21", "[fe80::1%eth0]:21", ":21", "[]:21", ""}) {
    EXPECT_FALSE(Endpoint::parse(text).has_value()) << text;
  }
}

TEST(FlowKey, PrintsClientDashServer) {
  EXPECT_EQ((FlowKey{ep("192.168.78.10:50000"), ep("198.51.100.7:21")}).toString(),
            "192.168.78.10:50000-198.51.100.7:21");
  EXPECT_EQ((FlowKey{ep("[2001:db8::10]:50000"), ep("[2001:db8:1::7]:21")}).toString(),
            "[2001:db8::10]:50000-[2001:db8:1::7]:21");
}

TEST(FlowKeyHash, EqualKeysHashEqual) {
  const FlowKey a{ep("192.0.2.1:1024"), ep("198.51.100.2:21")};
  const FlowKey b{ep("192.0.2.1:1024"), ep("198.51.100.2:21")};
  EXPECT_EQ(FlowKeyHash{}(a), FlowKeyHash{}(b));
}

TEST(FlowKeyHash, DistinguishesDirectionPortsAndFamilies) {
  const std::set<std::size_t> hashes = {
      FlowKeyHash{}({ep("192.0.2.1:1024"), ep("198.51.100.2:21")}),
      FlowKeyHash{}({ep("198.51.100.2:21"), ep("192.0.2.1:1024")}),
      FlowKeyHash{}({ep("192.0.2.1:1025"), ep("198.51.100.2:21")}),
      FlowKeyHash{}({ep("192.0.2.1:1024"), ep("198.51.100.2:20")}),
      FlowKeyHash{}({ep("[::ffff:192.0.2.1]:1024"), ep("[::ffff:198.51.100.2]:21")}),
  };
  EXPECT_EQ(hashes.size(), 5u);
}

TEST(EndpointHash, DependsOnAddressAndPort) {
  EXPECT_EQ(EndpointHash{}(ep("203.0.113.1:21")), EndpointHash{}(ep("203.0.113.1:21")));
  EXPECT_NE(EndpointHash{}(ep("203.0.113.1:21")), EndpointHash{}(ep("203.0.113.1:20")));
  EXPECT_NE(EndpointHash{}(ep("203.0.113.1:21")), EndpointHash{}(ep("203.0.113.2:21")));
}

}  // namespace
}  // namespace ftpalg
