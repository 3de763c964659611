// RulesetMonitor: see ruleset_monitor.hpp.
#include "ruleset_monitor.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace ftpalg::firewall {

namespace {

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

constexpr int kReceiveBufferBytes = 8 * 1024 * 1024;
// Larger than the largest nf_tables message (a set element list: a little over 64 KiB), with
// room for the kernel's coalesced notifications.
constexpr std::size_t kReadBufferBytes = 256 * 1024;
constexpr int kMaxAttribute = 32;

using Attributes = const nlattr * [kMaxAttribute + 1];

int storeAttribute(const nlattr* attribute, void* data) {
  const int type = mnl_attr_get_type(attribute);
  if (type >= 0 && type <= kMaxAttribute) static_cast<const nlattr**>(data)[type] = attribute;
  return MNL_CB_OK;
}

std::string stringAttribute(const nlattr* attribute) {
  if (attribute == nullptr) return {};
  const auto* text = static_cast<const char*>(mnl_attr_get_payload(attribute));
  return std::string(text, ::strnlen(text, mnl_attr_get_payload_len(attribute)));
}

std::uint32_t be32Attribute(const nlattr* attribute) {
  if (attribute == nullptr || mnl_attr_get_payload_len(attribute) < 4) return 0;
  std::uint32_t value;
  std::memcpy(&value, mnl_attr_get_payload(attribute), 4);
  return ntohl(value);
}

// The table/chain attributes of each kind of message (NFTA_*_TABLE, NFTA_*_CHAIN, ...).
struct Layout {
  RulesetChange::Object object;
  bool deleted;
  int tableAttribute;
  int chainAttribute;  // -1: none
};

std::optional<Layout> layoutOf(int message) {
  using O = RulesetChange::Object;
  switch (message) {
    case NFT_MSG_NEWTABLE: return Layout{O::Table, false, NFTA_TABLE_NAME, -1};
    case NFT_MSG_DELTABLE: return Layout{O::Table, true, NFTA_TABLE_NAME, -1};
    case NFT_MSG_NEWCHAIN: return Layout{O::Chain, false, NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME};
    case NFT_MSG_DELCHAIN: return Layout{O::Chain, true, NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME};
    case NFT_MSG_NEWRULE: return Layout{O::Rule, false, NFTA_RULE_TABLE, NFTA_RULE_CHAIN};
    case NFT_MSG_DELRULE: return Layout{O::Rule, true, NFTA_RULE_TABLE, NFTA_RULE_CHAIN};
    case NFT_MSG_NEWSET: return Layout{O::Set, false, NFTA_SET_TABLE, -1};
    case NFT_MSG_DELSET: return Layout{O::Set, true, NFTA_SET_TABLE, -1};
    case NFT_MSG_NEWSETELEM: return Layout{O::Element, false, NFTA_SET_ELEM_LIST_TABLE, -1};
    case NFT_MSG_DELSETELEM: return Layout{O::Element, true, NFTA_SET_ELEM_LIST_TABLE, -1};
    case NFT_MSG_NEWOBJ: return Layout{O::StatefulObject, false, NFTA_OBJ_TABLE, -1};
    case NFT_MSG_DELOBJ: return Layout{O::StatefulObject, true, NFTA_OBJ_TABLE, -1};
    default: return std::nullopt;
  }
}

}  // namespace

struct RulesetMonitor::Impl {
  MnlSocket socket;
  std::vector<char> buffer = std::vector<char>(kReadBufferBytes);
  RulesetTransaction pending;  // the changes of the transaction whose NEWGEN has not arrived

  void parse(const nlmsghdr* header, Batch& batch) {
    if (NFNL_SUBSYS_ID(header->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return;
    const int message = NFNL_MSG_TYPE(header->nlmsg_type);
    if (header->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) return;
    const auto* generic = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(header));
    Attributes attributes{};
    if (mnl_attr_parse(header, sizeof(nfgenmsg), storeAttribute, attributes) < 0) return;
    if (message == NFT_MSG_NEWGEN) {
      pending.generation = be32Attribute(attributes[NFTA_GEN_ID]);
      pending.pid = be32Attribute(attributes[NFTA_GEN_PROC_PID]);
      pending.process = stringAttribute(attributes[NFTA_GEN_PROC_NAME]);
      batch.transactions.push_back(std::move(pending));
      pending = RulesetTransaction{};
      return;
    }
    const auto layout = layoutOf(message);
    if (!layout || !layout->deleted || layout->object == RulesetChange::Object::Element) return;
    RulesetChange change;
    change.object = layout->object;
    change.deleted = true;
    change.family = generic->nfgen_family;
    change.table = stringAttribute(attributes[layout->tableAttribute]);
    if (layout->chainAttribute >= 0) change.chain = stringAttribute(attributes[layout->chainAttribute]);
    pending.changes.push_back(std::move(change));
  }
};

RulesetMonitor::RulesetMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RulesetMonitor::~RulesetMonitor() = default;

Result<std::unique_ptr<RulesetMonitor>> RulesetMonitor::open() {
  auto impl = std::make_unique<Impl>();
  impl->socket.reset(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!impl->socket) return Err(std::string("nf_tables monitor socket: ") + std::strerror(errno));
  if (mnl_socket_bind(impl->socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Err(std::string("nf_tables monitor bind: ") + std::strerror(errno));
  }
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(impl->socket.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
    return Err(std::string("nf_tables monitor: joining NFNLGRP_NFTABLES: ") + std::strerror(errno));
  }
  const int fd = mnl_socket_get_fd(impl->socket.get());
  int size = kReceiveBufferBytes;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  return std::unique_ptr<RulesetMonitor>(new RulesetMonitor(std::move(impl)));
}

int RulesetMonitor::fd() const { return mnl_socket_get_fd(impl_->socket.get()); }

Result<RulesetMonitor::Batch> RulesetMonitor::read() {
  Batch batch;
  for (;;) {
    const ssize_t got = ::recv(fd(), impl_->buffer.data(), impl_->buffer.size(), MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        // The kernel dropped notifications; the half-read transaction may miss some of its
        // changes: the reader checks everything.
        batch.lost = true;
        impl_->pending = RulesetTransaction{};
        continue;
      }
      return Err(std::string("nf_tables monitor receive: ") + std::strerror(errno));
    }
    const auto* header = reinterpret_cast<const nlmsghdr*>(impl_->buffer.data());
    int left = static_cast<int>(got);
    while (mnl_nlmsg_ok(header, left)) {
      impl_->parse(header, batch);
      header = mnl_nlmsg_next(header, &left);
    }
  }
  return batch;
}

Result<std::uint32_t> RulesetMonitor::currentGeneration() {
  MnlSocket socket(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
  if (!socket) return Err(std::string("nf_tables socket: ") + std::strerror(errno));
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Err(std::string("nf_tables bind: ") + std::strerror(errno));
  }
  timeval timeout{1, 0};
  ::setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  // NFT_MSG_GETGEN, answered by one NFT_MSG_NEWGEN.
  nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
  request->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request->nlmsg_flags = NLM_F_REQUEST;
  request->nlmsg_seq = 1;
  auto* generic = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(request, sizeof(nfgenmsg)));
  generic->nfgen_family = AF_UNSPEC;
  generic->version = NFNETLINK_V0;
  generic->res_id = 0;
  if (mnl_socket_sendto(socket.get(), request, request->nlmsg_len) < 0) {
    return Err(std::string("nf_tables GETGEN: ") + std::strerror(errno));
  }
  const ssize_t got = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
  if (got < 0) return Err(std::string("nf_tables GETGEN answer: ") + std::strerror(errno));
  const auto* header = reinterpret_cast<const nlmsghdr*>(buffer.data());
  int left = static_cast<int>(got);
  for (; mnl_nlmsg_ok(header, left); header = mnl_nlmsg_next(header, &left)) {
    if (header->nlmsg_type == NLMSG_ERROR) {
      const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(header));
      if (error->error != 0) return Err(std::string("nf_tables GETGEN: ") + std::strerror(-error->error));
      continue;
    }
    if (NFNL_MSG_TYPE(header->nlmsg_type) != NFT_MSG_NEWGEN) continue;
    Attributes attributes{};
    if (mnl_attr_parse(header, sizeof(nfgenmsg), storeAttribute, attributes) < 0 ||
        attributes[NFTA_GEN_ID] == nullptr) {
      break;
    }
    return be32Attribute(attributes[NFTA_GEN_ID]);
  }
  return Err(std::string("nf_tables GETGEN: no generation in the answer"));
}

}  // namespace ftpalg::firewall
