// The takeover dump: see conntrack_takeover.hpp.
#include "conntrack_takeover.hpp"

#include <algorithm>
#include <chrono>

#include "io/conntrack_session_port.hpp"

namespace ftpalg::io {

std::optional<KernelTakeover> takeoverOf(const ConntrackEntry& entry, const TakeoverOptions& options) {
  if (entry.helper != "sane" || (entry.status & ct_status::kHelper) == 0 ||
      (entry.mark & options.controlMark) == 0) {
    return std::nullopt;
  }
  const auto& ports = options.controlPorts;
  if (std::find(ports.begin(), ports.end(), entry.reply.src.port) == ports.end()) return std::nullopt;
  KernelTakeover takeover;
  FlowContext& flow = takeover.flow;
  flow.nat.clientReal = entry.original.src;
  flow.nat.serverSeenByClient = entry.original.dst;
  flow.nat.serverReal = entry.reply.src;
  flow.nat.clientSeenByServer = entry.reply.dst;
  flow.key = FlowKey{flow.nat.clientReal, flow.nat.serverReal};
  flow.sequenceOwner = SequenceOwner::Kernel;
  flow.kernelSeqAdjust = (entry.status & (ct_status::kSrcNat | ct_status::kDstNat)) != 0;
  takeover.clientToServer = entry.seqAdjOriginal.value_or(SeqAdjRecord{});
  takeover.serverToClient = entry.seqAdjReply.value_or(SeqAdjRecord{});
  takeover.dialogVerified = (entry.mark & options.verifiedMark) != 0;
  return takeover;
}

PendingExpectation pendingOf(const ExpectationEntry& expectation, const ConntrackEntry& master) {
  PendingExpectation pending;
  pending.from = expectation.tuple.src.address;
  pending.to = expectation.tuple.dst;
  // nat-follow-master forwards to master->tuplehash[!dir].src: for NAT dir REPLY (PORT/EPRT) the
  // ORIGINAL source (the client), for ORIGINAL (227/229) the REPLY source (the server).
  const bool toClient = expectation.natDir.value_or(ConntrackDir::Reply) == ConntrackDir::Reply;
  const IpAddress address = toClient ? master.original.src.address : master.reply.src.address;
  const std::uint16_t port = expectation.natSource ? expectation.natSource->port : expectation.tuple.dst.port;
  pending.natTo = Endpoint{address, port};
  pending.remaining = std::chrono::seconds(expectation.timeoutSeconds);
  return pending;
}

Result<std::optional<KernelTakeover>> takeoverOfConnection(ConntrackNetlink& netlink, const NatMapping& nat,
                                                           const TakeoverOptions& options) {
  auto entry = netlink.get(originalTupleOf(nat), ConntrackDir::Original);
  if (!entry) return Err("takeover of " + originalTupleOf(nat).toString() + ": " + entry.error().message);
  if (!entry.value()) return std::optional<KernelTakeover>();
  return takeoverOf(*entry.value(), options);
}

Result<std::vector<KernelTakeover>> dumpAnchoredConnections(ConntrackNetlink& netlink,
                                                            const TakeoverOptions& options) {
  auto entries = netlink.dumpByMarkAndStatus(options.controlMark, options.controlMark, ct_status::kHelper,
                                             ct_status::kHelper);
  if (!entries) return Err("dumping the anchored connections: " + entries.error().message);
  std::vector<KernelTakeover> found;
  std::vector<const ConntrackEntry*> masters;
  for (const ConntrackEntry& entry : entries.value()) {
    if (auto takeover = takeoverOf(entry, options)) {
      found.push_back(std::move(*takeover));
      masters.push_back(&entry);
    }
  }
  if (!options.withExpectations || found.empty()) return found;
  auto expectations = netlink.dumpExpectations();
  if (!expectations) return Err("dumping the expectations: " + expectations.error().message);
  for (const ExpectationEntry& expectation : expectations.value()) {
    for (std::size_t i = 0; i < masters.size(); ++i) {
      if (masters[i]->original == expectation.master) found[i].pending = pendingOf(expectation, *masters[i]);
    }
  }
  return found;
}

}  // namespace ftpalg::io
