// StaticFlowResolver: a FlowResolver driven by fixed rules instead of conntrack, for replay (and
// tests). It knows which TCP ports are FTP control ports and how this router's NAT maps
// addresses (--snat / --dnat), and derives every flow's identity and NatMapping from the packet's
// addresses as captured at one point of the router.
//
// Pure: no OS calls, no allocation per packet beyond the returned value, no state between calls.
//
// Semantics (docs/log-schema.md and `ftpalg replay --help` describe them for users):
//  - Direction: a packet whose TCP destination port is a control port is client->server
//    (client = source, server = destination); otherwise, one whose source port is a control port
//    is server->client. Neither: not control traffic (nullopt). The port is matched as captured:
//    for a port-forwarded server captured on its inside, that is the inside port.
//  - Flow key: the client and server endpoints as captured.
//  - Client: real = as captured; seen by the server = {SNAT outside address, same port} when the
//    client address lies in an SNAT rule's inside prefix (most specific prefix wins; among equal
//    lengths the first rule), else as captured.
//  - Server: when it equals a DNAT rule's outside endpoint (captured before DNAT) or its inside
//    endpoint (captured after DNAT), real = the rule's inside endpoint and seen by the client =
//    the rule's outside endpoint (first matching rule); else both as captured.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/engine/flow_context.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg {

// Clients whose address lies in `inside` appear to servers as `outside`, with the same source
// port (masquerade / SNAT). Both must have the same address family.
struct SnatRule {
  IpPrefix inside;
  IpAddress outside;
  friend bool operator==(const SnatRule&, const SnatRule&) = default;
};

// Connections to `outside` are forwarded to `inside` (port forwarding / DNAT). Same family.
struct DnatRule {
  Endpoint outside;
  Endpoint inside;
  friend bool operator==(const DnatRule&, const DnatRule&) = default;
};

struct StaticNatRules {
  std::vector<std::uint16_t> controlPorts{21};  // host order
  std::vector<SnatRule> snat;
  std::vector<DnatRule> dnat;
};

class StaticFlowResolver final : public FlowResolver {
 public:
  explicit StaticFlowResolver(StaticNatRules rules);

  std::optional<FlowContext> resolve(const PacketView& packet) override;

  // The same decision from bare endpoints (source and destination as captured); resolve()
  // forwards to it. Useful where no PacketView exists.
  std::optional<FlowContext> resolveEndpoints(const Endpoint& source, const Endpoint& destination) const;

  bool isControlPort(std::uint16_t port) const;

 private:
  Endpoint clientSeenByServer(const Endpoint& client) const;
  void mapServer(const Endpoint& captured, NatMapping& nat) const;

  StaticNatRules rules_;
};

}  // namespace ftpalg
