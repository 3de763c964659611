// NfqueueSource: see nfqueue_source.hpp for the contracts.
#include "nfqueue_source.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "ftpalg/packet/checksum.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg::io {

namespace {

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

// Room for a whole 64 KiB packet plus the netlink/nfqueue attributes around it.
constexpr std::size_t kDatagramBuffer = 0xffff + 8192;

std::uint32_t readBe32(const void* data) {
  std::uint32_t value;
  std::memcpy(&value, data, sizeof value);
  return ntohl(value);
}

// Completes a partial (CHECKSUM_PARTIAL) TCP checksum in place. Returns false when the packet is
// not TCP over IPv4/IPv6 (left untouched).
bool completeTcpChecksum(std::span<std::uint8_t> packet) {
  const auto view = PacketView::parse(packet);
  if (!view) return false;
  const std::size_t tcpLength = view->ipPacket().size() - view->tcpOffset();
  std::span<std::uint8_t> segment = packet.subspan(view->tcpOffset(), tcpLength);
  segment[16] = 0;
  segment[17] = 0;
  const std::uint16_t sum = checksum::tcpChecksum(view->srcAddress(), view->dstAddress(), segment);
  segment[16] = static_cast<std::uint8_t>(sum >> 8);
  segment[17] = static_cast<std::uint8_t>(sum & 0xff);
  return true;
}

std::string errnoText(int error) { return std::strerror(error); }

}  // namespace

std::optional<std::uint32_t> queueBoundBy(std::uint16_t queueNum) {
  // Each line: queue_number peer_portid queue_total copy_mode copy_range queue_dropped
  //            user_dropped id_sequence 1
  std::ifstream file("/proc/net/netfilter/nfnetlink_queue");
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    unsigned queue = 0;
    std::uint32_t portId = 0;
    if (fields >> queue >> portId && queue == queueNum) return portId;
  }
  return std::nullopt;
}

// --- the sink ----------------------------------------------------------------------------------

class NfqueueVerdictSink final : public VerdictSink {
 public:
  explicit NfqueueVerdictSink(NfqueueSource::Impl& impl) : impl_(impl) {}
  Status<> deliver(const PacketVerdict& verdict) override;

 private:
  NfqueueSource::Impl& impl_;
};

struct NfqueueSource::Impl {
  NfqueueOptions options;
  MnlSocket socket;
  std::uint32_t portId = 0;
  Counters counters;
  std::string lastKernelError;
  std::vector<std::vector<char>> buffers;
  std::vector<mmsghdr> headers;
  std::vector<iovec> iovecs;
  std::vector<char> verdictBuffer = std::vector<char>(kDatagramBuffer);
  std::unique_ptr<NfqueueVerdictSink> sink;

  // Returns 0 or the errno of the failure.
  int sendConfig(std::uint8_t command, bool withParameters) {
    std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* header = nfq_nlmsg_put(buffer.data(), NFQNL_MSG_CONFIG, options.queueNum);
    // nfq_nlmsg_cfg_put_cmd's family argument is ignored by current kernels (PF_(UN)BIND are
    // no-ops since Linux 3.8); AF_UNSPEC states that.
    nfq_nlmsg_cfg_put_cmd(header, AF_UNSPEC, command);
    if (withParameters) {
      nfq_nlmsg_cfg_put_params(header, NFQNL_COPY_PACKET, 0xffff);
      nfq_nlmsg_cfg_put_qmaxlen(header, options.maxQueueLength);
      const std::uint32_t flags = NFQA_CFG_F_GSO | (options.failOpen ? NFQA_CFG_F_FAIL_OPEN : 0);
      const std::uint32_t mask = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;
      mnl_attr_put_u32(header, NFQA_CFG_FLAGS, htonl(flags));
      mnl_attr_put_u32(header, NFQA_CFG_MASK, htonl(mask));
    }
    header->nlmsg_flags |= NLM_F_ACK;
    header->nlmsg_seq = static_cast<std::uint32_t>(::time(nullptr));
    if (mnl_socket_sendto(socket.get(), header, header->nlmsg_len) < 0) return errno;
    // The queue rules are not installed yet when the daemon binds, so the only answer is the ack.
    // (At unbind, packets may still be pending: skip them until the ack.)
    for (;;) {
      const ssize_t got = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
      if (got < 0) return errno;
      const int rc = mnl_cb_run(buffer.data(), static_cast<std::size_t>(got), header->nlmsg_seq, portId,
                                nullptr, nullptr);
      if (rc < 0) {
        if (errno == EPROTO || errno == ESRCH) continue;  // a packet message, not our answer
        return errno;
      }
      return 0;
    }
  }

  void handleMessage(const nlmsghdr* header, const std::function<void(const QueuedPacket&)>& onPacket,
                     std::size_t& delivered) {
    if (header->nlmsg_type == NLMSG_ERROR) {
      // An answer to one of our verdicts (we never request acks for them, so only failures
      // arrive), e.g. ENOENT for an unknown packet id.
      const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(header));
      if (error->error != 0) {
        ++counters.kernelErrors;
        lastKernelError = "verdict refused by the kernel: " + errnoText(-error->error);
      }
      return;
    }
    if ((header->nlmsg_type & 0xff) != NFQNL_MSG_PACKET) return;
    nlattr* attributes[NFQA_MAX + 1] = {};
    if (nfq_nlmsg_parse(header, attributes) < 0) return;
    if (!attributes[NFQA_PACKET_HDR] || !attributes[NFQA_PAYLOAD]) return;
    const auto* packetHeader =
        static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attributes[NFQA_PACKET_HDR]));
    QueuedPacket queued;
    queued.packet.id = ntohl(packetHeader->packet_id);
    queued.hook = packetHeader->hook <= NF_INET_POST_ROUTING ? static_cast<QueueHook>(packetHeader->hook)
                                                             : QueueHook::Unknown;
    auto* payload = static_cast<std::uint8_t*>(mnl_attr_get_payload(attributes[NFQA_PAYLOAD]));
    const std::size_t length = mnl_attr_get_payload_len(attributes[NFQA_PAYLOAD]);
    if (attributes[NFQA_CAP_LEN] && readBe32(mnl_attr_get_payload(attributes[NFQA_CAP_LEN])) > length) {
      queued.truncated = true;
      ++counters.truncated;
    }
    if (attributes[NFQA_SKB_INFO] &&
        (readBe32(mnl_attr_get_payload(attributes[NFQA_SKB_INFO])) & NFQA_SKB_CSUMNOTREADY) &&
        !queued.truncated) {
      if (completeTcpChecksum(std::span<std::uint8_t>(payload, length))) {
        queued.checksumCompleted = true;
        ++counters.checksumsCompleted;
      }
    }
    queued.packet.ipPacket = std::span<const std::uint8_t>(payload, length);
    // A truncated packet is handed on as not-a-candidate: it is accepted untouched.
    queued.packet.controlCandidate =
        !queued.truncated && length > 0 && ((payload[0] >> 4) == 4 || (payload[0] >> 4) == 6);
    ++counters.packets;
    ++delivered;
    onPacket(queued);
  }
};

Status<> NfqueueVerdictSink::deliver(const PacketVerdict& verdict) {
  auto& impl = impl_;
  const bool modified = verdict.kind == VerdictKind::AcceptModified;
  if (modified && verdict.bytes.size() > 0xffff) {
    return Err("verdict for packet " + std::to_string(verdict.id) + ": modified packet of " +
               std::to_string(verdict.bytes.size()) + " bytes exceeds 65535");
  }
  nlmsghdr* header = nfq_nlmsg_put(impl.verdictBuffer.data(), NFQNL_MSG_VERDICT, impl.options.queueNum);
  nfq_nlmsg_verdict_put(header, static_cast<int>(verdict.id),
                        verdict.kind == VerdictKind::Drop ? NF_DROP : NF_ACCEPT);
  if (modified) {
    nfq_nlmsg_verdict_put_pkt(header, verdict.bytes.data(), static_cast<std::uint32_t>(verdict.bytes.size()));
  }
  while (mnl_socket_sendto(impl.socket.get(), header, header->nlmsg_len) < 0) {
    if (errno == EINTR) continue;
    ++impl.counters.verdictSendErrors;
    return Err("verdict for packet " + std::to_string(verdict.id) + " on queue " +
               std::to_string(impl.options.queueNum) + ": " + errnoText(errno));
  }
  ++impl.counters.verdictsSent;
  return okStatus();
}

// --- the source --------------------------------------------------------------------------------

NfqueueSource::NfqueueSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NfqueueSource::~NfqueueSource() {
  // Closing the socket alone would also release the queue; unbinding states it.
  if (impl_ && impl_->socket) (void)impl_->sendConfig(NFQNL_CFG_CMD_UNBIND, false);
}

Result<std::unique_ptr<NfqueueSource>> NfqueueSource::open(const NfqueueOptions& options) {
  const std::string what = "NFQUEUE queue " + std::to_string(options.queueNum);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->socket.reset(mnl_socket_open(NETLINK_NETFILTER));
  if (!impl->socket) return Err(what + ": cannot open a netfilter netlink socket: " + errnoText(errno));
  if (mnl_socket_bind(impl->socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Err(what + ": netlink bind: " + errnoText(errno));
  }
  impl->portId = mnl_socket_get_portid(impl->socket.get());
  const int fd = mnl_socket_get_fd(impl->socket.get());
  // A large receive buffer absorbs bursts: a message the socket cannot take is lost (ENOBUFS) and
  // its packet waits in the kernel without a verdict. SO_RCVBUFFORCE ignores rmem_max (needs
  // CAP_NET_ADMIN); fall back to SO_RCVBUF.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &options.socketBufferBytes, sizeof(int)) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.socketBufferBytes, sizeof(int));
  }

  // nfqueue: bind queue N, copy whole packets, max length, flags GSO (+ FAIL_OPEN) — the
  // equivalent of what `iptables -j NFQUEUE --queue-num N` expects a listener to do.
  if (const int error = impl->sendConfig(NFQNL_CFG_CMD_BIND, true); error != 0) {
    if (const auto holder = queueBoundBy(options.queueNum); holder && *holder != impl->portId) {
      return Err(what + " is already bound by another process (netlink port id " + std::to_string(*holder) +
                 ", usually its pid): stop it or choose another --queue");
    }
    if (error == EPERM) {
      return Err(what + ": permission denied: binding a queue needs root or CAP_NET_ADMIN");
    }
    return Err(what + ": bind failed: " + errnoText(error));
  }

  impl->buffers.assign(std::max(1u, options.batchSize), std::vector<char>(kDatagramBuffer));
  impl->headers.resize(impl->buffers.size());
  impl->iovecs.resize(impl->buffers.size());
  impl->sink = std::make_unique<NfqueueVerdictSink>(*impl);
  return std::unique_ptr<NfqueueSource>(new NfqueueSource(std::move(impl)));
}

int NfqueueSource::fd() const { return mnl_socket_get_fd(impl_->socket.get()); }
std::uint16_t NfqueueSource::queueNum() const { return impl_->options.queueNum; }
VerdictSink& NfqueueSource::verdicts() { return *impl_->sink; }
const NfqueueSource::Counters& NfqueueSource::counters() const { return impl_->counters; }
const std::string& NfqueueSource::lastKernelError() const { return impl_->lastKernelError; }

Result<std::size_t> NfqueueSource::receive(const std::function<void(const QueuedPacket&)>& onPacket) {
  Impl& impl = *impl_;
  const std::size_t count = impl.buffers.size();
  for (std::size_t i = 0; i < count; ++i) {
    impl.iovecs[i] = iovec{impl.buffers[i].data(), impl.buffers[i].size()};
    impl.headers[i] = mmsghdr{};
    impl.headers[i].msg_hdr.msg_iov = &impl.iovecs[i];
    impl.headers[i].msg_hdr.msg_iovlen = 1;
  }
  int got;
  do {
    got = ::recvmmsg(fd(), impl.headers.data(), static_cast<unsigned>(count), MSG_DONTWAIT, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
    if (errno == ENOBUFS) {
      ++impl.counters.overruns;
      return std::size_t{0};
    }
    return Err("NFQUEUE queue " + std::to_string(impl.options.queueNum) + ": receive: " + errnoText(errno));
  }
  std::size_t delivered = 0;
  for (int i = 0; i < got; ++i) {
    ++impl.counters.datagrams;
    int remaining = static_cast<int>(impl.headers[static_cast<std::size_t>(i)].msg_len);
    const auto* header = reinterpret_cast<const nlmsghdr*>(impl.buffers[static_cast<std::size_t>(i)].data());
    while (mnl_nlmsg_ok(header, remaining)) {
      impl.handleMessage(header, onPacket, delivered);
      header = mnl_nlmsg_next(header, &remaining);
    }
  }
  return delivered;
}

}  // namespace ftpalg::io
