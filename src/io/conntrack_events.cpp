// ConntrackDestroyEvents: see conntrack_events.hpp.
#include "conntrack_events.hpp"

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/conntrack_netlink.hpp"

namespace ftpalg::io {

namespace {

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
struct FilterDeleter {
  void operator()(nfct_filter* filter) const { nfct_filter_destroy(filter); }
};

}  // namespace

struct ConntrackDestroyEvents::Impl {
  std::unique_ptr<mnl_socket, MnlSocketDeleter> socket;
  ConntrackEventsOptions options;
  std::vector<char> buffer = std::vector<char>(65536);
};

ConntrackDestroyEvents::ConntrackDestroyEvents(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConntrackDestroyEvents::~ConntrackDestroyEvents() = default;

Result<std::unique_ptr<ConntrackDestroyEvents>> ConntrackDestroyEvents::open(
    const ConntrackEventsOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->socket.reset(mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!impl->socket) return Err(std::string("conntrack event socket: ") + std::strerror(errno));
  if (mnl_socket_bind(impl->socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Err(std::string("conntrack event socket: bind: ") + std::strerror(errno));
  }
  const int fd = mnl_socket_get_fd(impl->socket.get());
  // The kernel filter first, then the subscription: nothing unfiltered is ever queued.
  std::unique_ptr<nfct_filter, FilterDeleter> filter(nfct_filter_create());
  if (!filter) return Err(std::string("conntrack event filter: ") + std::strerror(errno));
  nfct_filter_add_attr_u32(filter.get(), NFCT_FILTER_L4PROTO, IPPROTO_TCP);
  nfct_filter_dump_mark mark{options.controlMark, options.controlMark};  // (mark & mask) == val
  nfct_filter_add_attr(filter.get(), NFCT_FILTER_MARK, &mark);
  if (nfct_filter_attach(fd, filter.get()) < 0) {
    return Err(std::string("conntrack event filter: attach: ") + std::strerror(errno));
  }
  int group = NFNLGRP_CONNTRACK_DESTROY;
  if (mnl_socket_setsockopt(impl->socket.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
    return Err(std::string("conntrack event socket: joining NFNLGRP_CONNTRACK_DESTROY: ") +
               std::strerror(errno));
  }
  // A bigger buffer than the default makes losses rare; ENOBUFS still reports one.
  const int size = options.receiveBufferBytes;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  return std::unique_ptr<ConntrackDestroyEvents>(new ConntrackDestroyEvents(std::move(impl)));
}

int ConntrackDestroyEvents::fd() const { return mnl_socket_get_fd(impl_->socket.get()); }

Result<ConntrackDestroyEvents::ReadResult> ConntrackDestroyEvents::read(
    const std::function<void(const FlowKey&, const ConntrackEntry&)>& onDestroyed) {
  ReadResult result;
  const auto& ports = impl_->options.controlPorts;
  for (;;) {
    const ssize_t got = mnl_socket_recvfrom(impl_->socket.get(), impl_->buffer.data(), impl_->buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return result;
      if (errno == ENOBUFS) {  // the kernel dropped events; the socket stays usable
        ++counters_.lost;
        result.lost = true;
        continue;
      }
      return Err(std::string("conntrack events: ") + std::strerror(errno));
    }
    int remaining = static_cast<int>(got);
    for (auto* message = reinterpret_cast<const nlmsghdr*>(impl_->buffer.data());
         mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
      if (NFNL_SUBSYS_ID(message->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
          NFNL_MSG_TYPE(message->nlmsg_type) != IPCTNL_MSG_CT_DELETE) {
        continue;
      }
      ++counters_.events;
      const auto entry = parseConntrackMessage(message);
      if (!entry || (entry->status & ct_status::kHelper) == 0 ||
          (entry->mark & impl_->options.controlMark) == 0 ||
          std::find(ports.begin(), ports.end(), entry->reply.src.port) == ports.end()) {
        continue;
      }
      ++counters_.matched;
      ++result.destroyed;
      onDestroyed(FlowKey{entry->original.src, entry->reply.src}, *entry);
    }
  }
}

}  // namespace ftpalg::io
