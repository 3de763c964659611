// Test support: a simulated FTP control connection through an Engine. Two TCP peers exchange
// byte messages; every packet they send goes through the shell's steps (submitPacket: parse,
// resolve, Engine::onPacket) and every verdict is delivered to the other peer, which reassembles
// what it receives (in its receive sequence space) and checks the ACKs it gets back against what
// it really sent. Forgotten flows go back to the resolver, as the shells' executor does.
//
// Conntrack-owned mode (kernelOwned(true)): only segments with payload and the SYN-ACK go through
// the engine (the payload-only queue rules); every packet, queued or not, then goes through a
// KernelSeqAdjModel fed with the engine's AdjustKernelSequence actions, as conntrack adjusts it
// after the verdict.
//
// Sequence spaces: each peer sends in its own ORIGINAL space (isn + 1 + bytes sent) and
// acknowledges what it RECEIVED (the other direction's OUTPUT space), exactly as a real TCP
// endpoint behind the gateway would.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ftpalg/engine/engine.hpp"
#include "ftpalg/engine/kernel_seqadj_model.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::testing {

// What a shell does with one packet before the engine (as live mode does it): parse it once,
// resolve its flow, then Engine::onPacket; Engine::onUninspected when it does not parse or no
// flow claims it.
void submitPacket(Engine& engine, FlowResolver& resolver, PacketId id, std::span<const std::uint8_t> bytes,
                  Timestamp now, Outcome& out);

// A resolver for one control connection: packets to or from `controlPort` belong to it.
class FixedFlowResolver : public FlowResolver {
 public:
  FixedFlowResolver(FlowKey key, NatMapping nat, std::uint16_t controlPort = 21)
      : key_(std::move(key)), nat_(std::move(nat)), controlPort_(controlPort) {}
  std::optional<FlowContext> resolve(const PacketView& packet) override;
  int forgetCalls = 0;
  // What every resolved FlowContext says about the sequence owner (the conntrack-owned mode).
  SequenceOwner sequenceOwner = SequenceOwner::Engine;
  bool kernelSeqAdjust = false;
  void forget(const FlowKey&) override { ++forgetCalls; }

 private:
  FlowKey key_;
  NatMapping nat_;
  std::uint16_t controlPort_;
};

// How one message is cut into segments and delivered.
struct Segmentation {
  std::vector<std::size_t> cuts;  // byte positions (within the message) where a segment ends
  bool reverseOrder = false;      // send the segments last-first (out-of-order delivery)
  bool duplicateEach = false;     // send every segment twice (retransmissions)
};

struct PeerState {
  Endpoint endpoint;
  std::uint32_t isn = 0;
  std::uint64_t sent = 0;  // payload bytes sent (original space)
  std::string sentStream;  // everything sent
  // Receive side (the other direction's output space).
  std::uint32_t peerIsn = 0;
  bool peerIsnKnown = false;
  std::string received;  // in-order bytes received
  std::map<std::uint64_t, std::string> outOfOrder;
  std::uint64_t highestAckReceived = 0;  // of our own data, original space offset
  bool ackBeyondSent = false;            // an ACK acknowledged bytes we never sent
  bool ackWentBackwards = false;
  bool finReceived = false;
  bool finSent = false;  // our FIN occupies one sequence number past the data
  int badChecksums = 0;
};

class SessionSim {
 public:
  // `clientWire`/`serverWire`: the addresses on the packets (as at the capture/queue point).
  SessionSim(Engine& engine, FlowResolver& resolver, Endpoint clientWire, Endpoint serverWire,
             std::uint32_t clientIsn, std::uint32_t serverIsn);

  void handshake(std::uint16_t clientMss = 1460, std::uint16_t serverMss = 1460);
  // Sends `message` from the client (c2s) or server, segmented as asked (default: one segment),
  // and the receiver acknowledges with a pure ACK afterwards.
  void clientSends(const std::string& message, const Segmentation& segmentation = {});
  void serverSends(const std::string& message, const Segmentation& segmentation = {});
  void close();  // FIN from both sides, with ACKs
  // Sends again `length` bytes of what the client (or server) already sent, from stream offset
  // `offset` (a retransmission), without the receiver's ACK afterwards.
  void resend(bool fromClient, std::uint64_t offset, std::size_t length);
  // The conntrack-owned mode (see the file comment): payload-free packets other than the SYN-ACK
  // bypass the engine, and the kernel model adjusts every delivered packet.
  void kernelOwned(bool on) { kernelOwned_ = on; }
  const KernelSeqAdjModel& kernel() const { return kernel_; }
  // A record conntrack already holds (a connection taken over from a previous instance).
  void primeKernel(Direction dir, const SeqAdjRecord& record) { kernel_.update(dir, record); }
  std::size_t packetsDropped() const { return dropped_; }
  void advanceTime(Duration d) { now_ = now_ + d; }
  void timer();  // Engine::onTimer(now)

  const PeerState& client() const { return client_; }
  const PeerState& server() const { return server_; }
  const std::vector<Observation>& observations() const { return observations_; }
  const std::vector<Action>& actions() const { return actions_; }
  std::size_t packetsModified() const { return modified_; }
  std::size_t packetsHeldNow() const { return pending_.size(); }
  Timestamp now() const { return now_; }

 private:
  void send(bool fromClient, const std::string& message, const Segmentation& segmentation);
  void sendPacket(bool fromClient, std::uint32_t seq, const std::string& payload, std::uint8_t flags,
                  std::optional<std::uint16_t> mss = std::nullopt);
  void pureAck(bool fromClient);
  void process(const std::vector<std::uint8_t>& packet, bool fromClient);
  void absorb(Outcome& outcome);
  void deliver(const std::vector<std::uint8_t>& packet, bool toServer);

  Engine& engine_;
  FlowResolver& resolver_;
  PeerState client_;
  PeerState server_;
  Timestamp now_{1'000'000'000};
  PacketId nextId_ = 1;
  std::map<PacketId, std::pair<std::vector<std::uint8_t>, bool>> pending_;  // held: bytes, fromClient
  std::vector<Observation> observations_;
  std::vector<Action> actions_;
  std::size_t modified_ = 0;
  std::size_t dropped_ = 0;
  bool kernelOwned_ = false;
  KernelSeqAdjModel kernel_;
};

// The observations as comparable text lines without timestamps (for invariance tests).
std::vector<std::string> describe(const std::vector<Observation>& observations);
std::string describe(const Action& action);

}  // namespace ftpalg::testing
