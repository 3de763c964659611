// StaticFlowResolver: direction by control port, flow key as captured, NAT views from --snat and
// --dnat rules.
#include "ftpalg/engine/static_flow_resolver.hpp"

#include <gtest/gtest.h>

#include "packet_builder.hpp"

namespace ftpalg {
namespace {

using testing::ep;
using testing::ip;

IpPrefix prefix(std::string_view text) {
  auto parsed = IpPrefix::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpPrefix{});
}

StaticNatRules masqueradeAndForward() {
  StaticNatRules rules;
  rules.controlPorts = {21, 2121};
  rules.snat.push_back({prefix("192.168.77.0/24"), ip("203.0.113.1")});
  rules.dnat.push_back({ep("203.0.113.1:21"), ep("192.168.78.10:21")});
  return rules;
}

TEST(StaticFlowResolver, PacketToControlPortIsClientToServerWithCapturedKey) {
  StaticFlowResolver resolver(masqueradeAndForward());
  const auto context = resolver.resolveEndpoints(ep("192.168.77.10:40000"), ep("203.0.113.10:21"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->direction, Direction::ClientToServer);
  EXPECT_EQ(context->key.client, ep("192.168.77.10:40000"));
  EXPECT_EQ(context->key.server, ep("203.0.113.10:21"));
}

TEST(StaticFlowResolver, PacketFromControlPortIsServerToClientWithTheSameKey) {
  StaticFlowResolver resolver(masqueradeAndForward());
  const auto context = resolver.resolveEndpoints(ep("203.0.113.10:21"), ep("192.168.77.10:40000"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->direction, Direction::ServerToClient);
  EXPECT_EQ(context->key.client, ep("192.168.77.10:40000"));
  EXPECT_EQ(context->key.server, ep("203.0.113.10:21"));
}

TEST(StaticFlowResolver, DestinationControlPortWinsWhenBothPortsAreControlPorts) {
  StaticFlowResolver resolver(masqueradeAndForward());
  const auto context = resolver.resolveEndpoints(ep("192.0.2.5:2121"), ep("198.51.100.7:21"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->direction, Direction::ClientToServer);
  EXPECT_EQ(context->key.server, ep("198.51.100.7:21"));
}

TEST(StaticFlowResolver, PacketWithoutControlPortIsNotClaimed) {
  StaticFlowResolver resolver(masqueradeAndForward());
  EXPECT_FALSE(resolver.resolveEndpoints(ep("192.168.77.10:40000"), ep("203.0.113.10:20")));
  EXPECT_FALSE(resolver.resolveEndpoints(ep("203.0.113.10:80"), ep("192.168.77.10:40000")));
}

TEST(StaticFlowResolver, NonStandardControlPortIsClaimedOnlyWhenConfigured) {
  StaticNatRules rules;
  rules.controlPorts = {2121};
  StaticFlowResolver resolver(rules);
  EXPECT_TRUE(resolver.resolveEndpoints(ep("192.0.2.5:50000"), ep("198.51.100.7:2121")));
  EXPECT_FALSE(resolver.resolveEndpoints(ep("192.0.2.5:50000"), ep("198.51.100.7:21")));
}

TEST(StaticFlowResolver, ClientInsideSnatPrefixIsSeenAsOutsideAddressWithSamePort) {
  StaticFlowResolver resolver(masqueradeAndForward());
  const auto context = resolver.resolveEndpoints(ep("192.168.77.10:40000"), ep("203.0.113.10:21"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->nat.clientReal, ep("192.168.77.10:40000"));
  EXPECT_EQ(context->nat.clientSeenByServer, ep("203.0.113.1:40000"));
  EXPECT_EQ(context->nat.serverReal, ep("203.0.113.10:21"));
  EXPECT_EQ(context->nat.serverSeenByClient, ep("203.0.113.10:21"));
}

TEST(StaticFlowResolver, ClientOutsideEverySnatPrefixIsSeenAsItself) {
  StaticFlowResolver resolver(masqueradeAndForward());
  const auto context = resolver.resolveEndpoints(ep("192.168.99.10:40000"), ep("203.0.113.10:21"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->nat.clientSeenByServer, ep("192.168.99.10:40000"));
}

TEST(StaticFlowResolver, MostSpecificSnatPrefixWins) {
  StaticNatRules rules;
  rules.snat.push_back({prefix("192.168.0.0/16"), ip("203.0.113.1")});
  rules.snat.push_back({prefix("192.168.77.0/24"), ip("203.0.113.2")});
  rules.snat.push_back({prefix("192.168.77.0/24"), ip("203.0.113.3")});
  StaticFlowResolver resolver(rules);
  const auto inner = resolver.resolveEndpoints(ep("192.168.77.10:40000"), ep("198.51.100.7:21"));
  const auto outer = resolver.resolveEndpoints(ep("192.168.5.10:40000"), ep("198.51.100.7:21"));
  ASSERT_TRUE(inner && outer);
  EXPECT_EQ(inner->nat.clientSeenByServer, ep("203.0.113.2:40000"));
  EXPECT_EQ(outer->nat.clientSeenByServer, ep("203.0.113.1:40000"));
}

TEST(StaticFlowResolver, SnatRuleOfOtherFamilyDoesNotApply) {
  StaticNatRules rules;
  rules.snat.push_back({prefix("::/0"), ip("2001:db8::1")});
  StaticFlowResolver resolver(rules);
  const auto context = resolver.resolveEndpoints(ep("192.168.77.10:40000"), ep("198.51.100.7:21"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->nat.clientSeenByServer, ep("192.168.77.10:40000"));
}

TEST(StaticFlowResolver, ServerCapturedAtDnatOutsideEndpointIsForwardedToInside) {
  StaticFlowResolver resolver(masqueradeAndForward());
  const auto context = resolver.resolveEndpoints(ep("198.51.100.7:50000"), ep("203.0.113.1:21"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->key.server, ep("203.0.113.1:21"));
  EXPECT_EQ(context->nat.serverSeenByClient, ep("203.0.113.1:21"));
  EXPECT_EQ(context->nat.serverReal, ep("192.168.78.10:21"));
  EXPECT_EQ(context->nat.clientSeenByServer, ep("198.51.100.7:50000"));
}

TEST(StaticFlowResolver, ServerCapturedAtDnatInsideEndpointIsSeenByClientAsOutside) {
  StaticFlowResolver resolver(masqueradeAndForward());
  const auto context = resolver.resolveEndpoints(ep("192.168.78.10:21"), ep("198.51.100.7:50000"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->direction, Direction::ServerToClient);
  EXPECT_EQ(context->key.server, ep("192.168.78.10:21"));
  EXPECT_EQ(context->nat.serverReal, ep("192.168.78.10:21"));
  EXPECT_EQ(context->nat.serverSeenByClient, ep("203.0.113.1:21"));
}

TEST(StaticFlowResolver, DnatRuleMatchesOnlyTheExactEndpoint) {
  StaticFlowResolver resolver(masqueradeAndForward());
  const auto otherPort = resolver.resolveEndpoints(ep("198.51.100.7:50000"), ep("203.0.113.1:2121"));
  ASSERT_TRUE(otherPort.has_value());
  EXPECT_EQ(otherPort->nat.serverReal, ep("203.0.113.1:2121"));
  EXPECT_EQ(otherPort->nat.serverSeenByClient, ep("203.0.113.1:2121"));
}

TEST(StaticFlowResolver, PortForwardedToAnotherPortMatchesTheCapturedServerPort) {
  StaticNatRules rules;
  rules.controlPorts = {2121};
  rules.dnat.push_back({ep("203.0.113.1:21"), ep("192.168.78.10:2121")});
  StaticFlowResolver resolver(rules);
  // Captured on the inside: the server port is 2121, a control port.
  const auto inside = resolver.resolveEndpoints(ep("198.51.100.7:50000"), ep("192.168.78.10:2121"));
  ASSERT_TRUE(inside.has_value());
  EXPECT_EQ(inside->nat.serverSeenByClient, ep("203.0.113.1:21"));
  // Captured on the outside: port 21 is not configured as a control port.
  EXPECT_FALSE(resolver.resolveEndpoints(ep("198.51.100.7:50000"), ep("203.0.113.1:21")));
}

TEST(StaticFlowResolver, Ipv6FlowWithoutRulesHasIdentityMapping) {
  StaticFlowResolver resolver(StaticNatRules{});
  const auto context = resolver.resolveEndpoints(ep("[2001:db8::10]:40000"), ep("[2001:db8:1::10]:21"));
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->nat.clientReal, context->nat.clientSeenByServer);
  EXPECT_EQ(context->nat.serverReal, context->nat.serverSeenByClient);
  EXPECT_EQ(context->key.toString(), "[2001:db8::10]:40000-[2001:db8:1::10]:21");
}

TEST(StaticFlowResolver, ResolveUsesThePacketsCapturedEndpoints) {
  StaticFlowResolver resolver(masqueradeAndForward());
  testing::TcpPacketSpec spec;
  spec.src = ep("203.0.113.10:21");
  spec.dst = ep("192.168.77.10:40000");
  spec.payload = "220 ready\r\n";
  const auto bytes = testing::buildTcpPacket(spec);
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view.has_value());
  const auto context = resolver.resolve(*view);
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->direction, Direction::ServerToClient);
  EXPECT_EQ(context->key.client, ep("192.168.77.10:40000"));
  EXPECT_EQ(context->nat.clientSeenByServer, ep("203.0.113.1:40000"));
}

}  // namespace
}  // namespace ftpalg
