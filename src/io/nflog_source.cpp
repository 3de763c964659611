// NflogSource: see nflog_source.hpp for the contracts.
#include "nflog_source.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ftpalg::io {

namespace {

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

// A whole 64 KiB copy plus the attributes around it.
constexpr std::size_t kReceiveBuffer = 0xffff + 8192;

nlmsghdr* putConfigHeader(char* buffer, std::uint16_t group, std::uint32_t seq) {
  nlmsghdr* header = mnl_nlmsg_put_header(buffer);
  header->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  header->nlmsg_seq = seq;
  auto* generic = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
  generic->nfgen_family = AF_UNSPEC;
  generic->version = NFNETLINK_V0;
  generic->res_id = htons(group);
  return header;
}

}  // namespace

struct NflogSource::Impl {
  NflogOptions options;
  MnlSocket socket;
  std::uint32_t portId = 0;
  std::uint32_t seq = 1;
  std::vector<char> buffer = std::vector<char>(kReceiveBuffer);
  PacketId nextId = 1;
  std::uint64_t overruns = 0;
  std::uint64_t kernelErrors = 0;
  std::string lastKernelError;

  // Sends one config message and waits for its acknowledgement: 0 or the errno.
  int configure(const std::function<void(nlmsghdr*)>& fill) {
    std::vector<char> request(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* header = putConfigHeader(request.data(), options.group, seq++);
    fill(header);
    if (mnl_socket_sendto(socket.get(), header, header->nlmsg_len) < 0) return errno;
    for (;;) {
      const ssize_t got = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
      if (got < 0) return errno == EINTR ? EINTR : errno;
      const auto* answer = reinterpret_cast<const nlmsghdr*>(buffer.data());
      int left = static_cast<int>(got);
      for (; mnl_nlmsg_ok(answer, left); answer = mnl_nlmsg_next(answer, &left)) {
        if (answer->nlmsg_type == NLMSG_ERROR && answer->nlmsg_seq == header->nlmsg_seq) {
          const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(answer));
          return -error->error;
        }
      }
    }
  }
};

NflogSource::NflogSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NflogSource::~NflogSource() {
  if (!impl_ || !impl_->socket) return;
  (void)impl_->configure([](nlmsghdr* header) {
    mnl_attr_put_u8(header, NFULA_CFG_CMD, NFULNL_CFG_CMD_UNBIND);  // nfulnl_msg_config_cmd: one u8
  });
}

Result<std::unique_ptr<NflogSource>> NflogSource::open(const NflogOptions& options) {
  const std::string where = "NFLOG group " + std::to_string(options.group);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->socket.reset(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
  if (!impl->socket) return Err(where + ": netlink socket: " + std::strerror(errno));
  if (mnl_socket_bind(impl->socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Err(where + ": netlink bind: " + std::strerror(errno));
  }
  impl->portId = mnl_socket_get_portid(impl->socket.get());
  const int fd = mnl_socket_get_fd(impl->socket.get());
  // A bounded wait for the config acknowledgements only (receive() never blocks).
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  int size = options.socketBufferBytes;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  if (const int error = impl->configure(
          [](nlmsghdr* header) { mnl_attr_put_u8(header, NFULA_CFG_CMD, NFULNL_CFG_CMD_BIND); });
      error != 0) {
    if (error == EBUSY || error == EEXIST) {
      return Err(where +
                 " is bound by another process (another ftpalg --dry-run, ulogd?): choose another with "
                 "--nflog-group");
    }
    if (error == EPERM) return Err(where + ": binding needs CAP_NET_ADMIN");
    return Err(where + ": binding: " + std::strerror(error));
  }
  if (const int error = impl->configure([](nlmsghdr* header) {
        nfulnl_msg_config_mode mode{};
        mode.copy_range = htonl(0xffff);
        mode.copy_mode = NFULNL_COPY_PACKET;
        mnl_attr_put(header, NFULA_CFG_MODE, sizeof mode, &mode);
        mnl_attr_put_u32(header, NFULA_CFG_QTHRESH, htonl(1));
        mnl_attr_put_u32(header, NFULA_CFG_TIMEOUT, htonl(1));
      });
      error != 0) {
    return Err(where + ": configuring the copy mode: " + std::strerror(error));
  }
  timeval none{0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  return std::unique_ptr<NflogSource>(new NflogSource(std::move(impl)));
}

int NflogSource::fd() const { return mnl_socket_get_fd(impl_->socket.get()); }
std::uint16_t NflogSource::group() const { return impl_->options.group; }
std::uint64_t NflogSource::overruns() const { return impl_->overruns; }
std::uint64_t NflogSource::kernelErrors() const { return impl_->kernelErrors; }
const std::string& NflogSource::lastKernelError() const { return impl_->lastKernelError; }

Result<std::size_t> NflogSource::receive(const std::function<void(const QueuedPacket&)>& onPacket) {
  Impl& impl = *impl_;
  std::size_t delivered = 0;
  // Bounded per call, so a flood cannot keep the worker from its timers.
  for (int round = 0; round < 64; ++round) {
    const ssize_t got = ::recv(fd(), impl.buffer.data(), impl.buffer.size(), MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        ++impl.overruns;
        continue;
      }
      return Err("NFLOG group " + std::to_string(impl.options.group) + ": receive: " + std::strerror(errno));
    }
    auto* header = reinterpret_cast<nlmsghdr*>(impl.buffer.data());
    int left = static_cast<int>(got);
    for (; mnl_nlmsg_ok(header, left); header = mnl_nlmsg_next(header, &left)) {
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(header));
        if (error->error != 0) {
          ++impl.kernelErrors;
          impl.lastKernelError = std::string("the kernel answered ") + std::strerror(-error->error);
        }
        continue;
      }
      if (NFNL_SUBSYS_ID(header->nlmsg_type) != NFNL_SUBSYS_ULOG ||
          NFNL_MSG_TYPE(header->nlmsg_type) != NFULNL_MSG_PACKET) {
        continue;
      }
      const nlattr* attributes[NFULA_MAX + 1] = {};
      const auto store = [](const nlattr* attribute, void* data) {
        const int type = mnl_attr_get_type(attribute);
        if (type >= 0 && type <= NFULA_MAX) static_cast<const nlattr**>(data)[type] = attribute;
        return MNL_CB_OK;
      };
      if (mnl_attr_parse(header, sizeof(nfgenmsg), store, attributes) < 0) continue;
      if (attributes[NFULA_PAYLOAD] == nullptr) continue;
      QueuedPacket queued;
      if (attributes[NFULA_PACKET_HDR] != nullptr &&
          mnl_attr_get_payload_len(attributes[NFULA_PACKET_HDR]) >= sizeof(nfulnl_msg_packet_hdr)) {
        const auto* packetHeader =
            static_cast<const nfulnl_msg_packet_hdr*>(mnl_attr_get_payload(attributes[NFULA_PACKET_HDR]));
        queued.hook = packetHeader->hook <= NF_INET_POST_ROUTING ? static_cast<QueueHook>(packetHeader->hook)
                                                                 : QueueHook::Unknown;
      }
      const auto* payload = static_cast<const std::uint8_t*>(mnl_attr_get_payload(attributes[NFULA_PAYLOAD]));
      const std::size_t length = mnl_attr_get_payload_len(attributes[NFULA_PAYLOAD]);
      queued.packet.id = impl.nextId++;
      queued.packet.ipPacket = std::span<const std::uint8_t>(payload, length);
      // The IP header's own length: a shorter copy was cut by a rule's size limit.
      if (length >= 20 && (payload[0] >> 4) == 4) {
        queued.truncated = length < (static_cast<std::size_t>(payload[2]) << 8 | payload[3]);
      } else if (length >= 40 && (payload[0] >> 4) == 6) {
        queued.truncated = length < 40 + (static_cast<std::size_t>(payload[4]) << 8 | payload[5]);
      }
      // A truncated copy is handed on as not-a-candidate, as NfqueueSource does.
      queued.packet.controlCandidate =
          !queued.truncated && length > 0 && ((payload[0] >> 4) == 4 || (payload[0] >> 4) == 6);
      onPacket(queued);
      ++delivered;
    }
  }
  return delivered;
}

}  // namespace ftpalg::io
