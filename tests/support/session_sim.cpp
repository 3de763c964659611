#include "session_sim.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <variant>

#include "ftpalg/packet/packet_view.hpp"
#include "packet_builder.hpp"

namespace ftpalg::testing {

std::optional<FlowContext> FixedFlowResolver::resolve(const PacketView& packet) {
  FlowContext context{key_, Direction::ClientToServer, nat_};
  context.sequenceOwner = sequenceOwner;
  context.kernelSeqAdjust = kernelSeqAdjust;
  if (packet.dstPort() == controlPort_) return context;
  if (packet.srcPort() == controlPort_) {
    context.direction = Direction::ServerToClient;
    // Kernel-owned: the client's SYN is never queued; conntrack's entry (still in the handshake)
    // witnesses it on the server's SYN-ACK, as the live resolver does.
    if (sequenceOwner == SequenceOwner::Kernel && packet.hasFlag(tcp_flags::kSyn) &&
        packet.hasFlag(tcp_flags::kAck)) {
      // Conntrack finds a SYN-ACK acknowledging anything but that SYN INVALID (tcp_in_window).
      if (packet.ack().raw() == handshakeSynIsn_ + 1) context.clientSyn = handshakeClientSyn;
    }
    return context;
  }
  return std::nullopt;
}

void FixedFlowResolver::track(const PacketView& packet) {
  const bool fromClient = packet.dstPort() == controlPort_;
  if (!fromClient && packet.srcPort() != controlPort_) return;
  if (packet.hasFlag(tcp_flags::kRst)) {
    conntrack_ = ConntrackState::None;  // CLOSE: a new SYN re-creates the entry
    handshakeClientSyn.reset();
    return;
  }
  if (packet.hasFlag(tcp_flags::kSyn)) {
    // A client SYN starts a handshake unless the entry is established (conntrack ignores it).
    if (fromClient && !packet.hasFlag(tcp_flags::kAck) && conntrack_ != ConntrackState::Established) {
      conntrack_ = ConntrackState::Handshake;
      finFromClient_ = finFromServer_ = false;
      handshakeClientSyn = ClientSynSeen{packet.options().windowScale};
      handshakeSynIsn_ = packet.seq().raw();
    }
    return;
  }
  if (conntrack_ == ConntrackState::None ||
      (conntrack_ == ConntrackState::Handshake && fromClient && packet.hasFlag(tcp_flags::kAck))) {
    conntrack_ = ConntrackState::Established;  // the handshake's last ACK, or a mid-stream pickup
    handshakeClientSyn.reset();
  }
  if (packet.hasFlag(tcp_flags::kFin)) (fromClient ? finFromClient_ : finFromServer_) = true;
  if (finFromClient_ && finFromServer_) conntrack_ = ConntrackState::None;  // TIME_WAIT: likewise
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
  const std::uint64_t base = sender.sent;
  sender.sentStream += message;  // what SACK checks locate rewritten lines in (checkSack)
  for (const std::size_t cut : cuts) {
    pieces.push_back({base + start, message.substr(start, cut - start)});
    start = cut;
  }
  if (segmentation.reverseOrder) std::reverse(pieces.begin(), pieces.end());
  for (const Piece& piece : pieces) {
    // Sent from now on: the receiver may acknowledge it before this call returns.
    sender.sent = std::max<std::uint64_t>(sender.sent, piece.offset + piece.bytes.size());
    const auto seq = static_cast<std::uint32_t>(sender.isn + 1 + piece.offset);
    sendPacket(fromClient, seq, piece.bytes, tcp_flags::kAck | tcp_flags::kPsh);
    if (segmentation.duplicateEach) {
      sendPacket(fromClient, seq, piece.bytes, tcp_flags::kAck | tcp_flags::kPsh);
    }
  }
  sender.sent = base + message.size();
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

std::uint32_t SessionSim::ackNumber(const PeerState& peer) const {
  return static_cast<std::uint32_t>(peer.peerIsn + 1 + peer.received.size() + (peer.finReceived ? 1 : 0));
}

void SessionSim::sendPacket(bool fromClient, std::uint32_t seq, const std::string& payload,
                            std::uint8_t flags, std::optional<std::uint16_t> mss,
                            const DuplicateAck* snapshot) {
  PeerState& sender = fromClient ? client_ : server_;
  const PeerState& receiver = fromClient ? server_ : client_;
  TcpPacketSpec spec;
  spec.src = sender.endpoint;
  spec.dst = receiver.endpoint;
  spec.seq = seq;
  spec.flags = flags;
  spec.sackPermitted = (flags & tcp_flags::kSyn) != 0;
  if (sender.peerIsnKnown) {
    spec.flags |= tcp_flags::kAck;
    spec.ack = snapshot != nullptr ? snapshot->ack : ackNumber(sender);
  } else {
    spec.flags &= static_cast<std::uint8_t>(~tcp_flags::kAck);
  }
  SackPlan plan = snapshot != nullptr                                  ? snapshot->sack
                  : sender.sackPermitted && !sender.outOfOrder.empty() ? planSack(sender)
                                                                       : SackPlan{};
  if (!plan.blocks.empty()) {
    spec.sack = std::move(plan.blocks);
    expectedSack_[nextId_] = std::move(plan.original);  // process() gives the packet this id
  }
  spec.payload = payload;
  spec.mss = mss;
  process(buildTcpPacket(spec), fromClient);
}

SessionSim::SackPlan SessionSim::planSack(const PeerState& receiver) const {
  struct Run {
    std::uint64_t start, end, originalStart, originalEnd;
  };
  std::vector<Run> runs;
  for (const auto& [offset, segment] : receiver.outOfOrder) {
    const std::uint64_t end = offset + segment.bytes.size();
    if (!runs.empty() && offset <= runs.back().end) {
      if (end > runs.back().end) {
        runs.back().end = end;
        runs.back().originalEnd = segment.originalEnd;
      }
      continue;
    }
    runs.push_back({offset, end, segment.originalStart, segment.originalEnd});
  }
  // RFC 2018 §4: the block holding the latest arrival first, then (here) the others from the top.
  std::stable_sort(runs.begin(), runs.end(), [&](const Run& a, const Run& b) {
    const bool aLatest = a.start <= receiver.latestOutOfOrder && receiver.latestOutOfOrder < a.end;
    const bool bLatest = b.start <= receiver.latestOutOfOrder && receiver.latestOutOfOrder < b.end;
    if (aLatest != bLatest) return aLatest;
    return a.start > b.start;
  });
  SackPlan plan;
  const auto base = static_cast<std::uint32_t>(receiver.peerIsn + 1);
  for (std::size_t i = 0; i < runs.size() && i < 4; ++i) {
    plan.blocks.emplace_back(static_cast<std::uint32_t>(base + runs[i].start),
                             static_cast<std::uint32_t>(base + runs[i].end));
    plan.original.emplace_back(runs[i].originalStart, runs[i].originalEnd);
  }
  return plan;
}

void SessionSim::process(const std::vector<std::uint8_t>& packet, bool fromClient) {
  const PacketId id = nextId_++;
  if (kernelOwned_) {
    if (auto* fixed = dynamic_cast<FixedFlowResolver*>(&resolver_)) {
      if (const auto view = PacketView::parse(packet)) fixed->track(*view);
    }
    // Not queued: no payload and not the SYN-ACK (queue_bpf.hpp); conntrack adjusts it.
    const auto view = PacketView::parse(packet);
    if (view && view->payload().empty() &&
        !(view->hasFlag(tcp_flags::kSyn) && view->hasFlag(tcp_flags::kAck))) {
      deliver(packet, packet, id, fromClient);
      expectedSack_.erase(id);
      return;
    }
  }
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
      case VerdictKind::Accept: deliver(it->second.first, it->second.first, verdict.id, fromClient); break;
      case VerdictKind::AcceptModified:
        ++modified_;
        deliver(verdict.bytes, it->second.first, verdict.id, fromClient);
        break;
      case VerdictKind::Drop: ++dropped_; break;
    }
    pending_.erase(it);
    expectedSack_.erase(verdict.id);
  }
  // The duplicate ACKs the out-of-order arrivals caused, once this call's verdicts are delivered.
  std::vector<DuplicateAck> acks;
  acks.swap(ackQueue_);
  for (const DuplicateAck& ack : acks) {
    const PeerState& sender = ack.fromClient ? client_ : server_;
    sendPacket(ack.fromClient, static_cast<std::uint32_t>(sender.isn + 1 + sender.sent), "", tcp_flags::kAck,
               std::nullopt, &ack);
  }
}

void SessionSim::deliver(const std::vector<std::uint8_t>& emitted, const std::vector<std::uint8_t>& original,
                         PacketId id, bool toServer) {
  PeerState& receiver = toServer ? server_ : client_;
  const PeerState& sender = toServer ? client_ : server_;
  std::vector<std::uint8_t> packet = emitted;
  if (kernelOwned_) {
    // Conntrack adjusts every packet of the flow after the verdict.
    if (const auto view = PacketView::parse(emitted)) {
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
  const auto originalView = PacketView::parse(original);
  if (!view || !originalView) {
    ++receiver.badChecksums;
    return;
  }
  if (view->hasFlag(tcp_flags::kSyn)) {
    receiver.peerIsn = view->seq().raw();
    receiver.peerIsnKnown = true;
    receiver.sackPermitted = view->options().sackPermitted;  // we offer it too
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
    checkSack(receiver, *view, id);
  }
  if (!view->payload().empty() && receiver.peerIsnKnown)
    receivePayload(receiver, *view, *originalView, sender);
  if (view->hasFlag(tcp_flags::kFin)) receiver.finReceived = true;
}

// Every SACK block on an ACK of `owner`'s data must name, in owner's original space, exactly the
// bytes of the segments whose output the receiver holds out of order (the plan made when the ACK
// was sent), with one allowance: a segment edge inside a line the engine rewrote may map anywhere
// from that edge to the line's end (the engine's edit span is the address inside the line; an
// edge inside it maps to its end, docs/architecture.md "Sequence spaces").
void SessionSim::checkSack(PeerState& owner, const PacketView& view, PacketId id) {
  const auto& options = view.options();
  if (options.sackBlockCount == 0) return;
  owner.sackBlocksReceived += options.sackBlockCount;
  const auto plan = expectedSack_.find(id);
  if (plan == expectedSack_.end() || plan->second.size() != options.sackBlockCount) {
    owner.sackMismatches += options.sackBlockCount;
    return;
  }
  const auto lines = rewrittenLines(&owner == &client_);
  // The edge `got` (a 32-bit number) against the expected original offset `expected`.
  const auto matches = [&](SeqNum got, std::uint64_t expected) {
    const auto delta =
        static_cast<std::int32_t>(got.raw() - static_cast<std::uint32_t>(owner.isn + 1 + expected));
    if (delta == 0) return true;
    for (const auto& [start, end] : lines) {
      if (start < expected && expected < end)
        return delta > 0 && expected + static_cast<std::uint64_t>(delta) <= end;
    }
    return false;
  };
  for (std::size_t i = 0; i < options.sackBlockCount; ++i) {
    const auto& [start, end] = plan->second[i];
    if (!matches(options.sackBlocks[i].left, start) || !matches(options.sackBlocks[i].right, end)) {
      ++owner.sackMismatches;
    }
  }
}

// Where the lines the engine logged as rewritten lie in the sender's original stream: each
// Rewrite's "before" text at a line start, in order (as tests/golden finds them).
std::vector<std::pair<std::uint64_t, std::uint64_t>> SessionSim::rewrittenLines(bool clientToServer) const {
  const std::string& stream = (clientToServer ? client_ : server_).sentStream;
  const Direction dir = clientToServer ? Direction::ClientToServer : Direction::ServerToClient;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> lines;
  std::size_t cursor = 0;
  for (const Observation& observation : observations_) {
    const auto* rewrite = std::get_if<Rewrite>(&observation.body);
    if (rewrite == nullptr || rewrite->dir != dir) continue;
    for (std::size_t at = stream.find(rewrite->before, cursor); at != std::string::npos;
         at = stream.find(rewrite->before, at + 1)) {
      if (at == 0 || stream[at - 1] == '\n') {
        lines.emplace_back(at, at + rewrite->before.size());
        cursor = at + rewrite->before.size();
        break;
      }
    }
  }
  return lines;
}

void SessionSim::receivePayload(PeerState& receiver, const PacketView& view, const PacketView& original,
                                const PeerState& sender) {
  const auto payload = view.payload();
  const auto base = static_cast<std::uint32_t>(receiver.peerIsn + 1);
  const auto have = static_cast<std::uint32_t>(receiver.received.size());
  const auto delta = static_cast<std::int32_t>(view.seq().raw() - base - have);
  const std::int64_t offset = static_cast<std::int64_t>(receiver.received.size()) + delta;
  // Where the sender put the segment this output came from (its original space).
  const auto sentDelta = static_cast<std::int32_t>(original.seq().raw() -
                                                   static_cast<std::uint32_t>(sender.isn + 1 + sender.sent));
  const auto originalStart = static_cast<std::uint64_t>(static_cast<std::int64_t>(sender.sent) + sentDelta);
  if (offset < 0) return;
  const auto at = static_cast<std::uint64_t>(offset);
  receiver.outOfOrder.emplace(at,
                              OutOfOrderSegment{std::string(payload.begin(), payload.end()), originalStart,
                                                originalStart + original.payload().size()});
  if (at > receiver.received.size() && receiver.sackPermitted) {
    // Out of order: acknowledged at once, with SACK (RFC 5681 §4.2, RFC 2018 §4).
    receiver.latestOutOfOrder = at;
    ackQueue_.push_back(DuplicateAck{&receiver == &client_, ackNumber(receiver), planSack(receiver)});
  }
  // Drain everything that is now contiguous (first-received bytes win, like Linux).
  bool progressed = true;
  while (progressed) {
    progressed = false;
    for (auto it = receiver.outOfOrder.begin(); it != receiver.outOfOrder.end();) {
      const std::uint64_t start = it->first;
      const std::uint64_t end = start + it->second.bytes.size();
      const std::uint64_t have64 = receiver.received.size();
      if (end <= have64) {
        it = receiver.outOfOrder.erase(it);
      } else if (start <= have64) {
        receiver.received += it->second.bytes.substr(static_cast<std::size_t>(have64 - start));
        it = receiver.outOfOrder.erase(it);
        progressed = true;
      } else {
        ++it;
      }
    }
  }
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
  if (const auto* close = std::get_if<ClosePinhole>(&action))
    return "close " + pinholeText(close->pinhole) + " " + std::string(reasonName(close->reason));
  if (const auto* adjust = std::get_if<AdjustKernelSequence>(&action)) {
    std::ostringstream text;
    text << "seqadj " << directionName(adjust->direction) << " pos=" << adjust->record.correctionPosition
         << " before=" << adjust->record.offsetBefore << " after=" << adjust->record.offsetAfter;
    return text.str();
  }
  return "mark_verified";
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
