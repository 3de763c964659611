// ConntrackNetlink: see conntrack_netlink.hpp for the contracts.
//
// Message layouts (NLA = netlink attribute; every integer big-endian on the wire):
//
//   nfgenmsg { nfgen_family = AF_INET / AF_INET6 (AF_UNSPEC for dumps), NFNETLINK_V0, res_id 0 }
//
//   tuple (nested; CTA_TUPLE_ORIG / _REPLY, CTA_EXPECT_MASTER / _TUPLE / _MASK, CTA_EXPECT_NAT_TUPLE):
//     CTA_TUPLE_IP    { CTA_IP_V4_SRC / CTA_IP_V6_SRC, CTA_IP_V4_DST / CTA_IP_V6_DST }
//     CTA_TUPLE_PROTO { CTA_PROTO_NUM u8, CTA_PROTO_SRC_PORT u16, CTA_PROTO_DST_PORT u16 }
//     (ctnetlink_parse_tuple() requires all five leaves, in a mask too)
//
//   seqadj update: (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_ACK
//     (no NLM_F_CREATE: ctnetlink_new_conntrack() then only changes an existing entry)
//     CTA_TUPLE_ORIG { tuple }
//     CTA_SEQ_ADJ_ORIG or CTA_SEQ_ADJ_REPLY { CTA_SEQADJ_CORRECTION_POS u32,
//                                             CTA_SEQADJ_OFFSET_BEFORE u32, CTA_SEQADJ_OFFSET_AFTER u32 }
//     (all three leaves are required; the whole record of the direction is replaced)
//   mark update: the same header, CTA_TUPLE_ORIG, CTA_MARK u32, CTA_MARK_MASK u32
//     (ctnetlink_change_mark: mark = (mark & ~MASK) ^ MARK)
//
//   expectation: (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW,
//                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
//     CTA_EXPECT_MASTER { tuple }  CTA_EXPECT_TUPLE { tuple }  CTA_EXPECT_MASK { tuple }
//     CTA_EXPECT_NAT { CTA_EXPECT_NAT_DIR u32, CTA_EXPECT_NAT_TUPLE { tuple } }
//     CTA_EXPECT_FN "nat-follow-master\0"
//   Without NLM_F_EXCL an EXP_NEW whose tuple an existing expectation already matches silently
//   becomes a timer update of THAT expectation; with it the kernel answers EEXIST. The same
//   message without NLM_F_CREATE (and with CTA_EXPECT_TIMEOUT u32) sets the timer: at creation
//   the helper policy's timeout wins over CTA_EXPECT_TIMEOUT.
//   libnetfilter_conntrack 1.0.9 drops the CTA_EXPECT_NAT attributes, hence libmnl here.
#include "conntrack_netlink.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <span>

namespace ftpalg::io {

static_assert(ct_status::kExpected == IPS_EXPECTED);
static_assert(ct_status::kSrcNat == IPS_SRC_NAT);
static_assert(ct_status::kDstNat == IPS_DST_NAT);
static_assert(ct_status::kSeqAdjust == IPS_SEQ_ADJUST);
static_assert(ct_status::kHelper == IPS_HELPER);

namespace {

// Kernel-internal flag values of CTA_FILTER_ORIG_FLAGS / CTA_FILTER_REPLY_FLAGS (stable ABI since
// Linux 5.8, not exported in the uapi header of every distribution).
constexpr std::uint32_t kFilterIpSrc = 1u << 0;
constexpr std::uint32_t kFilterProtoNum = 1u << 3;
constexpr std::uint32_t kFilterProtoSrcPort = 1u << 4;

constexpr char kFollowMaster[] = "nat-follow-master";
constexpr std::size_t kReceiveBufferSize = 65536;  // one answer datagram (dump parts are smaller)

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

std::uint8_t familyOf(const IpAddress& address) { return address.isV4() ? AF_INET : AF_INET6; }

// The address of the other family's "any" is never needed: a tuple's two addresses share a family.
void putTuple(nlmsghdr* header, std::uint16_t type, const ConntrackTuple& tuple) {
  nlattr* outer = mnl_attr_nest_start(header, type);
  nlattr* ip = mnl_attr_nest_start(header, CTA_TUPLE_IP);
  const bool v4 = tuple.src.address.isV4();
  mnl_attr_put(header, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, tuple.src.address.bytes().size(),
               tuple.src.address.bytes().data());
  mnl_attr_put(header, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, tuple.dst.address.bytes().size(),
               tuple.dst.address.bytes().data());
  mnl_attr_nest_end(header, ip);
  nlattr* proto = mnl_attr_nest_start(header, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(header, CTA_PROTO_NUM, IPPROTO_TCP);
  mnl_attr_put_u16(header, CTA_PROTO_SRC_PORT, htons(tuple.src.port));
  mnl_attr_put_u16(header, CTA_PROTO_DST_PORT, htons(tuple.dst.port));
  mnl_attr_nest_end(header, proto);
  mnl_attr_nest_end(header, outer);
}

void putU32(nlmsghdr* header, std::uint16_t type, std::uint32_t hostValue) {
  mnl_attr_put_u32(header, type, htonl(hostValue));
}

// Attribute tables filled by mnl_attr_parse(_nested): every attribute by type, bounded.
template <std::size_t N>
int collect(const nlattr* attribute, void* data) {
  auto* table = static_cast<const nlattr**>(data);
  const auto type = mnl_attr_get_type(attribute);
  if (type < N) table[type] = attribute;
  return MNL_CB_OK;
}

std::uint32_t getU32(const nlattr* attribute) { return ntohl(mnl_attr_get_u32(attribute)); }

std::optional<IpAddress> addressOf(const nlattr* attribute) {
  if (!attribute) return std::nullopt;
  return IpAddress::fromBytes(
      std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(mnl_attr_get_payload(attribute)),
                                    mnl_attr_get_payload_len(attribute)));
}

std::optional<ConntrackTuple> parseTuple(const nlattr* nest) {
  const nlattr* parts[CTA_TUPLE_MAX + 1] = {};
  if (mnl_attr_parse_nested(nest, collect<CTA_TUPLE_MAX + 1>, parts) < 0) return std::nullopt;
  if (!parts[CTA_TUPLE_IP] || !parts[CTA_TUPLE_PROTO]) return std::nullopt;
  const nlattr* ip[CTA_IP_MAX + 1] = {};
  const nlattr* proto[CTA_PROTO_MAX + 1] = {};
  if (mnl_attr_parse_nested(parts[CTA_TUPLE_IP], collect<CTA_IP_MAX + 1>, ip) < 0) return std::nullopt;
  if (mnl_attr_parse_nested(parts[CTA_TUPLE_PROTO], collect<CTA_PROTO_MAX + 1>, proto) < 0)
    return std::nullopt;
  const auto src = ip[CTA_IP_V4_SRC] ? addressOf(ip[CTA_IP_V4_SRC]) : addressOf(ip[CTA_IP_V6_SRC]);
  const auto dst = ip[CTA_IP_V4_DST] ? addressOf(ip[CTA_IP_V4_DST]) : addressOf(ip[CTA_IP_V6_DST]);
  if (!src || !dst || !proto[CTA_PROTO_SRC_PORT] || !proto[CTA_PROTO_DST_PORT]) return std::nullopt;
  if (proto[CTA_PROTO_NUM] && mnl_attr_get_u8(proto[CTA_PROTO_NUM]) != IPPROTO_TCP) return std::nullopt;
  ConntrackTuple tuple;
  tuple.src = Endpoint{*src, ntohs(mnl_attr_get_u16(proto[CTA_PROTO_SRC_PORT]))};
  tuple.dst = Endpoint{*dst, ntohs(mnl_attr_get_u16(proto[CTA_PROTO_DST_PORT]))};
  return tuple;
}

std::optional<SeqAdjRecord> parseSeqAdj(const nlattr* nest) {
  const nlattr* leaves[CTA_SEQADJ_MAX + 1] = {};
  if (mnl_attr_parse_nested(nest, collect<CTA_SEQADJ_MAX + 1>, leaves) < 0) return std::nullopt;
  if (!leaves[CTA_SEQADJ_CORRECTION_POS] || !leaves[CTA_SEQADJ_OFFSET_BEFORE] ||
      !leaves[CTA_SEQADJ_OFFSET_AFTER]) {
    return std::nullopt;
  }
  SeqAdjRecord record;
  record.correctionPosition = getU32(leaves[CTA_SEQADJ_CORRECTION_POS]);
  record.offsetBefore = static_cast<std::int32_t>(getU32(leaves[CTA_SEQADJ_OFFSET_BEFORE]));
  record.offsetAfter = static_cast<std::int32_t>(getU32(leaves[CTA_SEQADJ_OFFSET_AFTER]));
  return record;
}

NetlinkError errorOf(int code, const std::string& what) {
  return NetlinkError{code, what + ": " + netlinkErrorText(code)};
}

}  // namespace

std::string ConntrackTuple::toString() const { return src.toString() + " -> " + dst.toString(); }

std::string netlinkErrorText(int code) {
  const char* name = nullptr;
  switch (code) {
    case ENOENT: name = "ENOENT"; break;
    case EEXIST: name = "EEXIST"; break;
    case EBUSY: name = "EBUSY"; break;
    case EOPNOTSUPP: name = "EOPNOTSUPP"; break;
    case EINVAL: name = "EINVAL"; break;
    case EPERM: name = "EPERM"; break;
    case EAGAIN: name = "EAGAIN (no answer within 500 ms)"; break;
    case ENOBUFS: name = "ENOBUFS"; break;
    default: break;
  }
  std::string text = std::strerror(code);
  if (name) text += std::string(" (") + name + ")";
  return text;
}

std::optional<ExpectationEntry> parseExpectationMessage(const nlmsghdr* header) {
  const nlattr* top[CTA_EXPECT_MAX + 1] = {};
  if (mnl_attr_parse(header, sizeof(nfgenmsg), collect<CTA_EXPECT_MAX + 1>, top) < 0) return std::nullopt;
  if (!top[CTA_EXPECT_MASTER] || !top[CTA_EXPECT_TUPLE] || !top[CTA_EXPECT_MASK]) return std::nullopt;
  const auto master = parseTuple(top[CTA_EXPECT_MASTER]);
  const auto tuple = parseTuple(top[CTA_EXPECT_TUPLE]);
  const auto mask = parseTuple(top[CTA_EXPECT_MASK]);
  if (!master || !tuple || !mask) return std::nullopt;
  ExpectationEntry entry;
  entry.master = *master;
  entry.tuple = *tuple;
  entry.mask = *mask;
  if (top[CTA_EXPECT_ID]) entry.id = getU32(top[CTA_EXPECT_ID]);
  if (top[CTA_EXPECT_TIMEOUT]) entry.timeoutSeconds = getU32(top[CTA_EXPECT_TIMEOUT]);
  if (top[CTA_EXPECT_FN]) entry.function = mnl_attr_get_str(top[CTA_EXPECT_FN]);
  if (top[CTA_EXPECT_NAT]) {
    const nlattr* nat[CTA_EXPECT_NAT_MAX + 1] = {};
    if (mnl_attr_parse_nested(top[CTA_EXPECT_NAT], collect<CTA_EXPECT_NAT_MAX + 1>, nat) >= 0) {
      if (nat[CTA_EXPECT_NAT_DIR]) {
        entry.natDir = getU32(nat[CTA_EXPECT_NAT_DIR]) == static_cast<std::uint32_t>(ConntrackDir::Reply)
                           ? ConntrackDir::Reply
                           : ConntrackDir::Original;
      }
      if (nat[CTA_EXPECT_NAT_TUPLE]) {
        if (const auto natTuple = parseTuple(nat[CTA_EXPECT_NAT_TUPLE])) entry.natSource = natTuple->src;
      }
    }
  }
  return entry;
}

namespace {

// CTA_PROTOINFO { CTA_PROTOINFO_TCP { STATE u8, WSCALE_ORIGINAL u8, FLAGS_ORIGINAL
// struct nf_ct_tcp_flags, ... } } (the kernel's ctnetlink tcp_to_nlattr).
void parseTcpInfo(const nlattr* protoinfo, ConntrackEntry& entry) {
  if (!protoinfo) return;
  const nlattr* protocols[CTA_PROTOINFO_MAX + 1] = {};
  if (mnl_attr_parse_nested(protoinfo, collect<CTA_PROTOINFO_MAX + 1>, protocols) < 0 ||
      !protocols[CTA_PROTOINFO_TCP]) {
    return;
  }
  const nlattr* tcp[CTA_PROTOINFO_TCP_MAX + 1] = {};
  if (mnl_attr_parse_nested(protocols[CTA_PROTOINFO_TCP], collect<CTA_PROTOINFO_TCP_MAX + 1>, tcp) < 0)
    return;
  const auto u8 = [](const nlattr* attribute) -> std::optional<std::uint8_t> {
    if (!attribute || mnl_attr_get_payload_len(attribute) < 1) return std::nullopt;
    return mnl_attr_get_u8(attribute);
  };
  entry.tcpState = u8(tcp[CTA_PROTOINFO_TCP_STATE]);
  const nlattr* flags = tcp[CTA_PROTOINFO_TCP_FLAGS_ORIGINAL];
  if (flags && mnl_attr_get_payload_len(flags) >= sizeof(nf_ct_tcp_flags)) {
    nf_ct_tcp_flags value{};
    std::memcpy(&value, mnl_attr_get_payload(flags), sizeof value);
    if (value.flags & IP_CT_TCP_FLAG_WINDOW_SCALE) {
      entry.originalWindowShift = u8(tcp[CTA_PROTOINFO_TCP_WSCALE_ORIGINAL]);
    }
  }
}

}  // namespace

std::optional<ConntrackEntry> parseConntrackMessage(const nlmsghdr* message) {
  const nlattr* top[CTA_MAX + 1] = {};
  if (mnl_attr_parse(message, sizeof(nfgenmsg), collect<CTA_MAX + 1>, top) < 0) return std::nullopt;
  if (!top[CTA_TUPLE_ORIG] || !top[CTA_TUPLE_REPLY]) return std::nullopt;
  const auto original = parseTuple(top[CTA_TUPLE_ORIG]);
  const auto reply = parseTuple(top[CTA_TUPLE_REPLY]);
  if (!original || !reply) return std::nullopt;
  ConntrackEntry entry;
  entry.original = *original;
  entry.reply = *reply;
  if (top[CTA_STATUS]) entry.status = getU32(top[CTA_STATUS]);
  if (top[CTA_MARK]) entry.mark = getU32(top[CTA_MARK]);
  if (top[CTA_ID]) entry.id = getU32(top[CTA_ID]);
  if (top[CTA_HELP]) {
    const nlattr* help[CTA_HELP_MAX + 1] = {};
    if (mnl_attr_parse_nested(top[CTA_HELP], collect<CTA_HELP_MAX + 1>, help) >= 0 && help[CTA_HELP_NAME]) {
      entry.helper = mnl_attr_get_str(help[CTA_HELP_NAME]);
    }
  }
  if (top[CTA_SEQ_ADJ_ORIG]) entry.seqAdjOriginal = parseSeqAdj(top[CTA_SEQ_ADJ_ORIG]);
  if (top[CTA_SEQ_ADJ_REPLY]) entry.seqAdjReply = parseSeqAdj(top[CTA_SEQ_ADJ_REPLY]);
  parseTcpInfo(top[CTA_PROTOINFO], entry);
  return entry;
}

struct ConntrackNetlink::Impl {
  MnlSocket socket;
  std::uint32_t portId = 0;
  std::uint32_t seq = 1;
  std::vector<char> sendBuffer = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
  std::vector<char> recvBuffer = std::vector<char>(kReceiveBufferSize);

  nlmsghdr* start(std::uint8_t subsystem, std::uint8_t type, std::uint16_t flags, std::uint8_t family) {
    nlmsghdr* header = mnl_nlmsg_put_header(sendBuffer.data());
    header->nlmsg_type = static_cast<std::uint16_t>((subsystem << 8) | type);
    header->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
    header->nlmsg_seq = seq++;
    auto* generic = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
    generic->nfgen_family = family;
    generic->version = NFNETLINK_V0;
    generic->res_id = 0;
    return header;
  }

  // Sends `header` and hands every data message of the answer to `onMessage`, until the
  // acknowledgement (NLM_F_ACK), the end of a dump (NLMSG_DONE) or the first message of a GET.
  // The kernel's error code comes back as the error (ENOENT included: callers decide).
  NetlinkStatus exchange(nlmsghdr* header, const std::string& what,
                         const std::function<void(const nlmsghdr*)>& onMessage) {
    if (mnl_socket_sendto(socket.get(), header, header->nlmsg_len) < 0) {
      return Err(errorOf(errno, what + " (send)"));
    }
    const bool dump = (header->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    const bool acked = (header->nlmsg_flags & NLM_F_ACK) != 0;
    const std::uint32_t expected = header->nlmsg_seq;
    bool answered = false;
    for (;;) {
      const ssize_t got = mnl_socket_recvfrom(socket.get(), recvBuffer.data(), recvBuffer.size());
      if (got < 0) {
        if (errno == EINTR) continue;
        return Err(errorOf(errno == EWOULDBLOCK ? EAGAIN : errno, what + " (receive)"));
      }
      int remaining = static_cast<int>(got);
      for (auto* message = reinterpret_cast<const nlmsghdr*>(recvBuffer.data());
           mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
        if (message->nlmsg_seq != expected || message->nlmsg_pid != portId) continue;  // a stale answer
        if (message->nlmsg_type == NLMSG_DONE) return NetlinkStatus(Unit{});
        if (message->nlmsg_type == NLMSG_ERROR) {
          const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message));
          if (error->error == 0) return NetlinkStatus(Unit{});
          return Err(errorOf(-error->error, what));
        }
        onMessage(message);
        answered = true;
      }
      // A GET without NLM_F_ACK ends with its one answer.
      if (answered && !dump && !acked) return NetlinkStatus(Unit{});
    }
  }
};

ConntrackNetlink::ConntrackNetlink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConntrackNetlink::~ConntrackNetlink() = default;

Result<std::unique_ptr<ConntrackNetlink>> ConntrackNetlink::open() {
  auto impl = std::make_unique<Impl>();
  impl->socket.reset(mnl_socket_open(NETLINK_NETFILTER));
  if (!impl->socket) return Err(std::string("ctnetlink socket: ") + std::strerror(errno));
  if (mnl_socket_bind(impl->socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Err(std::string("ctnetlink bind: ") + std::strerror(errno));
  }
  impl->portId = mnl_socket_get_portid(impl->socket.get());
  // The kernel answers within microseconds; never let a lost answer stall the packet path.
  timeval timeout{0, 500000};
  setsockopt(mnl_socket_get_fd(impl->socket.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return std::unique_ptr<ConntrackNetlink>(new ConntrackNetlink(std::move(impl)));
}

NetlinkResult<std::optional<ConntrackEntry>> ConntrackNetlink::get(const ConntrackTuple& tuple,
                                                                   ConntrackDir which) {
  ++requests_;
  nlmsghdr* header = impl_->start(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET, 0, familyOf(tuple.src.address));
  putTuple(header, which == ConntrackDir::Original ? CTA_TUPLE_ORIG : CTA_TUPLE_REPLY, tuple);
  std::optional<ConntrackEntry> found;
  auto status = impl_->exchange(header, "conntrack get " + tuple.toString(), [&](const nlmsghdr* message) {
    if (!found) found = parseConntrackMessage(message);
  });
  if (!status) {
    if (status.error().code == ENOENT) return std::optional<ConntrackEntry>();
    return Err(status.error());
  }
  return found;
}

NetlinkResult<std::vector<ConntrackEntry>> ConntrackNetlink::dumpBySources(const Endpoint& originalSource,
                                                                           const Endpoint& replySource) {
  ++requests_;
  nlmsghdr* header =
      impl_->start(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET, NLM_F_DUMP, familyOf(originalSource.address));
  // The destinations are not part of the filter (flags below); any address of the family does.
  const IpAddress any = originalSource.address.isV4() ? IpAddress() : IpAddress::fromV6Bytes({});
  putTuple(header, CTA_TUPLE_ORIG, ConntrackTuple{originalSource, Endpoint{any, 0}});
  putTuple(header, CTA_TUPLE_REPLY, ConntrackTuple{replySource, Endpoint{any, 0}});
  nlattr* filter = mnl_attr_nest_start(header, CTA_FILTER);
  const std::uint32_t flags = kFilterIpSrc | kFilterProtoNum | kFilterProtoSrcPort;
  mnl_attr_put_u32(header, CTA_FILTER_ORIG_FLAGS, flags);  // host order (nla_get_u32)
  mnl_attr_put_u32(header, CTA_FILTER_REPLY_FLAGS, flags);
  mnl_attr_nest_end(header, filter);
  std::vector<ConntrackEntry> entries;
  auto status = impl_->exchange(
      header, "conntrack dump by sources " + originalSource.toString() + ", " + replySource.toString(),
      [&](const nlmsghdr* message) {
        auto entry = parseConntrackMessage(message);
        // Older kernels ignore CTA_FILTER and dump everything: check here too.
        if (entry && entry->original.src == originalSource && entry->reply.src == replySource)
          entries.push_back(std::move(*entry));
      });
  if (!status) return Err(status.error());
  return entries;
}

NetlinkResult<std::vector<ConntrackEntry>> ConntrackNetlink::dumpByMarkAndStatus(std::uint32_t markValue,
                                                                                 std::uint32_t markMask,
                                                                                 std::uint32_t statusValue,
                                                                                 std::uint32_t statusMask) {
  ++requests_;
  nlmsghdr* header = impl_->start(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_UNSPEC);
  putU32(header, CTA_MARK, markValue);
  putU32(header, CTA_MARK_MASK, markMask);
  putU32(header, CTA_STATUS, statusValue);
  putU32(header, CTA_STATUS_MASK, statusMask);
  std::vector<ConntrackEntry> entries;
  auto status = impl_->exchange(header, "conntrack dump by mark and status", [&](const nlmsghdr* message) {
    auto entry = parseConntrackMessage(message);
    // Kernels without the status filter (before 5.19) dump more: check here too.
    if (entry && (entry->mark & markMask) == markValue && (entry->status & statusMask) == statusValue)
      entries.push_back(std::move(*entry));
  });
  if (!status) return Err(status.error());
  return entries;
}

NetlinkStatus ConntrackNetlink::setSeqAdj(const ConntrackTuple& original, ConntrackDir dir,
                                          const SeqAdjRecord& record) {
  ++requests_;
  nlmsghdr* header =
      impl_->start(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, NLM_F_ACK, familyOf(original.src.address));
  putTuple(header, CTA_TUPLE_ORIG, original);
  nlattr* nest =
      mnl_attr_nest_start(header, dir == ConntrackDir::Original ? CTA_SEQ_ADJ_ORIG : CTA_SEQ_ADJ_REPLY);
  putU32(header, CTA_SEQADJ_CORRECTION_POS, record.correctionPosition);
  putU32(header, CTA_SEQADJ_OFFSET_BEFORE, static_cast<std::uint32_t>(record.offsetBefore));
  putU32(header, CTA_SEQADJ_OFFSET_AFTER, static_cast<std::uint32_t>(record.offsetAfter));
  mnl_attr_nest_end(header, nest);
  return impl_->exchange(header, "conntrack seqadj update " + original.toString(), [](const nlmsghdr*) {});
}

NetlinkStatus ConntrackNetlink::setMarkBits(const ConntrackTuple& original, std::uint32_t value,
                                            std::uint32_t mask) {
  ++requests_;
  nlmsghdr* header =
      impl_->start(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, NLM_F_ACK, familyOf(original.src.address));
  putTuple(header, CTA_TUPLE_ORIG, original);
  putU32(header, CTA_MARK, value & mask);
  putU32(header, CTA_MARK_MASK, mask);
  return impl_->exchange(header, "conntrack mark update " + original.toString(), [](const nlmsghdr*) {});
}

namespace {

// The mask of an expectation: every field must match except the data connection's source port.
ConntrackTuple wildcardSourcePortMask(const IpAddress& family) {
  const std::size_t size = family.isV4() ? 4 : 16;
  std::array<std::uint8_t, 16> ones{};
  ones.fill(0xff);
  const auto all = *IpAddress::fromBytes(std::span<const std::uint8_t>(ones.data(), size));
  return ConntrackTuple{Endpoint{all, 0}, Endpoint{all, 0xffff}};
}

}  // namespace

NetlinkStatus ConntrackNetlink::createExpectation(const ExpectationRequest& request) {
  const std::string what =
      "conntrack expectation " + request.tuple.toString() + " (master " + request.master.toString() + ")";
  auto put = [&](std::uint16_t flags, bool withNat) {
    nlmsghdr* header = impl_->start(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW, flags,
                                    familyOf(request.tuple.src.address));
    putTuple(header, CTA_EXPECT_MASTER, request.master);
    putTuple(header, CTA_EXPECT_TUPLE, request.tuple);
    putTuple(header, CTA_EXPECT_MASK, wildcardSourcePortMask(request.tuple.src.address));
    putU32(header, CTA_EXPECT_TIMEOUT, request.timeoutSeconds);
    if (withNat) {
      nlattr* nat = mnl_attr_nest_start(header, CTA_EXPECT_NAT);
      putU32(header, CTA_EXPECT_NAT_DIR, static_cast<std::uint32_t>(request.natDir));
      // Only the source port is kept (exp->saved_proto); the parser needs the other leaves.
      const Endpoint inside{request.tuple.dst.address, request.natPort};
      putTuple(header, CTA_EXPECT_NAT_TUPLE, ConntrackTuple{inside, inside});
      mnl_attr_nest_end(header, nat);
      mnl_attr_put_strz(header, CTA_EXPECT_FN, kFollowMaster);
    }
    return header;
  };
  ++requests_;
  if (auto created =
          impl_->exchange(put(NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, true), what, [](const nlmsghdr*) {});
      !created) {
    return created;
  }
  ++requests_;
  return impl_->exchange(put(NLM_F_ACK, false), what + ": setting its timeout", [](const nlmsghdr*) {});
}

NetlinkResult<std::optional<ExpectationEntry>> ConntrackNetlink::getExpectation(const ConntrackTuple& tuple) {
  ++requests_;
  nlmsghdr* header =
      impl_->start(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_GET, 0, familyOf(tuple.src.address));
  putTuple(header, CTA_EXPECT_TUPLE, tuple);
  std::optional<ExpectationEntry> found;
  auto status =
      impl_->exchange(header, "conntrack expectation get " + tuple.toString(), [&](const nlmsghdr* message) {
        if (!found) found = parseExpectationMessage(message);
      });
  if (!status) {
    if (status.error().code == ENOENT) return std::optional<ExpectationEntry>();
    return Err(status.error());
  }
  return found;
}

NetlinkStatus ConntrackNetlink::deleteExpectation(const ConntrackTuple& tuple, std::uint32_t id) {
  ++requests_;
  nlmsghdr* header =
      impl_->start(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_DELETE, NLM_F_ACK, familyOf(tuple.src.address));
  putTuple(header, CTA_EXPECT_TUPLE, tuple);
  putU32(header, CTA_EXPECT_ID, id);
  return impl_->exchange(header, "conntrack expectation delete " + tuple.toString(), [](const nlmsghdr*) {});
}

NetlinkResult<std::vector<ExpectationEntry>> ConntrackNetlink::dumpExpectations() {
  ++requests_;
  nlmsghdr* header = impl_->start(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_GET, NLM_F_DUMP, AF_UNSPEC);
  std::vector<ExpectationEntry> entries;
  auto status = impl_->exchange(header, "conntrack expectation dump", [&](const nlmsghdr* message) {
    if (auto entry = parseExpectationMessage(message)) entries.push_back(std::move(*entry));
  });
  if (!status) return Err(status.error());
  return entries;
}

}  // namespace ftpalg::io
