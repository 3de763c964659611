// The engine at the TCP level: which RST, FIN, SYN and SYN-ACK end, keep or restart a session, how
// long a silent session stays inspected, and in which order a reset and held data leave.
//
// Packets are built by hand (tests/support/packet_builder) and handed to Engine::onPacket with the
// FlowContext a live shell would give, in AckSpace::Output as live mode runs: each peer
// acknowledges what it received, in the receiver's (output) space, so a length-changing rewrite
// shows in every sequence number a peer sees. A "blind" packet is one whose sequence number the
// sender guessed (docs/security.md "Threat model": anyone who can reach the router can send it).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "ftpalg/engine/engine.hpp"
#include "packet_builder.hpp"

namespace ftpalg {

// Readable reasons in assertion messages.
void PrintTo(Reason reason, std::ostream* out) { *out << reasonName(reason); }

namespace {

using testing::ep;
using testing::ip;
using testing::TcpPacketSpec;

constexpr std::uint8_t kData = tcp_flags::kAck | tcp_flags::kPsh;

// Client 192.168.77.10 masqueraded to 203.0.113.1; server 203.0.113.10
// (docs/adversarial-cases.md#example-network).
FlowContext snatFlow() {
  FlowContext flow;
  flow.key = FlowKey{ep("192.168.77.10:40000"), ep("203.0.113.10:21")};
  flow.nat = NatMapping{ep("192.168.77.10:40000"), ep("203.0.113.1:40000"), ep("203.0.113.10:21"),
                        ep("203.0.113.10:21")};
  return flow;
}

// Client 198.51.100.20 outside; server 192.168.78.10 port-forwarded from 203.0.113.1:21.
FlowContext dnatFlow() {
  FlowContext flow;
  flow.key = FlowKey{ep("198.51.100.20:40001"), ep("192.168.78.10:21")};
  flow.nat = NatMapping{ep("198.51.100.20:40001"), ep("198.51.100.20:40001"), ep("192.168.78.10:21"),
                        ep("203.0.113.1:21")};
  return flow;
}

// One endpoint of the control connection. It sends in its own (original) sequence space and
// acknowledges, in order, what it received (the other direction's output space).
struct Peer {
  Endpoint wire;  // its address on the packets (as at the queue point)
  std::uint32_t isn = 0;
  std::uint32_t sent = 0;  // payload bytes sent
  bool finSent = false;
  std::uint16_t window = 65535;
  std::optional<std::uint32_t> peerIsn;  // from the SYN it received
  std::string received;                  // payload received in order
  bool finReceived = false;

  std::uint32_t nextSeq() const { return isn + 1 + sent + (finSent ? 1 : 0); }
  std::uint32_t ackNumber() const {
    return *peerIsn + 1 + static_cast<std::uint32_t>(received.size()) + (finReceived ? 1 : 0);
  }
};

// A packet as one peer received it.
struct Delivered {
  bool toServer = false;
  std::vector<std::uint8_t> bytes;
  PacketView view() const { return *PacketView::parse(bytes); }
};

class Wire {
 public:
  explicit Wire(FlowContext flow, EngineConfig config = {}, std::uint32_t clientIsn = 0x11223344u,
                std::uint32_t serverIsn = 0xfffff000u)
      : flow_(std::move(flow)), engine_(config) {
    client_.wire = flow_.key.client;
    client_.isn = clientIsn;
    server_.wire = flow_.key.server;
    server_.isn = serverIsn;
  }

  Engine& engine() { return engine_; }
  Peer& client() { return client_; }
  Peer& server() { return server_; }
  Peer& peer(bool fromClient) { return fromClient ? client_ : server_; }

  // A segment of `fromClient`'s side at its next sequence number, acknowledging what it received.
  TcpPacketSpec segment(bool fromClient, std::string payload = {}, std::uint8_t flags = kData) {
    Peer& sender = peer(fromClient);
    TcpPacketSpec spec;
    spec.seq = sender.nextSeq();
    spec.flags = flags;
    if (sender.peerIsn) {
      spec.ack = sender.ackNumber();
    } else {
      spec.flags &= static_cast<std::uint8_t>(~tcp_flags::kAck);
    }
    spec.window = sender.window;
    spec.payload = std::move(payload);
    return spec;
  }

  // Hands one packet of `fromClient`'s side to the engine (as a shell does after resolving it)
  // and delivers every verdict of the call to its receiver. `clientSyn`: what a live shell's
  // resolver reports on a SYN-ACK whose SYN conntrack saw.
  void send(bool fromClient, TcpPacketSpec spec, std::optional<ClientSynSeen> clientSyn = std::nullopt) {
    spec.src = peer(fromClient).wire;
    spec.dst = peer(!fromClient).wire;
    const std::vector<std::uint8_t> bytes = testing::buildTcpPacket(spec);
    const PacketId id = nextId_++;
    pending_[id] = {bytes, fromClient};
    FlowContext flow = flow_;
    flow.direction = fromClient ? Direction::ClientToServer : Direction::ServerToClient;
    flow.clientSyn = clientSyn;
    const auto view = PacketView::parse(bytes);
    ASSERT_TRUE(view.has_value());
    Outcome out;
    engine_.onTimer(now_, out);
    engine_.onPacket(PacketMeta{id}, bytes, *view, flow, now_, out);
    absorb(out);
  }

  // The packet goes straight to the other peer: the engine never sees it.
  void bypass(bool fromClient, TcpPacketSpec spec) {
    spec.src = peer(fromClient).wire;
    spec.dst = peer(!fromClient).wire;
    deliver(testing::buildTcpPacket(spec), fromClient);
  }

  TcpPacketSpec syn(std::optional<std::uint8_t> windowScale = std::nullopt) {
    TcpPacketSpec spec = segment(true, {}, tcp_flags::kSyn);
    spec.seq = client_.isn;
    spec.mss = 1460;
    if (windowScale) spec.rawTcpOptions = {1, 3, 3, *windowScale};
    return spec;
  }
  TcpPacketSpec synAck(std::optional<std::uint8_t> windowScale = std::nullopt) {
    TcpPacketSpec spec = segment(false, {}, tcp_flags::kSyn | tcp_flags::kAck);
    spec.seq = server_.isn;
    spec.mss = 1460;
    if (windowScale) spec.rawTcpOptions = {1, 3, 3, *windowScale};
    return spec;
  }

  void handshake() {
    send(true, syn());
    send(false, synAck());
    send(true, segment(true, {}, tcp_flags::kAck));
  }
  // As live mode sees it: the client's first SYN never reaches the engine (the resolver cannot
  // resolve it, docs/decisions/0006-live-shell.md); the SYN-ACK comes with conntrack's word.
  void liveHandshake(std::optional<std::uint8_t> clientShift = std::nullopt,
                     std::optional<std::uint8_t> serverShift = std::nullopt) {
    bypass(true, syn(clientShift));
    send(false, synAck(serverShift), ClientSynSeen{clientShift});
    send(true, segment(true, {}, tcp_flags::kAck));
  }

  // `fromClient`'s side sends `text` in one segment; the other side acknowledges it.
  void says(bool fromClient, const std::string& text) {
    sendData(fromClient, text);
    send(!fromClient, segment(!fromClient, {}, tcp_flags::kAck));
  }
  // The same without the acknowledgement.
  void sendData(bool fromClient, const std::string& text) {
    send(fromClient, segment(fromClient, text));
    peer(fromClient).sent += static_cast<std::uint32_t>(text.size());
  }

  void login() {
    handshake();
    says(false, "220 (vsFTPd 3.0.3)\r\n");
    says(true, "USER anonymous\r\n");
    says(false, "331 Please specify the password.\r\n");
    says(true, "PASS secret\r\n");
    says(false, "230 Login successful.\r\n");
  }

  // Both peers forget the connection and take new initial sequence numbers (same 4-tuple).
  void newConnection(std::uint32_t clientIsn, std::uint32_t serverIsn) {
    for (Peer* p : {&client_, &server_}) {
      const Endpoint wire = p->wire;
      *p = Peer{};
      p->wire = wire;
    }
    client_.isn = clientIsn;
    server_.isn = serverIsn;
  }

  void advance(Duration d) { now_ = now_ + d; }
  void timer() {
    Outcome out;
    engine_.onTimer(now_, out);
    absorb(out);
  }

  const std::vector<Delivered>& delivered() const { return delivered_; }
  // The last packet the server (or client) received.
  const Delivered& lastTo(bool server) const {
    for (auto it = delivered_.rbegin(); it != delivered_.rend(); ++it) {
      if (it->toServer == server) return *it;
    }
    static const Delivered none;
    ADD_FAILURE() << "nothing was delivered";
    return none;
  }
  std::size_t heldNow() const { return pending_.size(); }

  template <typename T>
  std::vector<T> observed() const {
    std::vector<T> result;
    for (const Observation& observation : observations_) {
      if (const auto* body = std::get_if<T>(&observation.body)) result.push_back(*body);
    }
    return result;
  }
  std::vector<Reason> anomalies() const {
    std::vector<Reason> reasons;
    for (const AnomalyObs& anomaly : observed<AnomalyObs>()) reasons.push_back(anomaly.reason);
    return reasons;
  }
  std::vector<Reason> sessionCloses() const {
    std::vector<Reason> reasons;
    for (const SessionClosedObs& closed : observed<SessionClosedObs>()) reasons.push_back(closed.reason);
    return reasons;
  }
  std::size_t sessionOpens() const { return observed<SessionOpened>().size(); }
  std::vector<Pinhole> opened() const {
    std::vector<Pinhole> result;
    for (const Action& action : actions_) {
      if (const auto* open = std::get_if<OpenPinhole>(&action)) result.push_back(open->pinhole);
    }
    return result;
  }

 private:
  void absorb(Outcome& out) {
    actions_.insert(actions_.end(), out.actions.begin(), out.actions.end());
    observations_.insert(observations_.end(), out.observations.begin(), out.observations.end());
    for (PacketVerdict& verdict : out.verdicts) {
      const auto it = pending_.find(verdict.id);
      ASSERT_NE(it, pending_.end()) << "a verdict for a packet that has none pending";
      const bool fromClient = it->second.second;
      if (verdict.kind == VerdictKind::Accept) deliver(it->second.first, fromClient);
      if (verdict.kind == VerdictKind::AcceptModified) deliver(verdict.bytes, fromClient);
      pending_.erase(it);
    }
  }

  void deliver(const std::vector<std::uint8_t>& bytes, bool fromClient) {
    ASSERT_TRUE(testing::independentChecksumsValid(bytes));
    delivered_.push_back(Delivered{fromClient, bytes});
    const auto view = PacketView::parse(bytes);
    ASSERT_TRUE(view.has_value());
    Peer& receiver = peer(!fromClient);
    if (view->hasFlag(tcp_flags::kSyn)) {
      // An endpoint with the connection established ignores a SYN (RFC 5961 §4 challenge ACK).
      if (!receiver.peerIsn) receiver.peerIsn = view->seq().raw();
      return;
    }
    if (!receiver.peerIsn || view->hasFlag(tcp_flags::kRst)) return;
    // In order only (what these tests send arrives in order, or is meant to be ignored).
    const std::uint32_t expected =
        *receiver.peerIsn + 1 + static_cast<std::uint32_t>(receiver.received.size());
    const auto payload = view->payload();
    const std::int32_t skip = static_cast<std::int32_t>(expected - view->seq().raw());
    if (skip >= 0 && static_cast<std::size_t>(skip) <= payload.size()) {
      receiver.received.append(payload.begin() + skip, payload.end());
      if (view->hasFlag(tcp_flags::kFin)) receiver.finReceived = true;
    }
  }

  FlowContext flow_;
  Engine engine_;
  Peer client_;
  Peer server_;
  Timestamp now_{1'000'000'000};
  PacketId nextId_ = 1;
  std::map<PacketId, std::pair<std::vector<std::uint8_t>, bool>> pending_;  // bytes, fromClient
  std::vector<Delivered> delivered_;
  std::vector<Observation> observations_;
  std::vector<Action> actions_;
};

const std::string kPort = "PORT 192,168,77,10,195,80\r\n";
const std::string kPortRewritten = "PORT 203,0,113,1,195,80\r\n";
// The rewrite shortens the client's stream by this many bytes.
const std::uint32_t kPortShrink = static_cast<std::uint32_t>(kPort.size() - kPortRewritten.size());

// Logged in, then a PORT rewritten (shorter) with its pinhole open.
void loginAndRewritePort(Wire& wire) {
  wire.login();
  wire.says(true, kPort);
  wire.says(false, "200 PORT command successful.\r\n");
  ASSERT_EQ(wire.opened().size(), 1u);
  ASSERT_EQ(wire.server().received.substr(wire.server().received.size() - kPortRewritten.size() - 0),
            kPortRewritten);
}

bool endsWith(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

// --- 1. Only an acceptable RST or FIN ends a session ----------------------------------------------

// Server-to-client packets are queued before conntrack (docs/decisions/0006-live-shell.md), so
// nothing but the engine judges this RST.
TEST(EngineConnectionEnd, BlindRstFromTheServerLeavesTheSessionTranslating) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  TcpPacketSpec rst = wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck);
  rst.seq = wire.server().nextSeq() + 1'000'000;
  wire.send(false, rst);

  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_EQ(wire.engine().pinholeCount(), 1u) << "a blind RST closed the pinhole";
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::RstOutOfWindow});
  EXPECT_EQ(wire.lastTo(false).view().seq().raw(), rst.seq) << "passed unchanged: the client discards it";
  EXPECT_EQ(wire.heldNow(), 0u);
  wire.advance(std::chrono::seconds(60));  // past --closed-session-linger
  wire.timer();
  EXPECT_EQ(wire.engine().sessionCount(), 1u) << "the session was forgotten";
  wire.says(true, "LIST\r\n");
  EXPECT_TRUE(endsWith(wire.server().received, "LIST\r\n"))
      << "the client's next command left untranslated: its seq is off by the rewrite's " << kPortShrink
      << " bytes";
}

TEST(EngineConnectionEnd, RstAtTheReceiversNextSequenceNumberClosesTheSession) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.send(false, wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck));
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reset});
  EXPECT_EQ(wire.engine().pinholeCount(), 0u);
  EXPECT_TRUE(wire.anomalies().empty());
}

// RFC 5961 §3.2: a receiver resets only at exactly RCV.NXT; one inside its window elsewhere gets
// a challenge ACK and the connection lives on.
TEST(EngineConnectionEnd, RstInsideTheWindowButPastWhatTheSenderSentIsIgnored) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  TcpPacketSpec rst = wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck);
  rst.seq = wire.server().nextSeq() + 100;
  wire.send(false, rst);
  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::RstOutOfWindow});
}

// The client's own RST is in its original space; what the server acknowledged is in the output
// space and must be mapped back through the rewrite before the two are compared.
TEST(EngineConnectionEnd, ClientRstAtItsNextSequenceNumberAfterAShrinkingRewriteClosesTheSession) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.send(true, wire.segment(true, {}, tcp_flags::kRst | tcp_flags::kAck));
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reset});
  EXPECT_EQ(wire.lastTo(true).view().seq().raw(), wire.server().ackNumber())
      << "the RST reaches the server at exactly the sequence number it expects";
}

TEST(EngineConnectionEnd, ClientRstJustBeforeWhatTheServerAcknowledgedIsIgnored) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  TcpPacketSpec rst = wire.segment(true, {}, tcp_flags::kRst | tcp_flags::kAck);
  rst.seq -= 1;
  wire.send(true, rst);
  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::RstOutOfWindow});
}

// A sender aborting with data in flight sends its RST at its own next sequence number, which the
// receiver reaches once the data arrives (conntrack's "RST train").
TEST(EngineConnectionEnd, RstRightAfterUnacknowledgedDataClosesTheSession) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.sendData(false, "150 Here comes the directory listing.\r\n");
  wire.send(false, wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck));
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reset});
}

TEST(EngineConnectionEnd, BlindFinsFromBothSidesLeaveTheSessionTranslating) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  TcpPacketSpec serverFin = wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck);
  serverFin.seq += 1'000'000;
  wire.send(false, serverFin);
  TcpPacketSpec clientFin = wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck);
  clientFin.seq += 1'000'000;
  wire.send(true, clientFin);
  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_EQ(wire.anomalies(), (std::vector<Reason>{Reason::FinOutOfWindow, Reason::FinOutOfWindow}));
  EXPECT_EQ(wire.heldNow(), 0u) << "an unacceptable FIN is not held for bytes that never come";
  wire.advance(std::chrono::seconds(60));
  wire.timer();
  wire.says(true, "LIST\r\n");
  EXPECT_TRUE(endsWith(wire.server().received, "LIST\r\n"));
}

// RFC 5961 §5: a segment acknowledging data its receiver never sent is discarded.
TEST(EngineConnectionEnd, FinAcknowledgingUnsentDataIsIgnored) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  TcpPacketSpec fin = wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck);
  fin.ack += 1'000'000;
  const TcpPacketSpec clientFin = wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck);
  wire.send(false, fin);
  wire.send(true, clientFin);
  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::FinOutOfWindow});
}

TEST(EngineConnectionEnd, FinsAtTheNextSequenceNumbersEndTheSession) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.send(true, wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck));
  wire.client().finSent = true;
  EXPECT_TRUE(wire.sessionCloses().empty());
  wire.send(false, wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck));
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Fin});
  EXPECT_TRUE(wire.anomalies().empty());
}

// After both FINs the session lingers closed: an RST or FIN its receiver would not accept (the
// reply to a late duplicate on a lossy path) ends nothing, since nothing is left to end, and is
// no anomaly either.
TEST(EngineConnectionEnd, StaleRstOrFinAfterTheCloseIsNoAnomaly) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.send(true, wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck));
  wire.client().finSent = true;
  wire.send(false, wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck));
  ASSERT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Fin});
  TcpPacketSpec rst = wire.segment(true, {}, tcp_flags::kRst | tcp_flags::kAck);
  rst.seq -= 1'000;
  wire.send(true, rst);
  TcpPacketSpec fin = wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck);
  fin.seq += 1'000'000;
  wire.send(false, fin);
  EXPECT_TRUE(wire.anomalies().empty());
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Fin});
}

// A FIN after a gap (the segment before it was lost upstream of the router) still ends the
// sender's stream once the gap is filled: it counts while it lies inside the receiver's window.
TEST(EngineConnectionEnd, FinAfterALostSegmentInsideTheWindowCounts) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  const std::string lost = "221 Goodbye.\r\n";
  TcpPacketSpec fin = wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck);
  fin.seq += static_cast<std::uint32_t>(lost.size());
  wire.send(false, fin);
  wire.send(true, wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck));
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Fin});
}

// Window scaling (RFC 7323 §2.2): in effect only when both SYNs carry the option; the shift each
// side announced applies to every window it advertises after its SYN.
void scaledLogin(Wire& wire, std::optional<std::uint8_t> clientShift,
                 std::optional<std::uint8_t> serverShift) {
  wire.client().window = 1000;  // 128 000 bytes with a shift of 7
  wire.send(true, wire.syn(clientShift));
  wire.send(false, wire.synAck(serverShift));
  wire.send(true, wire.segment(true, {}, tcp_flags::kAck));
  wire.says(false, "220 hello\r\n");
  wire.says(true, "USER anonymous\r\n");
}

TEST(EngineConnectionEnd, FinInsideTheScaledWindowCounts) {
  Wire wire(snatFlow());
  scaledLogin(wire, 7, 7);
  TcpPacketSpec fin = wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck);
  fin.seq += 100'000;  // beyond 1000 bytes, inside 128 000
  wire.send(false, fin);
  wire.send(true, wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck));
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Fin});
}

TEST(EngineConnectionEnd, FinBeyondTheScaledWindowIsIgnored) {
  Wire wire(snatFlow());
  scaledLogin(wire, 7, 7);
  TcpPacketSpec fin = wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck);
  fin.seq += 200'000;
  wire.send(false, fin);
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::FinOutOfWindow});
}

TEST(EngineConnectionEnd, WindowScaleOfferedByOneSideOnlyIsNotApplied) {
  Wire wire(snatFlow());
  scaledLogin(wire, 7, std::nullopt);
  TcpPacketSpec fin = wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck);
  fin.seq += 100'000;
  wire.send(false, fin);
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::FinOutOfWindow});
}

// Only a plausible segment moves the window state: a blind data segment far ahead must not make
// the next blind RST at its end look like one right after unacknowledged data.
TEST(EngineConnectionEnd, BlindSegmentDoesNotWidenWhereAnRstIsAccepted) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  TcpPacketSpec data = wire.segment(false, "150 x\r\n");
  data.seq += 1'000'000;
  wire.send(false, data);
  TcpPacketSpec rst = wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck);
  rst.seq = data.seq + static_cast<std::uint32_t>(data.payload.size());
  wire.send(false, rst);
  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_EQ(wire.engine().pinholeCount(), 1u);
}

// Nor the reference point of sequence unwrapping: two blind FINs half the sequence space apart
// would otherwise move every later offset into the next 2^32 epoch.
TEST(EngineConnectionEnd, BlindSegmentsFarAheadDoNotMoveTheSequenceEpoch) {
  Wire wire(snatFlow());
  wire.login();
  for (const std::uint32_t ahead : {0x60000000u, 0xc0000000u}) {
    TcpPacketSpec fin = wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck);
    fin.seq += ahead;
    wire.send(true, fin);
  }
  wire.says(true, kPort);
  EXPECT_EQ(wire.opened().size(), 1u);
  EXPECT_TRUE(endsWith(wire.server().received, kPortRewritten));
}

// Nor the session's activity: guessed packets do not keep a silent session from its idle close.
TEST(EngineConnectionEnd, BlindPacketsDoNotKeepASilentSessionAlive) {
  EngineConfig config;
  config.limits.sessionIdleTimeout = std::chrono::seconds(60);
  Wire wire(snatFlow(), config);
  wire.login();
  for (int i = 0; i < 6; ++i) {
    wire.advance(std::chrono::seconds(20));
    TcpPacketSpec rst = wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck);
    rst.seq += 1'000'000;
    wire.send(false, rst);
  }
  wire.timer();
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::IdleTimeout});
}

// Some stacks send RST+ACK with an acknowledgement number of 0; conntrack judges it by its
// sequence number alone, and so does the engine.
TEST(EngineConnectionEnd, RstWithAnAcknowledgementOfZeroIsJudgedByItsSequenceNumber) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  TcpPacketSpec rst = wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck);
  rst.ack = 0;
  wire.send(false, rst);
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reset});
}

// --- 6. A reset never overtakes held data -------------------------------------------------------

// The first half of a PORT line is held (it may still become an announcement); the client then
// aborts. The server must get the held bytes first and the RST right after them, at exactly the
// sequence number that follows them.
TEST(EngineHeldData, RstLeavesAfterTheHeldBytesItFollows) {
  Wire wire(snatFlow());
  wire.login();
  wire.sendData(true, "PORT 192,168,");
  ASSERT_EQ(wire.heldNow(), 1u);
  const std::size_t before = wire.delivered().size();
  wire.send(true, wire.segment(true, {}, tcp_flags::kRst | tcp_flags::kAck));
  ASSERT_EQ(wire.delivered().size(), before + 2);
  const Delivered& first = wire.delivered()[before];
  const Delivered& second = wire.delivered()[before + 1];
  EXPECT_FALSE(first.view().hasFlag(tcp_flags::kRst)) << "the RST overtook the held data";
  EXPECT_TRUE(endsWith(wire.server().received, "PORT 192,168,"));
  ASSERT_TRUE(second.view().hasFlag(tcp_flags::kRst));
  EXPECT_EQ(second.view().seq().raw(), wire.server().ackNumber());
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reset});
}

// The same from the server, with a half-received 227 held: a blind RST is passed at once and
// exactly as sent. It must not be moved to the held line's start, where it would be exactly the
// sequence number the client expects (and so accepted by it).
TEST(EngineHeldData, BlindRstIsNeitherHeldNorMovedIntoTheWindow) {
  Wire wire(dnatFlow());
  wire.login();
  wire.says(true, "PASV\r\n");
  wire.sendData(false, "227 Entering Passive Mode (192,168,");
  ASSERT_EQ(wire.heldNow(), 1u);
  TcpPacketSpec rst = wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck);
  rst.seq += 1'000'000;
  wire.send(false, rst);
  ASSERT_TRUE(wire.lastTo(false).view().hasFlag(tcp_flags::kRst));
  EXPECT_EQ(wire.lastTo(false).view().seq().raw(), rst.seq);
  EXPECT_EQ(wire.heldNow(), 1u) << "the held line was released by a blind RST";
  wire.says(false, "78,10,156,64).\r\n");
  EXPECT_EQ(wire.opened().size(), 1u);
  EXPECT_TRUE(endsWith(wire.client().received, "227 Entering Passive Mode (203,0,113,1,156,64).\r\n"));
}

// An RST's payload is no part of the stream: a blind RST carrying a PORT line is neither held
// (which would end inspection when the hold times out) nor read.
TEST(EngineHeldData, BlindRstCarryingALineIsNeitherHeldNorRead) {
  Wire wire(snatFlow());
  wire.login();
  TcpPacketSpec rst = wire.segment(true, "PORT 192,168,77,10,195,80\r\n", tcp_flags::kRst | tcp_flags::kAck);
  rst.seq += 1'000'000;
  wire.send(true, rst);
  EXPECT_EQ(wire.heldNow(), 0u);
  EXPECT_TRUE(wire.opened().empty());
  wire.advance(std::chrono::seconds(5));  // past --hold-timeout-ms
  wire.timer();
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::RstOutOfWindow});
  wire.says(true, kPort);
  EXPECT_EQ(wire.opened().size(), 1u) << "inspection stopped";
}

// Even an accepted RST's payload is not read: a PORT line in it opens nothing.
TEST(EngineHeldData, TheLineInAnAcceptedRstIsNeverRead) {
  Wire wire(snatFlow());
  wire.login();
  wire.send(true, wire.segment(true, kPort, tcp_flags::kRst | tcp_flags::kAck));
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reset});
  EXPECT_TRUE(wire.opened().empty());
}

// --- 3. A new handshake on the 4-tuple, and only a real one, starts a fresh session --------------

TEST(EnginePortReuse, NewHandshakeOnAnUnclosedSessionStartsAFreshSession) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  // The client host restarted and reuses the port; the server had dropped the old connection.
  wire.newConnection(0x55667788u, 0x01020304u);
  wire.handshake();
  wire.says(false, "220 (vsFTPd 3.0.3)\r\n");
  wire.says(true, "USER anonymous\r\n");
  EXPECT_EQ(wire.server().received, "USER anonymous\r\n") << "the new connection's first command was lost";
  EXPECT_EQ(wire.client().received, "220 (vsFTPd 3.0.3)\r\n");
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reopened});
  EXPECT_EQ(wire.sessionOpens(), 2u);
  EXPECT_EQ(wire.engine().pinholeCount(), 0u) << "the old session's pinhole outlived it";
  EXPECT_EQ(wire.engine().sessionCount(), 1u);
  wire.says(true, kPort);
  EXPECT_EQ(wire.opened().size(), 2u) << "the fresh session is inspected";
}

TEST(EnginePortReuse, RetransmittedSynAndSynAckRestartNothing) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.send(true, wire.syn());
  TcpPacketSpec synAck = wire.synAck();
  synAck.ack = wire.client().isn + 1;
  wire.send(false, synAck);
  EXPECT_EQ(wire.sessionOpens(), 1u);
  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_TRUE(wire.anomalies().empty());
  wire.says(true, "LIST\r\n");
  EXPECT_TRUE(endsWith(wire.server().received, "LIST\r\n"));
  EXPECT_EQ(wire.engine().pinholeCount(), 1u);
}

// A client retransmits its SYN before the SYN-ACK arrives: one handshake, one session.
TEST(EnginePortReuse, SynRetransmittedBeforeTheSynAckRestartsNothing) {
  Wire wire(snatFlow());
  wire.send(true, wire.syn());
  wire.send(true, wire.syn());
  wire.send(false, wire.synAck());
  wire.send(true, wire.segment(true, {}, tcp_flags::kAck));
  EXPECT_EQ(wire.sessionOpens(), 1u);
  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_TRUE(wire.anomalies().empty());
}

// A SYN with another ISN alone proves nothing (anyone may send one; a server with the connection
// established answers it with a challenge ACK, RFC 5961 §4): the session goes on unchanged.
TEST(EnginePortReuse, SynWithANewIsnButNoSynAckChangesNothing) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  TcpPacketSpec syn = wire.syn();
  syn.seq = wire.client().nextSeq() - 10;  // a new ISN close below the old stream's position
  wire.send(true, syn);
  wire.says(true, "LIST\r\n");
  EXPECT_TRUE(endsWith(wire.server().received, "LIST\r\n"));
  EXPECT_TRUE(wire.sessionCloses().empty());
  EXPECT_EQ(wire.engine().pinholeCount(), 1u);
}

TEST(EnginePortReuse, BlindSynAckOrSynFromTheServerSideChangesNothing) {
  Wire wire(dnatFlow());
  wire.login();
  TcpPacketSpec synAck = wire.synAck();
  synAck.seq = 0x0badf00du;
  synAck.ack = 0x12345678u;
  wire.send(false, synAck);
  TcpPacketSpec syn = wire.synAck();
  syn.flags = tcp_flags::kSyn;
  syn.seq = 0x0dedbeefu;
  wire.send(false, syn);
  EXPECT_EQ(wire.anomalies(), (std::vector<Reason>{Reason::UnexpectedSyn, Reason::UnexpectedSyn}));
  wire.says(true, "PASV\r\n");
  wire.says(false, "227 Entering Passive Mode (192,168,78,10,156,64).\r\n");
  EXPECT_EQ(wire.opened().size(), 1u);
  EXPECT_TRUE(endsWith(wire.client().received, "227 Entering Passive Mode (203,0,113,1,156,64).\r\n"));
  EXPECT_EQ(wire.sessionOpens(), 1u);
}

// Found by fuzz_engine: after the connection ended, a new one whose ISNs happen to equal the old
// ones is still a new connection, not a retransmission of the old handshake.
TEST(EnginePortReuse, NewHandshakeAfterAnRstStartsAFreshSessionEvenWithTheSameIsns) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.send(true, wire.segment(true, {}, tcp_flags::kRst | tcp_flags::kAck));
  ASSERT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reset});
  wire.newConnection(wire.client().isn, wire.server().isn);
  wire.handshake();
  wire.says(false, "220 hello\r\n");
  wire.says(true, "USER anonymous\r\n");
  EXPECT_EQ(wire.server().received, "USER anonymous\r\n") << "the old session's rewrite shifted it";
  EXPECT_EQ(wire.sessionOpens(), 2u);
}

// Found by fuzz_engine: a new connection whose client ISN happens to equal the unfinished old
// one's. Not a retransmission of the old SYN once the old connection is established: the
// server's SYN-ACK with a new ISN proves the new connection.
TEST(EnginePortReuse, NewConnectionReusingTheOldClientIsnRestartsAtItsSynAck) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.newConnection(wire.client().isn, 0x01020304u);
  wire.handshake();
  wire.says(false, "220 hello\r\n");
  wire.says(true, "USER anonymous\r\n");
  EXPECT_EQ(wire.server().received, "USER anonymous\r\n") << "the old session's rewrite shifted it";
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reopened});
}

TEST(EnginePortReuse, NewHandshakeAfterBothFinsStartsAFreshSessionAtItsSyn) {
  Wire wire(snatFlow());
  loginAndRewritePort(wire);
  wire.send(true, wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck));
  wire.client().finSent = true;
  wire.send(false, wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck));
  ASSERT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Fin});
  wire.newConnection(0x55667788u, 0x01020304u);
  wire.handshake();
  wire.says(false, "220 hello\r\n");
  wire.says(true, "USER anonymous\r\n");
  EXPECT_EQ(wire.server().received, "USER anonymous\r\n");
  EXPECT_EQ(wire.sessionOpens(), 2u);
}

// docs/security.md "Known issues" (now closed): a flow whose client spoke first (NAT
// slipstreaming, docs/adversarial-cases.md#10-slipstreaming) is never inspected. Once the engine
// has forgotten it (here: the server's RST, which never reached the client, and the linger), a
// SYN-ACK that acknowledges no SYN must not start a fresh, inspected session: the client's
// connection is still the slipstreamed one.
TEST(EnginePortReuse, SynAckWithoutASynDoesNotReinspectAForgottenSlipstreamedFlow) {
  Wire wire(snatFlow());
  wire.handshake();
  wire.says(true, "POST / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(wire.anomalies(), std::vector<Reason>{Reason::ClientSpokeFirst});
  wire.send(false, wire.segment(false, {}, tcp_flags::kRst | tcp_flags::kAck));
  wire.advance(std::chrono::seconds(60));
  wire.timer();
  ASSERT_EQ(wire.engine().sessionCount(), 0u);
  // The malicious server "restarts" the connection it still shares with the victim's browser.
  TcpPacketSpec synAck = wire.synAck();
  synAck.seq = wire.server().nextSeq() - 1;
  wire.send(false, synAck);
  wire.says(false, "220 hi\r\n");
  wire.says(true, kPort);
  EXPECT_TRUE(wire.opened().empty()) << "a pinhole opened on a slipstreamed connection";
}

TEST(EnginePortReuse, LiveSessionStartsAtASynAckWhoseSynConntrackSaw) {
  Wire wire(snatFlow());
  wire.liveHandshake();
  wire.says(false, "220 hi\r\n");
  wire.says(true, kPort);
  EXPECT_EQ(wire.opened().size(), 1u);
  EXPECT_TRUE(endsWith(wire.server().received, kPortRewritten));
  EXPECT_TRUE(wire.anomalies().empty());
}

// Live, the same SYN-ACK without conntrack's word (its entry was established: an injected one).
TEST(EnginePortReuse, LiveSynAckWithoutConntracksWitnessIsNeverInspected) {
  Wire wire(snatFlow());
  wire.bypass(true, wire.syn());
  wire.send(false, wire.synAck());
  wire.send(true, wire.segment(true, {}, tcp_flags::kAck));
  wire.says(false, "220 hi\r\n");
  wire.says(true, kPort);
  EXPECT_TRUE(wire.opened().empty());
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::MidstreamPickup});
}

// Live: the client reused the port and the resolver's cache no longer knew the flow, so the
// engine never saw the new SYN; conntrack did.
TEST(EnginePortReuse, LivePortReuseTheEngineDidNotSeeRestartsAtAWitnessedSynAck) {
  Wire wire(snatFlow());
  wire.liveHandshake();
  wire.says(false, "220 hi\r\n");
  wire.says(true, kPort);
  wire.newConnection(0x55667788u, 0x01020304u);
  wire.liveHandshake();
  wire.says(false, "220 hi\r\n");
  wire.says(true, "USER anonymous\r\n");
  EXPECT_EQ(wire.server().received, "USER anonymous\r\n");
  EXPECT_EQ(wire.sessionCloses(), std::vector<Reason>{Reason::Reopened});
  EXPECT_EQ(wire.engine().pinholeCount(), 0u);
}

// RFC 7323 §2.2: the window in a SYN or SYN-ACK is never scaled, even when scaling is agreed.
TEST(EngineConnectionEnd, TheWindowOfTheSynAckIsNeverScaled) {
  Wire wire(snatFlow());
  wire.server().window = 1000;  // 128 000 bytes once scaled by 7, but not in the SYN-ACK
  wire.send(true, wire.syn(7));
  wire.send(false, wire.synAck(7));
  TcpPacketSpec fin = wire.segment(true, {}, tcp_flags::kFin | tcp_flags::kAck);
  fin.seq += 100'000;  // before the server advertised any scaled window
  wire.send(true, fin);
  EXPECT_EQ(wire.anomalies(), std::vector<Reason>{Reason::FinOutOfWindow});
}

// Live, the client's Window Scale option comes from conntrack (the engine never saw its SYN).
TEST(EngineConnectionEnd, LiveWindowScaleOfTheClientComesFromConntrack) {
  for (const bool clientOffered : {true, false}) {
    SCOPED_TRACE(clientOffered);
    Wire wire(snatFlow());
    wire.client().window = 1000;
    wire.liveHandshake(clientOffered ? std::optional<std::uint8_t>(7) : std::nullopt, 7);
    wire.says(false, "220 hello\r\n");
    TcpPacketSpec fin = wire.segment(false, {}, tcp_flags::kFin | tcp_flags::kAck);
    fin.seq += 100'000;  // inside 1000 << 7
    wire.send(false, fin);
    EXPECT_EQ(wire.anomalies().empty(), clientOffered);
  }
}

// --- 5. Idle is not dead ------------------------------------------------------------------------

// An `mget` of large files leaves the control connection silent for as long as a transfer takes.
TEST(EngineIdle, SessionSilentForTwoHoursStillRewritesThePasvReplyAndOpensAPinhole) {
  Wire wire(dnatFlow());
  wire.login();
  wire.advance(std::chrono::hours(2));
  wire.timer();
  wire.says(true, "PASV\r\n");
  wire.says(false, "227 Entering Passive Mode (192,168,78,10,156,64).\r\n");
  EXPECT_EQ(wire.opened().size(), 1u);
  EXPECT_TRUE(endsWith(wire.client().received, "227 Entering Passive Mode (203,0,113,1,156,64).\r\n"));
  EXPECT_TRUE(wire.sessionCloses().empty());
}

// --- 10. Policy through the engine (tests/unit/announcement_test.cpp has the pure function) -------

TEST(EnginePolicy, PassiveRepliesBelowThePortFloorFromADnatServerAreRefused) {
  for (const std::string& reply : {std::string("227 Entering Passive Mode (192,168,78,10,0,22).\r\n"),
                                   std::string("229 Entering Extended Passive Mode (|||22|)\r\n")}) {
    SCOPED_TRACE(reply);
    Wire wire(dnatFlow());
    wire.login();
    wire.says(true, reply[2] == '7' ? "PASV\r\n" : "EPSV\r\n");
    wire.says(false, reply);
    EXPECT_TRUE(wire.opened().empty()) << "a pinhole to the inside server's SSH port";
    ASSERT_EQ(wire.observed<Reject>().size(), 1u);
    EXPECT_EQ(wire.observed<Reject>()[0].reason, Reason::PortBelowFloor);
    EXPECT_TRUE(endsWith(wire.client().received, reply)) << "a refused reply passes unmodified";
  }
}

// The floor (--data-port-floor 1024) is the first accepted port, for every verb.
TEST(EnginePolicy, Port1023IsRefusedAnd1024AcceptedThroughTheEngine) {
  struct Case {
    bool dnat;
    const char* request;  // nullptr: the line is itself the client's announcement
    const char* below;
    const char* at;
  };
  const Case cases[] = {
      {false, nullptr, "PORT 192,168,77,10,3,255\r\n", "PORT 192,168,77,10,4,0\r\n"},
      {false, nullptr, "EPRT |1|192.168.77.10|1023|\r\n", "EPRT |1|192.168.77.10|1024|\r\n"},
      {true, "PASV\r\n", "227 Entering Passive Mode (192,168,78,10,3,255).\r\n",
       "227 Entering Passive Mode (192,168,78,10,4,0).\r\n"},
      {true, "EPSV\r\n", "229 Entering Extended Passive Mode (|||1023|)\r\n",
       "229 Entering Extended Passive Mode (|||1024|)\r\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.at);
    Wire wire(c.dnat ? dnatFlow() : snatFlow());
    wire.login();
    for (const char* line : {c.below, c.at}) {
      if (c.request) {
        wire.says(true, c.request);
        wire.says(false, line);
      } else {
        wire.says(true, line);
        wire.says(false, "200 OK\r\n");
      }
    }
    ASSERT_EQ(wire.observed<Reject>().size(), 1u);
    EXPECT_EQ(wire.observed<Reject>()[0].reason, Reason::PortBelowFloor);
    ASSERT_EQ(wire.opened().size(), 1u);
    EXPECT_EQ(wire.opened()[0].to, ep("203.0.113.1:1024"));
  }
}

// A port-forwarded server configured to announce its public address (vsftpd pasv_address,
// proftpd MasqueradeAddress; docs/decisions/0005-anti-bounce.md) is accepted as it is: nothing to
// rewrite, and the pinhole forwards only to that server.
TEST(EnginePolicy, Reply227NamingThePortForwardedServersPublicAddressOpensAPinholeToTheServer) {
  Wire wire(dnatFlow());
  wire.login();
  wire.says(true, "PASV\r\n");
  const std::string reply = "227 Entering Passive Mode (203,0,113,1,156,64).\r\n";
  wire.says(false, reply);
  EXPECT_TRUE(wire.observed<Reject>().empty());
  EXPECT_TRUE(wire.observed<Rewrite>().empty());
  ASSERT_EQ(wire.opened().size(), 1u);
  EXPECT_EQ(wire.opened()[0].from, ip("198.51.100.20"));
  EXPECT_EQ(wire.opened()[0].to, ep("203.0.113.1:40000"));
  EXPECT_EQ(wire.opened()[0].natTo, ep("192.168.78.10:40000"));
  EXPECT_TRUE(endsWith(wire.client().received, reply));
}

}  // namespace
}  // namespace ftpalg
