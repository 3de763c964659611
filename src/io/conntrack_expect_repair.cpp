// ReplicatedExpectationRepair: see conntrack_expect_repair.hpp.
#include "conntrack_expect_repair.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ftpalg::io {

bool lacksNat(const ExpectationEntry& expectation) {
  return !expectation.natDir && expectation.function.empty();
}

Result<ExpectationRequest> natRequestFor(const ExpectationEntry& replicated, const ConntrackEntry& master) {
  const ConntrackTuple& tuple = replicated.tuple;
  const auto pinhole = [&] {
    return "pinhole " + tuple.src.address.toString() + " -> " + tuple.dst.toString() + " of " +
           master.original.toString();
  };
  if (replicated.master != master.original) {
    return Err(pinhole() + ": the expectation's master is " + replicated.master.toString());
  }
  ExpectationRequest request;
  request.master = master.original;
  request.tuple = ConntrackTuple{Endpoint{tuple.src.address, 0}, tuple.dst};
  // Inside port = public port (conntrack_expect_repair.hpp: the engine's choice when free).
  request.natPort = tuple.dst.port;
  request.timeoutSeconds = std::max<std::uint32_t>(replicated.timeoutSeconds, 1);
  const bool serverConnects =
      tuple.src.address == master.reply.src.address && tuple.dst.address == master.reply.dst.address;
  const bool clientConnects =
      tuple.src.address == master.original.src.address && tuple.dst.address == master.original.dst.address;
  if (serverConnects == clientConnects) {  // neither, or both (client and server share an address)
    return Err(pinhole() + ": fits " + (serverConnects ? "both directions" : "neither direction") +
               " of the control connection");
  }
  // nat-follow-master maps the data connection to the master's tuplehash[!natDir]:
  // REPLY -> the ORIGINAL source (the client, PORT/EPRT), ORIGINAL -> the REPLY source (the server).
  request.natDir = serverConnects ? ConntrackDir::Reply : ConntrackDir::Original;
  return request;
}

namespace {

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};

}  // namespace

struct ReplicatedExpectationRepair::Impl {
  std::unique_ptr<mnl_socket, MnlSocketDeleter> socket;
  std::unique_ptr<ConntrackNetlink> netlink;  // GET of the master, delete, create, dump
  TakeoverOptions anchor;
  std::vector<char> buffer = std::vector<char>(65536);
};

ReplicatedExpectationRepair::ReplicatedExpectationRepair(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ReplicatedExpectationRepair::~ReplicatedExpectationRepair() = default;

Result<std::unique_ptr<ReplicatedExpectationRepair>> ReplicatedExpectationRepair::open(
    const TakeoverOptions& anchor) {
  auto impl = std::make_unique<Impl>();
  impl->anchor = anchor;
  auto netlink = ConntrackNetlink::open();
  if (!netlink) return Err(netlink.error());
  impl->netlink = std::move(netlink.value());
  impl->socket.reset(mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!impl->socket) return Err(std::string("expectation event socket: ") + std::strerror(errno));
  if (mnl_socket_bind(impl->socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Err(std::string("expectation event socket: bind: ") + std::strerror(errno));
  }
  int group = NFNLGRP_CONNTRACK_EXP_NEW;
  if (mnl_socket_setsockopt(impl->socket.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
    return Err(std::string("expectation event socket: joining NFNLGRP_CONNTRACK_EXP_NEW: ") +
               std::strerror(errno));
  }
  return std::unique_ptr<ReplicatedExpectationRepair>(new ReplicatedExpectationRepair(std::move(impl)));
}

int ReplicatedExpectationRepair::fd() const { return mnl_socket_get_fd(impl_->socket.get()); }

void ReplicatedExpectationRepair::consider(const ExpectationEntry& expectation, const Reporter& report) {
  if (!lacksNat(expectation)) return;
  const std::string name = "replicated pinhole " + expectation.tuple.src.address.toString() + " -> " +
                           expectation.tuple.dst.toString();
  const auto lost = [&](const std::string& why) {
    ++counters_.lost;
    report(name + " lost (its data connection will fail): " + why, true);
  };
  auto master = impl_->netlink->get(expectation.master, ConntrackDir::Original);
  if (!master) return lost(master.error().message);
  // Gone since (the expectation went with it), or not ftpalg's: nothing to do.
  if (!master.value() || !takeoverOf(*master.value(), impl_->anchor)) return;
  const ConntrackEntry& entry = *master.value();
  if ((entry.status & (ct_status::kSrcNat | ct_status::kDstNat)) == 0) return;  // routed: works as it is
  auto request = natRequestFor(expectation, entry);
  if (!request) return lost(request.error());
  if (auto deleted = impl_->netlink->deleteExpectation(expectation.tuple, expectation.id);
      !deleted && deleted.error().code != ENOENT) {
    return lost(deleted.error().message);
  } else if (!deleted) {
    return;  // used or expired meanwhile
  }
  if (auto created = impl_->netlink->createExpectation(*request); !created) {
    return lost(created.error().message);
  }
  ++counters_.repaired;
  report(name + " of " + entry.original.toString() + " re-created with NAT to " +
             (request->natDir == ConntrackDir::Reply ? entry.original.src.address : entry.reply.src.address)
                 .toString() +
             ":" + std::to_string(request->natPort),
         false);
}

Status<> ReplicatedExpectationRepair::repairAll(const Reporter& report) {
  auto all = impl_->netlink->dumpExpectations();
  if (!all) return Err("repairing replicated expectations: " + all.error().message);
  for (const ExpectationEntry& expectation : all.value()) consider(expectation, report);
  return okStatus();
}

Status<> ReplicatedExpectationRepair::read(const Reporter& report) {
  bool overrun = false;
  std::vector<ExpectationEntry> fresh;
  for (;;) {
    const ssize_t got = mnl_socket_recvfrom(impl_->socket.get(), impl_->buffer.data(), impl_->buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        ++counters_.eventsLost;
        overrun = true;
        continue;
      }
      return Err(std::string("expectation events: ") + std::strerror(errno));
    }
    int remaining = static_cast<int>(got);
    for (auto* message = reinterpret_cast<const nlmsghdr*>(impl_->buffer.data());
         mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
      if (NFNL_SUBSYS_ID(message->nlmsg_type) != NFNL_SUBSYS_CTNETLINK_EXP ||
          NFNL_MSG_TYPE(message->nlmsg_type) != IPCTNL_MSG_EXP_NEW) {
        continue;
      }
      ++counters_.events;
      if (auto expectation = parseExpectationMessage(message)) fresh.push_back(std::move(*expectation));
    }
  }
  // Requests only after the socket is drained: the answers come on the other socket, but the
  // repairs' own EXP_NEW events come back here (with NAT: skipped).
  if (overrun) return repairAll(report);
  for (const ExpectationEntry& expectation : fresh) consider(expectation, report);
  return okStatus();
}

}  // namespace ftpalg::io
