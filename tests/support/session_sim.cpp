#include "session_sim.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <variant>

#include "ftpalg/packet/packet_view.hpp"
#include "packet_builder.hpp"

namespace ftpalg::testing {

std::optional<FlowContext> FixedFlowResolver::resolve(const PacketView& packet) {
  FlowContext context{key_, Direction::ClientToServer, nat_, sequenceOwner, kernelSeqAdjust};
  if (packet.dstPort() == controlPort_) return context;
  if (packet.srcPort() == controlPort_) {
    context.direction = Direction::ServerToClient;
    return context;
  }
  return std::nullopt;
}

void submitPacket(Engine& engine, FlowResolver& resolver, PacketId id, std::span<const std::uint8_t> bytes,
                  Timestamp now, Outcome& out) {
  const auto packet = PacketView::parse(bytes);
  if (!packet) {
    engine.onUninspected(PacketMeta{id}, Uninspected::Malformed, out);
    return;
  }
  const auto flow = resolver.resolve(*packet);
  if (!flow) {
    engine.onUninspected(PacketMeta{id}, Uninspected::NotControlFlow, out);
    return;
  }
  engine.onPacket(PacketMeta{id}, bytes, *packet, *flow, now, out);
}

SessionSim::SessionSim(Engine& engine, FlowResolver& resolver, Endpoint clientWire, Endpoint serverWire,
                       std::uint32_t clientIsn, std::uint32_t serverIsn)
    : engine_(engine), resolver_(resolver) {
  client_.endpoint = clientWire;
  client_.isn = clientIsn;
  server_.endpoint = serverWire;
  server_.isn = serverIsn;
}

void SessionSim::handshake(std::uint16_t clientMss, std::uint16_t serverMss) {
  sendPacket(true, client_.isn, "", tcp_flags::kSyn, clientMss);
  sendPacket(false, server_.isn, "", tcp_flags::kSyn | tcp_flags::kAck, serverMss);
  pureAck(true);
}

void SessionSim::clientSends(const std::string& message, const Segmentation& segmentation) {
  send(true, message, segmentation);
}

void SessionSim::serverSends(const std::string& message, const Segmentation& segmentation) {
  send(false, message, segmentation);
}

void SessionSim::send(bool fromClient, const std::string& message, const Segmentation& segmentation) {
  PeerState& sender = fromClient ? client_ : server_;
  std::vector<std::size_t> cuts = segmentation.cuts;
  cuts.erase(
      std::remove_if(cuts.begin(), cuts.end(), [&](std::size_t c) { return c == 0 || c >= message.size(); }),
      cuts.end());
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  cuts.push_back(message.size());
  struct Piece {
    std::uint64_t offset;
    std::string bytes;
  };
  std::vector<Piece> pieces;
  std::size_t start = 0;
  for (const std::size_t cut : cuts) {
    pieces.push_back({sender.sent + start, message.substr(start, cut - start)});
    start = cut;
  }
  if (segmentation.reverseOrder) std::reverse(pieces.begin(), pieces.end());
  for (const Piece& piece : pieces) {
    const auto seq = static_cast<std::uint32_t>(sender.isn + 1 + piece.offset);
    sendPacket(fromClient, seq, piece.bytes, tcp_flags::kAck | tcp_flags::kPsh);
    if (segmentation.duplicateEach) {
      sendPacket(fromClient, seq, piece.bytes, tcp_flags::kAck | tcp_flags::kPsh);
    }
  }
  sender.sent += message.size();
  sender.sentStream += message;
  pureAck(!fromClient);
}

void SessionSim::close() {
  sendPacket(true, static_cast<std::uint32_t>(client_.isn + 1 + client_.sent), "",
             tcp_flags::kFin | tcp_flags::kAck);
  sendPacket(false, static_cast<std::uint32_t>(server_.isn + 1 + server_.sent), "",
             tcp_flags::kFin | tcp_flags::kAck);
  client_.finSent = true;
  server_.finSent = true;
  pureAck(true);
}

void SessionSim::resend(bool fromClient, std::uint64_t offset, std::size_t length) {
  const PeerState& sender = fromClient ? client_ : server_;
  const auto seq = static_cast<std::uint32_t>(sender.isn + 1 + offset);
  sendPacket(fromClient, seq, sender.sentStream.substr(static_cast<std::size_t>(offset), length),
             tcp_flags::kAck | tcp_flags::kPsh);
}

void SessionSim::pureAck(bool fromClient) {
  PeerState& sender = fromClient ? client_ : server_;
  sendPacket(fromClient, static_cast<std::uint32_t>(sender.isn + 1 + sender.sent), "", tcp_flags::kAck);
}

void SessionSim::sendPacket(bool fromClient, std::uint32_t seq, const std::string& payload,
                            std::uint8_t flags, std::optional<std::uint16_t> mss) {
  PeerState& sender = fromClient ? client_ : server_;
  const PeerState& receiver = fromClient ? server_ : client_;
  TcpPacketSpec spec;
  spec.src = sender.endpoint;
  spec.dst = receiver.endpoint;
  spec.seq = seq;
  spec.flags = flags;
  if (sender.peerIsnKnown) {
    spec.flags |= tcp_flags::kAck;
    spec.ack = static_cast<std::uint32_t>(sender.peerIsn + 1 + sender.received.size() +
                                          (sender.finReceived ? 1 : 0));
  } else {
    spec.flags &= static_cast<std::uint8_t>(~tcp_flags::kAck);
  }
  spec.payload = payload;
  spec.mss = mss;
  process(buildTcpPacket(spec), fromClient);
}

void SessionSim::process(const std::vector<std::uint8_t>& packet, bool fromClient) {
  if (kernelOwned_) {
    // Not queued: no payload and not the SYN-ACK (queue_bpf.hpp); conntrack adjusts it.
    const auto view = PacketView::parse(packet);
    if (view && view->payload().empty() &&
        !(view->hasFlag(tcp_flags::kSyn) && view->hasFlag(tcp_flags::kAck))) {
      deliver(packet, fromClient);
      return;
    }
  }
  const PacketId id = nextId_++;
  pending_[id] = {packet, fromClient};
  Outcome outcome;
  engine_.onTimer(now_, outcome);
  submitPacket(engine_, resolver_, id, packet, now_, outcome);
  absorb(outcome);
}

void SessionSim::timer() {
  Outcome outcome;
  engine_.onTimer(now_, outcome);
  absorb(outcome);
}

void SessionSim::absorb(Outcome& outcome) {
  for (auto& action : outcome.actions) {
    if (const auto* adjust = std::get_if<AdjustKernelSequence>(&action)) kernel_.apply(*adjust);
    actions_.push_back(action);
  }
  for (auto& observation : outcome.observations) observations_.push_back(observation);
  for (const FlowKey& flow : outcome.forgottenFlows) resolver_.forget(flow);
  for (auto& verdict : outcome.verdicts) {
    const auto it = pending_.find(verdict.id);
    if (it == pending_.end()) std::abort();  // a verdict for an unknown or already released packet
    const bool fromClient = it->second.second;
    switch (verdict.kind) {
      case VerdictKind::Accept: deliver(it->second.first, fromClient); break;
      case VerdictKind::AcceptModified:
        ++modified_;
        deliver(verdict.bytes, fromClient);
        break;
      case VerdictKind::Drop: ++dropped_; break;
    }
    pending_.erase(it);
  }
}

void SessionSim::deliver(const std::vector<std::uint8_t>& original, bool toServer) {
  PeerState& receiver = toServer ? server_ : client_;
  std::vector<std::uint8_t> packet = original;
  if (kernelOwned_) {
    if (const auto view = PacketView::parse(original)) {
      if (auto adjusted =
              kernel_.adjust(*view, toServer ? Direction::ClientToServer : Direction::ServerToClient)) {
        packet = std::move(*adjusted);
      }
    }
  }
  if (!independentChecksumsValid(packet)) {
    ++receiver.badChecksums;
    return;
  }
  const auto view = PacketView::parse(packet);
  if (!view) {
    ++receiver.badChecksums;
    return;
  }
  if (view->hasFlag(tcp_flags::kSyn)) {
    receiver.peerIsn = view->seq().raw();
    receiver.peerIsnKnown = true;
  }
  if (view->hasFlag(tcp_flags::kAck)) {
    const auto expected = static_cast<std::uint32_t>(receiver.isn + 1 + receiver.sent);
    const auto delta = static_cast<std::int32_t>(view->ack().raw() - expected);
    const std::int64_t acked = static_cast<std::int64_t>(receiver.sent) + delta;
    // A FIN occupies one sequence number past the data.
    if (acked > static_cast<std::int64_t>(receiver.sent) + 1) receiver.ackBeyondSent = true;
    if (acked >= 0 && static_cast<std::uint64_t>(acked) > receiver.highestAckReceived) {
      receiver.highestAckReceived = static_cast<std::uint64_t>(acked);
    }
  }
  const auto payload = view->payload();
  if (!payload.empty() && receiver.peerIsnKnown) {
    const auto base = static_cast<std::uint32_t>(receiver.peerIsn + 1);
    const auto have = static_cast<std::uint32_t>(receiver.received.size());
    const auto delta = static_cast<std::int32_t>(view->seq().raw() - base - have);
    const std::int64_t offset = static_cast<std::int64_t>(receiver.received.size()) + delta;
    const std::string bytes(payload.begin(), payload.end());
    if (offset >= 0) receiver.outOfOrder.emplace(static_cast<std::uint64_t>(offset), bytes);
    // Drain everything that is now contiguous (first-received bytes win, like Linux).
    bool progressed = true;
    while (progressed) {
      progressed = false;
      for (auto it = receiver.outOfOrder.begin(); it != receiver.outOfOrder.end();) {
        const std::uint64_t start = it->first;
        const std::uint64_t end = start + it->second.size();
        const std::uint64_t have64 = receiver.received.size();
        if (end <= have64) {
          it = receiver.outOfOrder.erase(it);
        } else if (start <= have64) {
          receiver.received += it->second.substr(static_cast<std::size_t>(have64 - start));
          it = receiver.outOfOrder.erase(it);
          progressed = true;
        } else {
          ++it;
        }
      }
    }
  }
  if (view->hasFlag(tcp_flags::kFin)) receiver.finReceived = true;
}

namespace {

std::string pinholeText(const Pinhole& pinhole) {
  std::ostringstream text;
  text << pinhole.from.toString() << " -> " << pinhole.to.toString() << " -> "
       << (pinhole.natTo ? pinhole.natTo->toString() : std::string("null")) << " for "
       << pinhole.timeout.count() << "s";
  return text.str();
}

}  // namespace

std::string describe(const Action& action) {
  if (const auto* open = std::get_if<OpenPinhole>(&action)) return "open " + pinholeText(open->pinhole);
  if (const auto* adjust = std::get_if<AdjustKernelSequence>(&action)) {
    std::ostringstream text;
    text << "seqadj " << directionName(adjust->direction) << " pos=" << adjust->record.correctionPosition
         << " before=" << adjust->record.offsetBefore << " after=" << adjust->record.offsetAfter;
    return text.str();
  }
  if (std::holds_alternative<MarkDialogVerified>(action)) return "mark_verified";
  const auto& close = std::get<ClosePinhole>(action);
  return "close " + pinholeText(close.pinhole) + " " + std::string(reasonName(close.reason));
}

std::vector<std::string> describe(const std::vector<Observation>& observations) {
  std::vector<std::string> lines;
  for (const Observation& observation : observations) {
    std::ostringstream text;
    text << observation.flow.toString() << " ";
    std::visit(
        [&](const auto& body) {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<T, SessionOpened>) {
            text << "session_open";
          } else if constexpr (std::is_same_v<T, SessionClosedObs>) {
            text << "session_close " << reasonName(body.reason);
          } else if constexpr (std::is_same_v<T, Rewrite>) {
            text << "rewrite " << directionName(body.dir) << " " << verbName(body.verb) << " [" << body.before
                 << "] -> [" << body.after << "]";
          } else if constexpr (std::is_same_v<T, PinholeOpened>) {
            text << "pinhole " << pinholeText(body.pinhole);
          } else if constexpr (std::is_same_v<T, PinholeClosed>) {
            text << "pinhole_close " << pinholeText(body.pinhole) << " " << reasonName(body.reason);
          } else if constexpr (std::is_same_v<T, Reject>) {
            text << "reject " << directionName(body.dir) << " " << verbName(body.verb) << " "
                 << reasonName(body.reason) << " [" << body.line << "]";
          } else if constexpr (std::is_same_v<T, AnomalyObs>) {
            text << "anomaly " << directionName(body.dir) << " " << reasonName(body.reason)
                 << (body.inspectionStopped ? " stopped" : "");
          } else if constexpr (std::is_same_v<T, OpaqueObs>) {
            text << "opaque " << reasonName(body.reason);
          }
        },
        observation.body);
    lines.push_back(text.str());
  }
  return lines;
}

}  // namespace ftpalg::testing
