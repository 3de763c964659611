// StaticFlowResolver: see include/ftpalg/engine/static_flow_resolver.hpp for the semantics.
#include "ftpalg/engine/static_flow_resolver.hpp"

#include <algorithm>
#include <utility>

namespace ftpalg {

StaticFlowResolver::StaticFlowResolver(StaticNatRules rules) : rules_(std::move(rules)) {}

bool StaticFlowResolver::isControlPort(std::uint16_t port) const {
  return std::find(rules_.controlPorts.begin(), rules_.controlPorts.end(), port) != rules_.controlPorts.end();
}

std::optional<FlowContext> StaticFlowResolver::resolve(const PacketView& packet) {
  // Most packets of a capture are not control traffic: decided from the ports alone.
  if (!isControlPort(packet.dstPort()) && !isControlPort(packet.srcPort())) return std::nullopt;
  return resolveEndpoints(packet.src(), packet.dst());
}

std::optional<FlowContext> StaticFlowResolver::resolveEndpoints(const Endpoint& source,
                                                                const Endpoint& destination) const {
  FlowContext context;
  if (isControlPort(destination.port)) {
    context.direction = Direction::ClientToServer;
    context.key = FlowKey{source, destination};
  } else if (isControlPort(source.port)) {
    context.direction = Direction::ServerToClient;
    context.key = FlowKey{destination, source};
  } else {
    return std::nullopt;
  }
  context.nat.clientReal = context.key.client;
  context.nat.clientSeenByServer = clientSeenByServer(context.key.client);
  mapServer(context.key.server, context.nat);
  return context;
}

Endpoint StaticFlowResolver::clientSeenByServer(const Endpoint& client) const {
  const SnatRule* best = nullptr;
  for (const SnatRule& rule : rules_.snat) {
    if (rule.inside.network.family() != client.address.family()) continue;
    if (!rule.inside.contains(client.address)) continue;
    if (best == nullptr || rule.inside.length > best->inside.length) best = &rule;
  }
  if (best == nullptr) return client;
  return Endpoint{best->outside, client.port};
}

void StaticFlowResolver::mapServer(const Endpoint& captured, NatMapping& nat) const {
  for (const DnatRule& rule : rules_.dnat) {
    if (captured == rule.outside || captured == rule.inside) {
      nat.serverReal = rule.inside;
      nat.serverSeenByClient = rule.outside;
      return;
    }
  }
  nat.serverReal = captured;
  nat.serverSeenByClient = captured;
}

}  // namespace ftpalg
