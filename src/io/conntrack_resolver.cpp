// ConntrackResolver: see conntrack_resolver.hpp for the contracts.
//
// Messages are built with libmnl directly: libnetfilter_conntrack's nfct_query(NFCT_Q_GET)
// always sends the ORIGINAL tuple, and the s2c lookup needs a GET by the REPLY tuple.
#include "conntrack_resolver.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg::io {

namespace {

// Kernel-internal flag values of CTA_FILTER_ORIG_FLAGS / CTA_FILTER_REPLY_FLAGS (stable ABI since
// Linux 5.8, not exported in the uapi header of every distribution).
constexpr std::uint32_t kFilterIpSrc = 1u << 0;
constexpr std::uint32_t kFilterProtoNum = 1u << 3;
constexpr std::uint32_t kFilterProtoSrcPort = 1u << 4;

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

std::uint8_t familyOf(const IpAddress& address) { return address.isV4() ? AF_INET : AF_INET6; }

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

// Attribute tables filled by mnl_attr_parse(_nested): every attribute by type, bounded.
template <std::size_t N>
int collect(const nlattr* attribute, void* data) {
  auto* table = static_cast<const nlattr**>(data);
  const auto type = mnl_attr_get_type(attribute);
  if (type < N) table[type] = attribute;
  return MNL_CB_OK;
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
  auto address = [](const nlattr* attribute) -> std::optional<IpAddress> {
    if (!attribute) return std::nullopt;
    return IpAddress::fromBytes(
        std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(mnl_attr_get_payload(attribute)),
                                      mnl_attr_get_payload_len(attribute)));
  };
  auto src = ip[CTA_IP_V4_SRC] ? address(ip[CTA_IP_V4_SRC]) : address(ip[CTA_IP_V6_SRC]);
  auto dst = ip[CTA_IP_V4_DST] ? address(ip[CTA_IP_V4_DST]) : address(ip[CTA_IP_V6_DST]);
  if (!src || !dst || !proto[CTA_PROTO_SRC_PORT] || !proto[CTA_PROTO_DST_PORT]) return std::nullopt;
  ConntrackTuple tuple;
  tuple.src = Endpoint{*src, ntohs(mnl_attr_get_u16(proto[CTA_PROTO_SRC_PORT]))};
  tuple.dst = Endpoint{*dst, ntohs(mnl_attr_get_u16(proto[CTA_PROTO_DST_PORT]))};
  return tuple;
}

void parseTcpInfo(const nlattr* protoinfo, ConntrackEntry& entry);

std::optional<ConntrackEntry> parseEntry(const nlmsghdr* header) {
  const nlattr* top[CTA_MAX + 1] = {};
  if (mnl_attr_parse(header, sizeof(nfgenmsg), collect<CTA_MAX + 1>, top) < 0) return std::nullopt;
  if (!top[CTA_TUPLE_ORIG] || !top[CTA_TUPLE_REPLY]) return std::nullopt;
  auto original = parseTuple(top[CTA_TUPLE_ORIG]);
  auto reply = parseTuple(top[CTA_TUPLE_REPLY]);
  if (!original || !reply) return std::nullopt;
  ConntrackEntry entry;
  entry.original = *original;
  entry.reply = *reply;
  if (top[CTA_HELP]) {
    const nlattr* help[CTA_HELP_MAX + 1] = {};
    if (mnl_attr_parse_nested(top[CTA_HELP], collect<CTA_HELP_MAX + 1>, help) >= 0 && help[CTA_HELP_NAME]) {
      entry.helper = mnl_attr_get_str(help[CTA_HELP_NAME]);
    }
  }
  parseTcpInfo(top[CTA_PROTOINFO], entry);
  return entry;
}

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

// The engine's proof that a server's SYN-ACK answers a client SYN: conntrack saw that SYN and has
// not yet seen the handshake end (the SYN-ACK is queued before conntrack processes it).
std::optional<ClientSynSeen> clientSynSeen(const ConntrackEntry& entry) {
  if (entry.tcpState != TCP_CONNTRACK_SYN_SENT && entry.tcpState != TCP_CONNTRACK_SYN_RECV)
    return std::nullopt;
  return ClientSynSeen{entry.originalWindowShift};
}

}  // namespace

struct ConntrackResolver::Impl {
  MnlSocket socket;
  std::uint32_t portId = 0;
  std::uint32_t seq = 1;
  std::vector<char> sendBuffer = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
  std::vector<char> recvBuffer = std::vector<char>(32768);

  nlmsghdr* start(std::uint16_t flags, std::uint8_t family) {
    nlmsghdr* header = mnl_nlmsg_put_header(sendBuffer.data());
    header->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
    header->nlmsg_flags = NLM_F_REQUEST | flags;
    header->nlmsg_seq = seq++;
    auto* generic = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
    generic->nfgen_family = family;
    generic->version = NFNETLINK_V0;
    generic->res_id = 0;
    return header;
  }

  // Sends `header` and collects every entry of the answer (one for GET, any number for a dump).
  // A GET that finds nothing ends with ENOENT: an empty result, not an error.
  Result<std::vector<ConntrackEntry>> exchange(nlmsghdr* header) {
    std::vector<ConntrackEntry> entries;
    if (mnl_socket_sendto(socket.get(), header, header->nlmsg_len) < 0) {
      return Err(std::string("ctnetlink send: ") + std::strerror(errno));
    }
    const bool dump = (header->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    const std::uint32_t expected = header->nlmsg_seq;
    for (;;) {
      const ssize_t got = mnl_socket_recvfrom(socket.get(), recvBuffer.data(), recvBuffer.size());
      if (got < 0) {
        if (errno == EINTR) continue;
        return Err(std::string("ctnetlink receive: ") + std::strerror(errno));
      }
      int remaining = static_cast<int>(got);
      bool done = false;
      for (auto* message = reinterpret_cast<const nlmsghdr*>(recvBuffer.data());
           mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
        if (message->nlmsg_seq != expected) continue;  // a late answer to an abandoned request
        if (message->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (message->nlmsg_type == NLMSG_ERROR) {
          const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message));
          if (error->error == 0 || -error->error == ENOENT) return entries;
          return Err(std::string("ctnetlink: ") + std::strerror(-error->error));
        }
        if (auto entry = parseEntry(message)) entries.push_back(std::move(*entry));
        if (!dump) done = true;
      }
      if (done) return entries;
    }
  }
};

ConntrackResolver::ConntrackResolver(std::unique_ptr<Impl> impl, ConntrackResolverOptions options)
    : impl_(std::move(impl)), options_(std::move(options)) {}
ConntrackResolver::~ConntrackResolver() = default;

Result<std::unique_ptr<ConntrackResolver>> ConntrackResolver::open(const ConntrackResolverOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->socket.reset(mnl_socket_open(NETLINK_NETFILTER));
  if (!impl->socket) return Err(std::string("ctnetlink socket: ") + std::strerror(errno));
  if (mnl_socket_bind(impl->socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Err(std::string("ctnetlink bind: ") + std::strerror(errno));
  }
  impl->portId = mnl_socket_get_portid(impl->socket.get());
  // The kernel answers a GET within microseconds; never let a lost answer stall the packet path.
  timeval timeout{0, 500000};
  setsockopt(mnl_socket_get_fd(impl->socket.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return std::unique_ptr<ConntrackResolver>(new ConntrackResolver(std::move(impl), options));
}

Result<std::optional<ConntrackEntry>> ConntrackResolver::getByOriginal(const ConntrackTuple& tuple) {
  ++counters_.lookups;
  nlmsghdr* header = impl_->start(0, familyOf(tuple.src.address));
  putTuple(header, CTA_TUPLE_ORIG, tuple);
  auto entries = impl_->exchange(header);
  if (!entries) return Err(entries.error());
  if (entries->empty()) return std::optional<ConntrackEntry>();
  return std::optional<ConntrackEntry>(std::move(entries->front()));
}

Result<std::optional<ConntrackEntry>> ConntrackResolver::getByReply(const ConntrackTuple& tuple) {
  ++counters_.lookups;
  nlmsghdr* header = impl_->start(0, familyOf(tuple.src.address));
  putTuple(header, CTA_TUPLE_REPLY, tuple);
  auto entries = impl_->exchange(header);
  if (!entries) return Err(entries.error());
  if (entries->empty()) return std::optional<ConntrackEntry>();
  return std::optional<ConntrackEntry>(std::move(entries->front()));
}

Result<std::optional<ConntrackEntry>> ConntrackResolver::findByOriginalSourceAndReplySource(
    const Endpoint& originalSource, const Endpoint& replySource) {
  ++counters_.lookups;
  nlmsghdr* header = impl_->start(NLM_F_DUMP, familyOf(originalSource.address));
  // The destinations are not part of the filter (flags below); any value of the family does.
  const IpAddress any = originalSource.address.isV4() ? IpAddress() : IpAddress::fromV6Bytes({});
  putTuple(header, CTA_TUPLE_ORIG, ConntrackTuple{originalSource, Endpoint{any, 0}});
  putTuple(header, CTA_TUPLE_REPLY, ConntrackTuple{replySource, Endpoint{any, 0}});
  nlattr* filter = mnl_attr_nest_start(header, CTA_FILTER);
  const std::uint32_t flags = kFilterIpSrc | kFilterProtoNum | kFilterProtoSrcPort;
  mnl_attr_put_u32(header, CTA_FILTER_ORIG_FLAGS, flags);  // host order (nla_get_u32)
  mnl_attr_put_u32(header, CTA_FILTER_REPLY_FLAGS, flags);
  mnl_attr_nest_end(header, filter);
  auto entries = impl_->exchange(header);
  if (!entries) return Err(entries.error());
  for (auto& entry : entries.value()) {
    // Older kernels ignore CTA_FILTER and dump everything: check here too.
    if (entry.original.src == originalSource && entry.reply.src == replySource) {
      return std::optional<ConntrackEntry>(std::move(entry));
    }
  }
  return std::optional<ConntrackEntry>();
}

bool ConntrackResolver::isControlPort(std::uint16_t port) const {
  for (const std::uint16_t control : options_.controlPorts) {
    if (control == port) return true;
  }
  return false;
}

std::size_t ConntrackResolver::ViewHash::operator()(const View& view) const noexcept {
  const EndpointHash hash;
  return hash(view.src) * 31 + hash(view.dst);
}

std::optional<std::string> ConntrackResolver::takeWarning() {
  auto warning = std::move(warning_);
  warning_.reset();
  return warning;
}

std::optional<FlowContext> ConntrackResolver::fromCache(const View& view) {
  const auto found = byView_.find(view);
  if (found == byView_.end()) return std::nullopt;
  const auto flow = byKey_.find(found->second);
  if (flow == byKey_.end()) return std::nullopt;
  flows_.splice(flows_.begin(), flows_, flow->second);  // most recently used
  FlowContext context = flow->second->second.c2s;
  context.direction =
      view == flow->second->second.c2sView ? Direction::ClientToServer : Direction::ServerToClient;
  return context;
}

void ConntrackResolver::cache(const FlowContext& c2sContext) {
  forget(c2sContext.key);
  CachedFlow flow;
  flow.c2s = c2sContext;
  flow.c2s.direction = Direction::ClientToServer;
  flow.c2sView = View{c2sContext.nat.clientReal, c2sContext.nat.serverReal};
  flow.s2cView = View{c2sContext.nat.serverReal, c2sContext.nat.clientSeenByServer};
  // A view that another (older) flow still claims now belongs to this one: drop the older flow.
  for (const View& view : {flow.c2sView, flow.s2cView}) {
    if (const auto old = byView_.find(view); old != byView_.end()) forget(old->second);
  }
  while (flows_.size() >= std::max<std::size_t>(1, options_.maxFlows)) {
    forget(flows_.back().first);
    ++counters_.evictions;
  }
  flows_.emplace_front(c2sContext.key, flow);
  byKey_[c2sContext.key] = flows_.begin();
  byView_[flow.c2sView] = c2sContext.key;
  byView_[flow.s2cView] = c2sContext.key;
}

void ConntrackResolver::forget(const FlowKey& key) {
  const auto found = byKey_.find(key);
  if (found == byKey_.end()) return;
  const CachedFlow& flow = found->second->second;
  for (const View& view : {flow.c2sView, flow.s2cView}) {
    if (const auto v = byView_.find(view); v != byView_.end() && v->second == key) byView_.erase(v);
  }
  flows_.erase(found->second);
  byKey_.erase(found);
}

std::optional<FlowContext> ConntrackResolver::contextFor(const ConntrackEntry& entry, Direction direction) {
  if (!entry.helper.empty()) {
    // The kernel's own helper (nf_conntrack_ftp or another) rewrites this connection: stay out.
    ++counters_.kernelHelperFlows;
    if (!warned_) {
      warned_ = true;
      warning_ = "connection " + entry.original.src.toString() + " -> " + entry.original.dst.toString() +
                 " has the kernel conntrack helper \"" + entry.helper +
                 "\" assigned: ftpalg leaves it alone (both would rewrite); remove the `ct helper` "
                 "assignment for the control ports ftpalg serves";
    }
    return std::nullopt;
  }
  FlowContext context;
  context.nat.clientReal = entry.original.src;
  context.nat.serverSeenByClient = entry.original.dst;
  context.nat.serverReal = entry.reply.src;
  context.nat.clientSeenByServer = entry.reply.dst;
  context.key = FlowKey{context.nat.clientReal, context.nat.serverReal};
  context.direction = direction;
  if (!isControlPort(context.nat.serverReal.port)) return std::nullopt;
  cache(context);
  context.direction = direction;
  return context;
}

std::optional<FlowContext> ConntrackResolver::lookup(const PacketView& packet, Direction direction) {
  const Endpoint src = packet.src();
  const Endpoint dst = packet.dst();
  auto failed = [&](const std::string& error) -> std::optional<FlowContext> {
    ++counters_.errors;
    if (!warning_)
      warning_ = "conntrack lookup for " + src.toString() + " -> " + dst.toString() + ": " + error;
    return std::nullopt;
  };
  if (direction == Direction::ServerToClient) {
    // raw PREROUTING: the packet's addresses are the reply tuple.
    auto entry = getByReply(ConntrackTuple{src, dst});
    if (!entry) return failed(entry.error());
    if (!entry.value()) return std::nullopt;
    ++counters_.resolvedByReply;
    auto context = contextFor(**entry, direction);
    if (context && packet.hasFlag(tcp_flags::kSyn) && packet.hasFlag(tcp_flags::kAck)) {
      context->clientSyn = clientSynSeen(**entry);  // this SYN-ACK only; never cached
    }
    return context;
  }
  // mangle FORWARD: src = client real, dst = server real.
  if (auto entry = getByOriginal(ConntrackTuple{src, dst}); !entry) {
    return failed(entry.error());
  } else if (entry.value() && entry.value()->reply.src == dst) {  // server not DNATed
    ++counters_.resolvedByOriginal;
    return contextFor(**entry, direction);
  }
  if (auto entry = getByReply(ConntrackTuple{dst, src}); !entry) {
    return failed(entry.error());
  } else if (entry.value() && entry.value()->original.src == src) {  // client not SNATed
    ++counters_.resolvedByReply;
    return contextFor(**entry, direction);
  }
  if (!takeDumpToken()) {
    ++counters_.dumpsRateLimited;
    return std::nullopt;
  }
  auto entry = findByOriginalSourceAndReplySource(src, dst);  // both NATed
  if (!entry) return failed(entry.error());
  if (!entry.value()) return std::nullopt;
  ++counters_.resolvedByDump;
  return contextFor(**entry, direction);
}

bool ConntrackResolver::recentlyMissed(const View& view) {
  const auto found = negative_.find(view);
  if (found == negative_.end()) return false;
  if (found->second > now_) return true;
  negative_.erase(found);
  return false;
}

void ConntrackResolver::rememberMiss(const View& view) {
  while (negative_.size() >= std::max<std::size_t>(1, options_.maxNegative) && !negativeOrder_.empty()) {
    negative_.erase(negativeOrder_.front());
    negativeOrder_.pop_front();
  }
  if (negative_.insert_or_assign(view, now_ + options_.negativeTtl).second) negativeOrder_.push_back(view);
  // negativeOrder_ may hold views already erased by recentlyMissed(); bound it too.
  while (negativeOrder_.size() > 2 * std::max<std::size_t>(1, options_.maxNegative))
    negativeOrder_.pop_front();
}

bool ConntrackResolver::takeDumpToken() {
  const double burst = std::max(1.0, options_.dumpsPerSecond);
  if (!dumpTokensStarted_) {
    dumpTokensStarted_ = true;
    dumpTokens_ = burst;
    dumpTokensAt_ = now_;
  }
  const double elapsed = std::chrono::duration<double>(now_ - dumpTokensAt_).count();
  dumpTokensAt_ = now_;
  dumpTokens_ = std::min(burst, dumpTokens_ + std::max(0.0, elapsed) * options_.dumpsPerSecond);
  if (dumpTokens_ < 1.0) return false;
  dumpTokens_ -= 1.0;
  return true;
}

std::optional<FlowContext> ConntrackResolver::resolve(const PacketView& packet) {
  const bool toControl = isControlPort(packet.dstPort());
  const bool fromControl = isControlPort(packet.srcPort());
  if (!toControl && !fromControl) return std::nullopt;

  const bool synAck = packet.hasFlag(tcp_flags::kSyn) && packet.hasFlag(tcp_flags::kAck);
  // A SYN-ACK always looks up afresh: the 4-tuple may be reused with another NAT mapping.
  if (!synAck) {
    if (auto cached = fromCache(View{packet.src(), packet.dst()})) {
      ++counters_.cacheHits;
      return cached;
    }
  }

  std::optional<Direction> direction;
  if (hook_ == QueueHook::PreRouting)
    direction = Direction::ServerToClient;
  else if (hook_ == QueueHook::Forward)
    direction = Direction::ClientToServer;
  else if (toControl != fromControl)
    direction = toControl ? Direction::ClientToServer : Direction::ServerToClient;

  if (direction == Direction::ClientToServer && packet.hasFlag(tcp_flags::kSyn) &&
      !packet.hasFlag(tcp_flags::kAck)) {
    ++counters_.firstSynSkipped;
    return std::nullopt;
  }
  if (direction == Direction::ClientToServer && !toControl) return std::nullopt;
  if (direction == Direction::ServerToClient && !fromControl) return std::nullopt;

  const View view{packet.src(), packet.dst()};
  if (!synAck && recentlyMissed(view)) {
    ++counters_.negativeHits;
    return std::nullopt;
  }
  std::optional<FlowContext> context;
  if (direction) {
    context = lookup(packet, *direction);
  } else {  // control port on both sides and no hook: try both readings
    context = lookup(packet, Direction::ServerToClient);
    if (!context) context = lookup(packet, Direction::ClientToServer);
  }
  if (!context) {
    ++counters_.unresolved;
    rememberMiss(view);
  }
  return context;
}

}  // namespace ftpalg::io
