// The conntrack-owned mode's kernel side against the real kernel (root only; skipped otherwise):
// ftpalg's anchor, the seqadj and mark updates (ConntrackSessionPort), pinholes as conntrack
// expectations (ConntrackExpectBackend), destroy events, the takeover dump, the resolver's view of
// anchored connections and the conntrack-owned queue rules with their xt_bpf filter
// (docs/design.md#conntrack-owned-mode).
//
// The lab: this test process moves into a fresh network namespace and is the router; a client
// namespace (192.168.77.10, 2001:db8:77::10) and a server namespace (203.0.113.10,
// 2001:db8:1::10) hang off it by veth pairs. The router masquerades the client out of wan0 and
// port-forwards 203.0.113.1:21 to the client namespace's port 21 (the passive-mode case), routes
// IPv6 without NAT, and has a strict firewall: forward policy drop, `ct state invalid drop`,
// `ct state established,related accept`, new tcp/21 accepted, nf_conntrack_tcp_be_liberal=0. No
// rule of ftpalg's admits a data connection: only a conntrack expectation can.
//
// Sockets in the client and server namespaces are opened by forked children (setns), which
// report through a pipe and live until the test kills them by pid.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "firewall/nft_script.hpp"
#include "firewall/pinhole_table.hpp"
#include "firewall/queue_rule_installer.hpp"
#include "io/conntrack_events.hpp"
#include "io/conntrack_expect_backend.hpp"
#include "io/conntrack_netlink.hpp"
#include "io/conntrack_resolver.hpp"
#include "io/conntrack_session_port.hpp"
#include "io/conntrack_takeover.hpp"
#include "io/nfqueue_source.hpp"
#include "no_skip_under_root.hpp"
#include "packet_builder.hpp"

namespace ftpalg::io {
namespace {

using ftpalg::testing::ep;
using ftpalg::testing::ip;

constexpr std::uint32_t kControlMark = 0x00020000;
constexpr std::uint32_t kVerifiedMark = 0x00040000;

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return output;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  ::pclose(pipe);
  return output;
}

// --- children in the lab's namespaces ------------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int fd = -1;  // the child's reports, one line each
  // The next line the child reports, or nullopt after `timeoutMs`.
  std::optional<std::string> line(int timeoutMs = 5000) {
    std::string text;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char c = 0;
      if (::read(fd, &c, 1) != 1) return std::nullopt;
      if (c == '\n') return text;
      text += c;
    }
    return std::nullopt;
  }
  void kill() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

void report(int fd, const std::string& text) {
  const std::string line = text + "\n";
  [[maybe_unused]] const ssize_t written = ::write(fd, line.data(), line.size());
}

// Forks a child that enters network namespace `ns` and runs `body(reportFd)`; the child then
// sleeps until killed.
Child spawnIn(const std::string& ns, const std::function<void(int)>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const int nsFd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsFd < 0 || ::setns(nsFd, CLONE_NEWNET) != 0) {
      report(fds[1], "setns failed");
      ::_exit(1);
    }
    body(fds[1]);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  return Child{pid, fds[0]};
}

sockaddr_storage socketAddress(const Endpoint& endpoint, socklen_t& length) {
  sockaddr_storage storage{};
  if (endpoint.address.isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(endpoint.port);
    std::memcpy(&in->sin_addr, endpoint.address.bytes().data(), 4);
    length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(endpoint.port);
    std::memcpy(&in6->sin6_addr, endpoint.address.bytes().data(), 16);
    length = sizeof(sockaddr_in6);
  }
  return storage;
}

std::string peerText(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
  ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

// A listener on `local`: reports "listening", then "accepted PEER" for each connection; with
// `script`, writes its first element to each accepted connection, then answers every line it
// reads with the next element.
Child listenIn(const std::string& ns, const Endpoint& local, std::vector<std::string> script = {}) {
  return spawnIn(ns, [local, script](int out) {
    socklen_t length = 0;
    const sockaddr_storage address = socketAddress(local, length);
    const int s = ::socket(address.ss_family, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s, reinterpret_cast<const sockaddr*>(&address), length) != 0 || ::listen(s, 8) != 0) {
      report(out, std::string("listen failed: ") + std::strerror(errno));
      return;
    }
    report(out, "listening");
    for (;;) {
      sockaddr_storage peer{};
      socklen_t peerLength = sizeof peer;
      const int c = ::accept(s, reinterpret_cast<sockaddr*>(&peer), &peerLength);
      if (c < 0) continue;
      report(out, "accepted " + peerText(peer));
      std::size_t next = 0;
      if (next < script.size()) {
        const std::string& first = script[next++];
        [[maybe_unused]] const ssize_t sent = ::send(c, first.data(), first.size(), 0);
      }
      char buffer[512];
      while (next < script.size()) {
        if (::recv(c, buffer, sizeof buffer, 0) <= 0) break;
        const std::string& reply = script[next++];
        [[maybe_unused]] const ssize_t sent = ::send(c, reply.data(), reply.size(), 0);
      }
      if (!script.empty()) ::close(c);
    }
  });
}

// A connection to `remote`: reports "connected LOCALPORT" (or "connect failed: ..."); with
// `lines`, reads the greeting, then sends each line and reads its answer, then reports "done"
// and closes.
Child connectFrom(const std::string& ns, const Endpoint& remote, std::vector<std::string> lines = {}) {
  return spawnIn(ns, [remote, lines](int out) {
    socklen_t length = 0;
    const sockaddr_storage address = socketAddress(remote, length);
    const int s = ::socket(address.ss_family, SOCK_STREAM, 0);
    timeval timeout{3, 0};
    ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(s, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      report(out, std::string("connect failed: ") + std::strerror(errno));
      return;
    }
    sockaddr_storage local{};
    socklen_t localLength = sizeof local;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&local), &localLength);
    const std::uint16_t port = local.ss_family == AF_INET
                                   ? ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port)
                                   : ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    report(out, "connected " + std::to_string(port));
    if (lines.empty()) return;
    char buffer[512];
    if (::recv(s, buffer, sizeof buffer, 0) <= 0) return;
    for (const std::string& line : lines) {
      [[maybe_unused]] const ssize_t sent = ::send(s, line.data(), line.size(), 0);
      if (::recv(s, buffer, sizeof buffer, 0) <= 0) return;
    }
    ::close(s);
    report(out, "done");
  });
}

std::uint16_t connectedPort(Child& child) {
  const auto line = child.line();
  if (!line || line->rfind("connected ", 0) != 0) {
    ADD_FAILURE() << "client: " << line.value_or("(nothing)");
    return 0;
  }
  return static_cast<std::uint16_t>(std::stoi(line->substr(10)));
}

// --- the lab -------------------------------------------------------------------------------------

class ConntrackOwnedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    if (::unshare(CLONE_NEWNET) != 0) return;
    clientNs_ = "ct1e2e-c-" + std::to_string(::getpid());
    serverNs_ = "ct1e2e-s-" + std::to_string(::getpid());
    const std::string setup =
        "set -e\n"
        "ip netns add " +
        clientNs_ + "\nip netns add " + serverNs_ +
        "\n"
        "ip link set lo up\n"
        "ip link add lan0 type veth peer name eth0 netns " +
        clientNs_ +
        "\n"
        "ip link add wan0 type veth peer name eth0 netns " +
        serverNs_ +
        "\n"
        "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0\n"
        "ip addr add 192.168.77.1/24 dev lan0\nip addr add 2001:db8:77::1/64 dev lan0 nodad\n"
        "ip addr add 203.0.113.1/24 dev wan0\nip addr add 2001:db8:1::1/64 dev wan0 nodad\n"
        "ip link set lan0 up\nip link set wan0 up\n"
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1\n"
        "sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=0\n"
        "ip netns exec " +
        clientNs_ +
        " sh -c 'ip link set lo up; ip link set eth0 up; "
        "ip addr add 192.168.77.10/24 dev eth0; ip addr add 2001:db8:77::10/64 dev eth0 nodad; "
        "ip route add default via 192.168.77.1; ip -6 route add default via 2001:db8:77::1'\n"
        "ip netns exec " +
        serverNs_ +
        " sh -c 'ip link set lo up; ip link set eth0 up; "
        "ip addr add 203.0.113.10/24 dev eth0; ip addr add 2001:db8:1::10/64 dev eth0 nodad; "
        "ip -6 route add default via 2001:db8:1::1'\n"
        "nft -f - <<'EOF'\n"
        "table inet admin {\n"
        "  chain forward { type filter hook forward priority filter; policy drop;\n"
        "    meta l4proto { icmp, ipv6-icmp } accept\n"
        "    ct state invalid drop\n"
        "    ct state established,related accept\n"
        "    tcp dport 21 ct state new accept\n"
        "  }\n"
        "  chain input { type filter hook input priority filter; policy drop;\n"
        "    meta l4proto { icmp, ipv6-icmp } accept\n"
        "    ct state invalid drop\n"
        "    ct state established,related accept\n"
        "  }\n"
        "}\n"
        "table ip nat {\n"
        "  chain pre { type nat hook prerouting priority dstnat; iifname \"wan0\" tcp dport 21 dnat to "
        "192.168.77.10:21\n"
        "  }\n"
        "  chain post { type nat hook postrouting priority srcnat; oifname \"wan0\" masquerade\n"
        "  }\n"
        "}\n"
        "EOF\n"
        "echo lab-ready\n";
    const std::string output = run("bash -c " + quoted(setup));
    labReady_ = output.find("lab-ready") != std::string::npos;
    if (!labReady_) labError_ = output;
  }
  static void TearDownTestSuite() {
    if (!clientNs_.empty()) run("ip netns delete " + clientNs_);
    if (!serverNs_.empty()) run("ip netns delete " + serverNs_);
  }
  static std::string quoted(const std::string& text) {
    std::string out = "'";
    for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

  void SetUp() override {
    FTPALG_E2E_SKIP_UNLESS_ROOT("namespaces, conntrack, nft");
    ASSERT_TRUE(labReady_) << labError_;
    // The anchor's `ct helper` object needs nf_conntrack_sane in the kernel the suite targets; as
    // root its absence is a failure, not a skip (no_skip_under_root.hpp).
    const auto probed = firewall::probeAnchorHelper();
    ASSERT_TRUE(probed.ok()) << probed.error();
    run("conntrack -F");
    run("conntrack -F expect");
    firewall::NftTableSpec spec;
    spec.pinholeMaps = false;
    spec.anchor = firewall::AnchorSpec{{21}, kControlMark};
    auto table = firewall::PinholeTable::create(spec);
    ASSERT_TRUE(table.ok()) << table.error();
    table_.emplace(std::move(table.value()));
    auto netlink = ConntrackNetlink::open();
    ASSERT_TRUE(netlink.ok()) << netlink.error();
    netlink_ = std::move(netlink.value());
  }
  void TearDown() override {
    for (Child& child : children_) child.kill();
    table_.reset();
  }

  Child& keep(Child child) {
    children_.push_back(child);
    return children_.back();
  }

  // The anchored control connection whose original source is `client`, waited for (the kernel
  // confirms it with the handshake).
  std::optional<ConntrackEntry> anchored(const Endpoint& client) {
    for (int i = 0; i < 50; ++i) {
      auto entries =
          netlink_->dumpByMarkAndStatus(kControlMark, kControlMark, ct_status::kHelper, ct_status::kHelper);
      if (entries) {
        for (const ConntrackEntry& entry : entries.value()) {
          if (entry.original.src == client) return entry;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  // A control connection from the client namespace to the server's port 21, masqueraded: its
  // conntrack entry.
  std::optional<ConntrackEntry> masqueradedControlConnection() {
    Child& server = keep(listenIn(serverNs_, ep("203.0.113.10:21")));
    if (server.line() != std::optional<std::string>("listening")) return std::nullopt;
    Child& client = keep(connectFrom(clientNs_, ep("203.0.113.10:21")));
    const std::uint16_t port = connectedPort(client);
    if (port == 0) return std::nullopt;
    return anchored(Endpoint{ip("192.168.77.10"), port});
  }

  static inline bool labReady_ = false;
  static inline std::string labError_;
  static inline std::string clientNs_;
  static inline std::string serverNs_;
  std::optional<firewall::PinholeTable> table_;
  std::unique_ptr<ConntrackNetlink> netlink_;
  std::vector<Child> children_;
};

NatMapping natOf(const ConntrackEntry& entry) {
  return NatMapping{entry.original.src, entry.reply.dst, entry.reply.src, entry.original.dst};
}

// --- the expectation a pinhole becomes (no kernel needed) ---------------------------------------

TEST(ExpectationFor, PortThroughMasqueradeIsNatDirectionReplyToTheClientsPort) {
  Pinhole pinhole;
  pinhole.from = ip("203.0.113.10");
  pinhole.to = ep("203.0.113.1:50000");
  pinhole.natTo = ep("192.168.77.10:50123");
  pinhole.timeout = std::chrono::seconds(45);
  pinhole.controlNat = NatMapping{ep("192.168.77.10:40000"), ep("203.0.113.1:40000"), ep("203.0.113.10:21"),
                                  ep("203.0.113.10:21")};
  pinhole.announcedBy = Direction::ClientToServer;
  const auto request = expectationFor(pinhole);
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_EQ(request->master, (ConntrackTuple{ep("192.168.77.10:40000"), ep("203.0.113.10:21")}));
  EXPECT_EQ(request->tuple, (ConntrackTuple{ep("203.0.113.10:0"), ep("203.0.113.1:50000")}));
  EXPECT_EQ(request->natDir, ConntrackDir::Reply);
  EXPECT_EQ(request->natPort, 50123);
  EXPECT_EQ(request->timeoutSeconds, 45u);
}

TEST(ExpectationFor, PassiveToADnatedServerIsNatDirectionOriginalAndTheMasterIsItsOriginalTuple) {
  Pinhole pinhole;
  pinhole.from = ip("198.51.100.20");
  pinhole.to = ep("203.0.113.1:40064");
  pinhole.natTo = ep("192.168.78.10:40064");
  pinhole.controlNat = NatMapping{ep("198.51.100.20:40001"), ep("198.51.100.20:40001"),
                                  ep("192.168.78.10:21"), ep("203.0.113.1:21")};
  pinhole.announcedBy = Direction::ServerToClient;
  const auto request = expectationFor(pinhole);
  ASSERT_TRUE(request.ok()) << request.error();
  EXPECT_EQ(request->master, (ConntrackTuple{ep("198.51.100.20:40001"), ep("203.0.113.1:21")}));
  EXPECT_EQ(request->natDir, ConntrackDir::Original);
  EXPECT_EQ(request->natPort, 40064);
  // Without NAT of the data connection the port stays the announced one.
  pinhole.natTo.reset();
  EXPECT_EQ(expectationFor(pinhole)->natPort, 40064);
}

TEST(ExpectationFor, WhatAnExpectationCannotExpressIsAnError) {
  Pinhole pinhole;
  pinhole.from = ip("203.0.113.10");
  pinhole.to = ep("203.0.113.1:50000");
  pinhole.natTo = ep("192.168.77.99:50000");  // not the announcing client's address
  pinhole.controlNat = NatMapping{ep("192.168.77.10:40000"), ep("203.0.113.1:40000"), ep("203.0.113.10:21"),
                                  ep("203.0.113.10:21")};
  const auto otherTarget = expectationFor(pinhole);
  ASSERT_FALSE(otherTarget.ok());
  EXPECT_NE(otherTarget.error().find("not to the announcing peer 192.168.77.10"), std::string::npos)
      << otherTarget.error();
  pinhole.natTo.reset();
  pinhole.from = ip("2001:db8:1::10");
  EXPECT_FALSE(expectationFor(pinhole).ok());
}

TEST_F(ConntrackOwnedTest, TheAnchorGivesAMasqueradedConnectionTheSaneHelperTheMarkAndSeqadj) {
  const auto entry = masqueradedControlConnection();
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->helper, "sane");
  EXPECT_EQ(entry->mark & kControlMark, kControlMark);
  EXPECT_NE(entry->status & ct_status::kSrcNat, 0u);
  EXPECT_EQ(entry->reply.dst.address, ip("203.0.113.1"));
  EXPECT_FALSE(entry->seqAdjOriginal.has_value());  // no record until the first update
}

TEST_F(ConntrackOwnedTest, SeqadjUpdateAndVerifiedMarkAreInConntrackAndInTheTakeoverDump) {
  const auto entry = masqueradedControlConnection();
  ASSERT_TRUE(entry.has_value());
  auto port = ConntrackSessionPort::open(kVerifiedMark);
  ASSERT_TRUE(port.ok()) << port.error();
  const FlowKey key{entry->original.src, entry->reply.src};
  const SeqAdjRecord record{4129464379u, -20, -22};
  ASSERT_TRUE(
      port.value()
          ->adjustSequence(AdjustKernelSequence{key, natOf(*entry), Direction::ClientToServer, record})
          .ok());
  const SeqAdjRecord replyRecord{2726008488u, 0, 3};
  ASSERT_TRUE(
      port.value()
          ->adjustSequence(AdjustKernelSequence{key, natOf(*entry), Direction::ServerToClient, replyRecord})
          .ok());
  ASSERT_TRUE(port.value()->markDialogVerified(MarkDialogVerified{key, natOf(*entry)}).ok());

  auto got = netlink_->get(entry->original, ConntrackDir::Original);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got.value().has_value());
  EXPECT_NE(got.value()->status & ct_status::kSeqAdjust, 0u);
  EXPECT_EQ(got.value()->seqAdjOriginal, std::optional<SeqAdjRecord>(record));
  EXPECT_EQ(got.value()->seqAdjReply, std::optional<SeqAdjRecord>(replyRecord));
  EXPECT_EQ(got.value()->mark, kControlMark | kVerifiedMark);

  TakeoverOptions options;
  options.controlMark = kControlMark;
  options.verifiedMark = kVerifiedMark;
  auto dumped = dumpAnchoredConnections(*netlink_, options);
  ASSERT_TRUE(dumped.ok()) << dumped.error();
  ASSERT_EQ(dumped->size(), 1u);
  const KernelTakeover& takeover = dumped->front();
  EXPECT_EQ(takeover.flow.key, key);
  EXPECT_EQ(takeover.flow.nat, natOf(*entry));
  EXPECT_EQ(takeover.flow.sequenceOwner, SequenceOwner::Kernel);
  EXPECT_TRUE(takeover.flow.kernelSeqAdjust);
  EXPECT_EQ(takeover.clientToServer, record);
  EXPECT_EQ(takeover.serverToClient, replyRecord);
  EXPECT_TRUE(takeover.dialogVerified);
  EXPECT_FALSE(takeover.pending.has_value());
}

TEST_F(ConntrackOwnedTest, AnUpdateForAConnectionThatIsGoneIsAnError) {
  auto port = ConntrackSessionPort::open(kVerifiedMark);
  ASSERT_TRUE(port.ok()) << port.error();
  const NatMapping nat{ep("192.168.77.10:1"), ep("203.0.113.1:1"), ep("203.0.113.10:21"),
                       ep("203.0.113.10:21")};
  const auto adjusted = port.value()->adjustSequence(
      AdjustKernelSequence{FlowKey{}, nat, Direction::ClientToServer, {1, 0, 1}});
  ASSERT_FALSE(adjusted.ok());
  EXPECT_NE(adjusted.error().find("ENOENT"), std::string::npos) << adjusted.error();
}

// PORT through masquerade: the server connects to the router's public address and lands, RELATED
// and DNAT'ed, on the client's announced port.
TEST_F(ConntrackOwnedTest, AnExpectationAdmitsTheActiveDataConnectionRelatedAndDnated) {
  const auto entry = masqueradedControlConnection();
  ASSERT_TRUE(entry.has_value());
  Child& dataListener = keep(listenIn(clientNs_, ep("192.168.77.10:40001")));
  ASSERT_EQ(dataListener.line(), std::optional<std::string>("listening"));
  auto backend = ConntrackExpectBackend::open();
  ASSERT_TRUE(backend.ok()) << backend.error();
  Pinhole pinhole;
  pinhole.control = FlowKey{entry->original.src, entry->reply.src};
  pinhole.from = ip("203.0.113.10");
  pinhole.to = ep("203.0.113.1:30001");
  pinhole.natTo = ep("192.168.77.10:40001");
  pinhole.timeout = std::chrono::seconds(30);
  pinhole.controlNat = natOf(*entry);
  pinhole.announcedBy = Direction::ClientToServer;
  ASSERT_TRUE(backend.value()->open(pinhole).ok());

  // The timer is the pinhole's, not the helper policy's 300 s.
  auto expectation = netlink_->getExpectation(ConntrackTuple{Endpoint{pinhole.from, 0}, pinhole.to});
  ASSERT_TRUE(expectation.ok()) << expectation.error().message;
  ASSERT_TRUE(expectation.value().has_value());
  EXPECT_LE(expectation.value()->timeoutSeconds, 30u);
  EXPECT_GE(expectation.value()->timeoutSeconds, 25u);
  EXPECT_EQ(expectation.value()->master, entry->original);
  EXPECT_EQ(expectation.value()->natDir, std::optional<ConntrackDir>(ConntrackDir::Reply));
  EXPECT_EQ(expectation.value()->function, "nat-follow-master");
  const std::string listed = run("conntrack -L expect");
  EXPECT_NE(listed.find("dport=30001"), std::string::npos) << listed;
  EXPECT_NE(listed.find("helper=sane"), std::string::npos) << listed;

  // A second pinhole on the same tuple: the kernel says EEXIST, the backend reports it.
  const auto again = backend.value()->open(pinhole);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("EEXIST"), std::string::npos) << again.error();

  Child& data = keep(connectFrom(serverNs_, ep("203.0.113.1:30001")));
  EXPECT_NE(connectedPort(data), 0);
  const auto accepted = dataListener.line();
  ASSERT_TRUE(accepted.has_value());
  // nat-follow-master source-NATs the data connection to the master's view of the server.
  EXPECT_EQ(accepted->rfind("accepted 203.0.113.10:", 0), 0u) << *accepted;
  auto related =
      netlink_->dumpByMarkAndStatus(kControlMark, kControlMark, ct_status::kExpected, ct_status::kExpected);
  ASSERT_TRUE(related.ok()) << related.error().message;
  ASSERT_EQ(related->size(), 1u);
  EXPECT_EQ(related->front().original.dst, ep("203.0.113.1:30001"));
  EXPECT_EQ(related->front().reply.src, ep("192.168.77.10:40001"));
  EXPECT_NE(related->front().status & ct_status::kDstNat, 0u);
  EXPECT_TRUE(related->front().helper.empty());

  // Single use: the expectation is gone, and closing the pinhole is not an error.
  auto gone = netlink_->getExpectation(ConntrackTuple{Endpoint{pinhole.from, 0}, pinhole.to});
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  EXPECT_FALSE(gone.value().has_value());
  EXPECT_TRUE(backend.value()->close(pinhole, Reason::Expired).ok());
}

// 227 through a port-forward: the client connects to the router's public address and lands on
// the server's (here: in the client namespace) announced port; NAT direction ORIGINAL.
TEST_F(ConntrackOwnedTest, AnExpectationAdmitsThePassiveDataConnectionToADnatedServer) {
  Child& ftpServer = keep(listenIn(clientNs_, ep("192.168.77.10:21")));
  ASSERT_EQ(ftpServer.line(), std::optional<std::string>("listening"));
  Child& ftpClient = keep(connectFrom(serverNs_, ep("203.0.113.1:21")));
  const std::uint16_t clientPort = connectedPort(ftpClient);
  ASSERT_NE(clientPort, 0);
  const auto entry = anchored(Endpoint{ip("203.0.113.10"), clientPort});
  ASSERT_TRUE(entry.has_value());
  EXPECT_NE(entry->status & ct_status::kDstNat, 0u);

  Child& dataListener = keep(listenIn(clientNs_, ep("192.168.77.10:40002")));
  ASSERT_EQ(dataListener.line(), std::optional<std::string>("listening"));
  auto backend = ConntrackExpectBackend::open();
  ASSERT_TRUE(backend.ok()) << backend.error();
  Pinhole pinhole;
  pinhole.control = FlowKey{entry->original.src, entry->reply.src};
  pinhole.from = ip("203.0.113.10");
  pinhole.to = ep("203.0.113.1:30002");
  pinhole.natTo = ep("192.168.77.10:40002");
  pinhole.controlNat = natOf(*entry);
  pinhole.announcedBy = Direction::ServerToClient;
  ASSERT_TRUE(backend.value()->open(pinhole).ok());

  TakeoverOptions options;
  options.controlMark = kControlMark;
  options.verifiedMark = kVerifiedMark;
  auto dumped = dumpAnchoredConnections(*netlink_, options);
  ASSERT_TRUE(dumped.ok()) << dumped.error();
  ASSERT_EQ(dumped->size(), 1u);
  ASSERT_TRUE(dumped->front().pending.has_value());
  EXPECT_EQ(dumped->front().pending->from, pinhole.from);
  EXPECT_EQ(dumped->front().pending->to, pinhole.to);
  EXPECT_EQ(dumped->front().pending->natTo, *pinhole.natTo);
  EXPECT_FALSE(dumped->front().dialogVerified);

  Child& data = keep(connectFrom(serverNs_, ep("203.0.113.1:30002")));
  EXPECT_NE(connectedPort(data), 0);
  const auto accepted = dataListener.line();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->rfind("accepted 203.0.113.10:", 0), 0u) << *accepted;
}

TEST_F(ConntrackOwnedTest, WithoutAnExpectationTheDataConnectionNeverArrives) {
  const auto entry = masqueradedControlConnection();
  ASSERT_TRUE(entry.has_value());
  Child& dataListener = keep(listenIn(clientNs_, ep("192.168.77.10:40003")));
  ASSERT_EQ(dataListener.line(), std::optional<std::string>("listening"));
  Child& data = keep(connectFrom(serverNs_, ep("203.0.113.1:30003")));
  const auto line = data.line(6000);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->rfind("connect failed", 0), 0u) << *line;
  EXPECT_FALSE(dataListener.line(200).has_value());
}

TEST_F(ConntrackOwnedTest, ClosingDeletesOnlyTheExpectationOfItsOwnMaster) {
  const auto entry = masqueradedControlConnection();
  ASSERT_TRUE(entry.has_value());
  auto backend = ConntrackExpectBackend::open();
  ASSERT_TRUE(backend.ok()) << backend.error();
  Pinhole pinhole;
  pinhole.from = ip("203.0.113.10");
  pinhole.to = ep("203.0.113.1:30004");
  pinhole.natTo = ep("192.168.77.10:40004");
  pinhole.controlNat = natOf(*entry);
  ASSERT_TRUE(backend.value()->open(pinhole).ok());
  const ConntrackTuple tuple{Endpoint{pinhole.from, 0}, pinhole.to};

  Pinhole stranger = pinhole;  // the same tuple, claimed for another control connection
  stranger.controlNat.clientReal.port = static_cast<std::uint16_t>(stranger.controlNat.clientReal.port + 1);
  EXPECT_TRUE(backend.value()->close(stranger, Reason::Replaced).ok());
  auto still = netlink_->getExpectation(tuple);
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(still.value().has_value());

  EXPECT_TRUE(backend.value()->close(pinhole, Reason::Replaced).ok());
  auto gone = netlink_->getExpectation(tuple);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone.value().has_value());
}

TEST_F(ConntrackOwnedTest, Ipv6RoutedConnectionIsAnchoredWithoutSeqadjAndItsExpectationWorks) {
  Child& server = keep(listenIn(serverNs_, ep("[2001:db8:1::10]:21")));
  ASSERT_EQ(server.line(), std::optional<std::string>("listening"));
  Child& client = keep(connectFrom(clientNs_, ep("[2001:db8:1::10]:21")));
  const std::uint16_t port = connectedPort(client);
  ASSERT_NE(port, 0);
  const auto entry = anchored(Endpoint{ip("2001:db8:77::10"), port});
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->status & (ct_status::kSrcNat | ct_status::kDstNat), 0u);

  TakeoverOptions options;
  auto dumped = dumpAnchoredConnections(*netlink_, options);
  ASSERT_TRUE(dumped.ok()) << dumped.error();
  ASSERT_EQ(dumped->size(), 1u);
  EXPECT_FALSE(dumped->front().flow.kernelSeqAdjust);

  Child& dataListener = keep(listenIn(clientNs_, ep("[2001:db8:77::10]:40005")));
  ASSERT_EQ(dataListener.line(), std::optional<std::string>("listening"));
  auto backend = ConntrackExpectBackend::open();
  ASSERT_TRUE(backend.ok()) << backend.error();
  Pinhole pinhole;
  pinhole.from = ip("2001:db8:1::10");
  pinhole.to = ep("[2001:db8:77::10]:40005");
  pinhole.controlNat = natOf(*entry);
  pinhole.announcedBy = Direction::ClientToServer;  // EPRT
  ASSERT_TRUE(backend.value()->open(pinhole).ok());
  Child& data = keep(connectFrom(serverNs_, ep("[2001:db8:77::10]:40005")));
  EXPECT_NE(connectedPort(data), 0);
  const auto accepted = dataListener.line();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->rfind("accepted [2001:db8:1::10]:", 0), 0u) << *accepted;
}

TEST_F(ConntrackOwnedTest, DestroyEventsReportAnchoredControlConnectionsOnly) {
  ConntrackEventsOptions options;
  options.controlMark = kControlMark;
  auto events = ConntrackDestroyEvents::open(options);
  ASSERT_TRUE(events.ok()) << events.error();
  const auto entry = masqueradedControlConnection();
  ASSERT_TRUE(entry.has_value());
  // An unanchored connection (no helper, no mark) and a marked one without helper (a data
  // connection inherits the mark) end too.
  run("conntrack -I -p tcp -s 192.168.77.10 -d 203.0.113.10 --sport 45000 --dport 21 --reply-src "
      "203.0.113.10 "
      "--reply-dst 203.0.113.1 --reply-port-src 21 --reply-port-dst 45000 --state ESTABLISHED --timeout 300");
  run("conntrack -I -p tcp -s 203.0.113.10 -d 203.0.113.1 --sport 20 --dport 30009 --reply-src 192.168.77.10 "
      "--reply-dst 203.0.113.10 --reply-port-src 40009 --reply-port-dst 20 --state ESTABLISHED --timeout 300 "
      "--mark 0x20000");
  run("conntrack -D -p tcp --sport 45000");
  run("conntrack -D -p tcp --dport 30009");
  run("conntrack -D -p tcp -s 192.168.77.10 --sport " + std::to_string(entry->original.src.port));

  std::vector<FlowKey> destroyed;
  for (int i = 0; i < 50 && destroyed.empty(); ++i) {
    auto read = events.value()->read([&](const FlowKey& key) { destroyed.push_back(key); });
    ASSERT_TRUE(read.ok()) << read.error();
    EXPECT_FALSE(read->lost);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(destroyed.size(), 1u);
  EXPECT_EQ(destroyed.front(), (FlowKey{entry->original.src, entry->reply.src}));
  // The kernel filter let the marked data connection through, the userspace check dropped it; the
  // unmarked connection never arrived.
  EXPECT_EQ(events.value()->counters().events, 2u);
  EXPECT_EQ(events.value()->counters().matched, 1u);
}

TEST_F(ConntrackOwnedTest, TheResolverNamesAnchoredFlowsKernelOwnedAndRefusesUnanchoredOnes) {
  const auto entry = masqueradedControlConnection();
  ASSERT_TRUE(entry.has_value());
  ConntrackResolverOptions options;
  options.conntrackOwned = true;
  options.controlMark = kControlMark;
  auto resolver = ConntrackResolver::open(options);
  ASSERT_TRUE(resolver.ok()) << resolver.error();
  resolver.value()->setQueueHook(QueueHook::Forward);
  const Endpoint clientReal = entry->original.src;
  const Endpoint server = ep("203.0.113.10:21");
  auto packet = [](const Endpoint& src, const Endpoint& dst) {
    ftpalg::testing::TcpPacketSpec spec;
    spec.src = src;
    spec.dst = dst;
    spec.payload = "x";
    return ftpalg::testing::buildTcpPacket(spec);
  };
  // mangle FORWARD shows the real endpoints in both directions.
  const auto s2cBytes = packet(server, clientReal);
  const auto s2c = resolver.value()->resolve(*PacketView::parse(s2cBytes));
  ASSERT_TRUE(s2c.has_value());
  EXPECT_EQ(s2c->direction, Direction::ServerToClient);
  EXPECT_EQ(s2c->key, (FlowKey{clientReal, server}));
  EXPECT_EQ(s2c->nat.clientSeenByServer.address, ip("203.0.113.1"));
  EXPECT_EQ(s2c->sequenceOwner, SequenceOwner::Kernel);
  EXPECT_TRUE(s2c->kernelSeqAdjust);
  const auto lookups = resolver.value()->counters().lookups;
  const auto c2sBytes = packet(clientReal, server);
  const auto c2s = resolver.value()->resolve(*PacketView::parse(c2sBytes));
  ASSERT_TRUE(c2s.has_value());
  EXPECT_EQ(c2s->direction, Direction::ClientToServer);
  EXPECT_EQ(resolver.value()->counters().lookups, lookups);  // the cached flow's other view

  run("conntrack -I -p tcp -s 192.168.77.10 -d 203.0.113.10 --sport 45001 --dport 21 --reply-src "
      "203.0.113.10 "
      "--reply-dst 203.0.113.1 --reply-port-src 21 --reply-port-dst 45001 --state ESTABLISHED --timeout 300");
  const auto unanchoredBytes = packet(ep("192.168.77.10:45001"), server);
  EXPECT_FALSE(resolver.value()->resolve(*PacketView::parse(unanchoredBytes)).has_value());
  EXPECT_EQ(resolver.value()->counters().unanchoredFlows, 1u);

  // In the engine-owned mode the anchored flow is left alone, like any helper's.
  auto engineOwned = ConntrackResolver::open(ConntrackResolverOptions{});
  ASSERT_TRUE(engineOwned.ok());
  engineOwned.value()->setQueueHook(QueueHook::Forward);
  EXPECT_FALSE(engineOwned.value()->resolve(*PacketView::parse(c2sBytes)).has_value());
  EXPECT_EQ(engineOwned.value()->counters().kernelHelperFlows, 1u);
}

// The conntrack-owned queue rules, installed with iptables and fed by a real control connection:
// the SYN-ACK and every segment with payload reach the queue, no pure ACK and no SYN does.
TEST_F(ConntrackOwnedTest, QueueRulesQueueTheSynAckAndPayloadOnlyOfAnchoredConnections) {
  firewall::QueueRuleSpec spec;
  spec.layout = firewall::QueueLayout::ConntrackOwned;
  spec.queueNum = 17;
  spec.controlMark = kControlMark;
  auto planned = firewall::QueueRules::plan(spec);
  ASSERT_TRUE(planned.ok()) << planned.error();
  ASSERT_EQ(planned->kind(), firewall::QueueRules::Kind::Iptables);
  NfqueueOptions queueOptions;
  queueOptions.queueNum = 17;
  auto source = NfqueueSource::open(queueOptions);
  ASSERT_TRUE(source.ok()) << source.error();
  ASSERT_TRUE(planned->install().ok());
  EXPECT_EQ(planned->description(), "iptables chain ftpalg-ct");

  Child& server = keep(listenIn(serverNs_, ep("203.0.113.10:21"),
                                {"220 ready\r\n", "331 password\r\n", "230 in\r\n", "221 bye\r\n"}));
  ASSERT_EQ(server.line(), std::optional<std::string>("listening"));
  Child& client =
      keep(connectFrom(clientNs_, ep("203.0.113.10:21"), {"USER a\r\n", "PASS b\r\n", "QUIT\r\n"}));

  struct Seen {
    std::uint8_t flags;
    std::size_t payload;
    QueueHook hook;
    std::uint16_t srcPort;
    std::uint32_t seq;
  };
  std::vector<Seen> seen;
  bool done = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done && std::chrono::steady_clock::now() < until) {
    pollfd p{source.value()->fd(), POLLIN, 0};
    if (::poll(&p, 1, 20) > 0) {
      auto received = source.value()->receive([&](const QueuedPacket& queued) {
        const auto view = PacketView::parse(queued.packet.ipPacket);
        if (view) {
          seen.push_back(
              Seen{view->flags(), view->payload().size(), queued.hook, view->srcPort(), view->seq().raw()});
        }
        (void)source.value()->verdicts().deliver(PacketVerdict{queued.packet.id, VerdictKind::Accept, {}});
      });
      ASSERT_TRUE(received.ok()) << received.error();
    }
    pollfd c{client.fd, POLLIN, 0};
    if (::poll(&c, 1, 0) > 0) {
      const auto line = client.line(100);
      if (line && *line == "done") done = true;
    }
  }
  EXPECT_TRUE(done) << "the FTP-like dialog did not complete through the queue";
  EXPECT_TRUE(planned->remove().ok());

  // Distinct segments: the server's FIN is not queued and may overtake the queued 221 (it then
  // arrives out of order and the server retransmits the 221: a second copy of the same segment).
  std::size_t synAcks = 0;
  std::set<std::pair<std::uint16_t, std::uint32_t>> segments;
  std::string trace;
  for (const Seen& packet : seen) {
    trace += " " + std::to_string(packet.srcPort) + ":" + std::to_string(packet.seq) + "/" +
             std::to_string(packet.payload) + "/flags=" + std::to_string(packet.flags);
    EXPECT_EQ(packet.hook, QueueHook::Forward);
    EXPECT_EQ(packet.flags & tcp_flags::kRst, 0);
    if ((packet.flags & (tcp_flags::kSyn | tcp_flags::kAck)) == (tcp_flags::kSyn | tcp_flags::kAck)) {
      ++synAcks;
    } else {
      EXPECT_GT(packet.payload, 0u) << "a segment without payload was queued, flags " << int(packet.flags);
      segments.emplace(packet.srcPort, packet.seq);
    }
  }
  EXPECT_EQ(synAcks, 1u) << trace;
  EXPECT_EQ(segments.size(), 7u) << trace;  // 220, USER, 331, PASS, 230, QUIT, 221
}

}  // namespace
}  // namespace ftpalg::io
