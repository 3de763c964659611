// ConntrackResolver: see conntrack_resolver.hpp for the contracts. The messages are
// conntrack_netlink.hpp's (libmnl: libnetfilter_conntrack's nfct_query(NFCT_Q_GET) always sends
// the ORIGINAL tuple, and the s2c lookup needs a GET by the REPLY tuple).
#include "conntrack_resolver.hpp"

#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg::io {

ConntrackResolver::ConntrackResolver(std::unique_ptr<ConntrackNetlink> netlink,
                                     ConntrackResolverOptions options)
    : netlink_(std::move(netlink)), options_(std::move(options)) {}
ConntrackResolver::~ConntrackResolver() = default;

Result<std::unique_ptr<ConntrackResolver>> ConntrackResolver::open(const ConntrackResolverOptions& options) {
  auto netlink = ConntrackNetlink::open();
  if (!netlink) return Err(netlink.error());
  return std::unique_ptr<ConntrackResolver>(new ConntrackResolver(std::move(netlink.value()), options));
}

Result<std::optional<ConntrackEntry>> ConntrackResolver::getByOriginal(const ConntrackTuple& tuple) {
  ++counters_.lookups;
  auto entry = netlink_->get(tuple, ConntrackDir::Original);
  if (!entry) return Err(entry.error().message);
  return std::move(entry.value());
}

Result<std::optional<ConntrackEntry>> ConntrackResolver::getByReply(const ConntrackTuple& tuple) {
  ++counters_.lookups;
  auto entry = netlink_->get(tuple, ConntrackDir::Reply);
  if (!entry) return Err(entry.error().message);
  return std::move(entry.value());
}

Result<std::optional<ConntrackEntry>> ConntrackResolver::findByOriginalSourceAndReplySource(
    const Endpoint& originalSource, const Endpoint& replySource) {
  ++counters_.lookups;
  auto entries = netlink_->dumpBySources(originalSource, replySource);
  if (!entries) return Err(entries.error().message);
  if (entries->empty()) return std::optional<ConntrackEntry>();
  return std::optional<ConntrackEntry>(std::move(entries->front()));
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
  // Engine-owned: the s2c packet is queued before conntrack (addresses as on the wire);
  // conntrack-owned: after it, in mangle FORWARD (the client's real address).
  flow.s2cView = View{c2sContext.nat.serverReal, options_.conntrackOwned ? c2sContext.nat.clientReal
                                                                         : c2sContext.nat.clientSeenByServer};
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

void ConntrackResolver::warnOnce(std::string message) {
  if (warned_) return;
  warned_ = true;
  warning_ = std::move(message);
}

std::optional<FlowContext> ConntrackResolver::contextFor(const ConntrackEntry& entry, Direction direction) {
  const bool anchored = entry.helper == "sane" && (entry.mark & options_.controlMark) != 0 &&
                        (entry.status & ct_status::kHelper) != 0;
  if (!entry.helper.empty() && !(anchored && options_.conntrackOwned) && !options_.observeHelperFlows) {
    // The kernel's own helper (nf_conntrack_ftp or another) rewrites this connection, or it carries
    // the anchor of a conntrack-owned instance while this one owns sequence numbers itself: stay
    // out.
    ++counters_.kernelHelperFlows;
    warnOnce("connection " + entry.original.src.toString() + " -> " + entry.original.dst.toString() +
             (anchored
                  ? " carries the conntrack-owned anchor (helper \"sane\", an earlier ftpalg run with "
                    "--seq-owner kernel): ftpalg in the engine-owned mode leaves it alone"
                  : " has the kernel conntrack helper \"" + entry.helper +
                        "\" assigned: ftpalg leaves it alone (both would rewrite); remove the `ct helper` "
                        "assignment for the control ports ftpalg serves"));
    return std::nullopt;
  }
  if (options_.conntrackOwned && !anchored) {
    ++counters_.unanchoredFlows;
    return std::nullopt;
  }
  FlowContext context;
  context.nat.clientReal = entry.original.src;
  context.nat.serverSeenByClient = entry.original.dst;
  context.nat.serverReal = entry.reply.src;
  context.nat.clientSeenByServer = entry.reply.dst;
  context.key = FlowKey{context.nat.clientReal, context.nat.serverReal};
  context.direction = direction;
  if (options_.conntrackOwned) {
    context.sequenceOwner = SequenceOwner::Kernel;
    context.kernelSeqAdjust = (entry.status & (ct_status::kSrcNat | ct_status::kDstNat)) != 0;
  }
  if (!isControlPort(context.nat.serverReal.port)) return std::nullopt;
  cache(context);
  context.direction = direction;
  return context;
}

std::optional<FlowContext> ConntrackResolver::lookupBothNat(const Endpoint& clientReal,
                                                            const Endpoint& serverReal, Direction direction) {
  auto failed = [&](const std::string& error) -> std::optional<FlowContext> {
    ++counters_.errors;
    if (!warning_) {
      warning_ =
          "conntrack lookup for " + clientReal.toString() + " -> " + serverReal.toString() + ": " + error;
    }
    return std::nullopt;
  };
  if (auto entry = getByOriginal(ConntrackTuple{clientReal, serverReal}); !entry) {
    return failed(entry.error());
  } else if (entry.value() && entry.value()->reply.src == serverReal) {  // server not DNATed
    ++counters_.resolvedByOriginal;
    return contextFor(**entry, direction);
  }
  if (auto entry = getByReply(ConntrackTuple{serverReal, clientReal}); !entry) {
    return failed(entry.error());
  } else if (entry.value() && entry.value()->original.src == clientReal) {  // client not SNATed
    ++counters_.resolvedByReply;
    return contextFor(**entry, direction);
  }
  if (!takeDumpToken()) {
    ++counters_.dumpsRateLimited;
    return std::nullopt;
  }
  auto entry = findByOriginalSourceAndReplySource(clientReal, serverReal);  // both NATed
  if (!entry) return failed(entry.error());
  if (!entry.value()) return std::nullopt;
  ++counters_.resolvedByDump;
  return contextFor(**entry, direction);
}

std::optional<FlowContext> ConntrackResolver::lookup(const PacketView& packet, Direction direction) {
  const Endpoint src = packet.src();
  const Endpoint dst = packet.dst();
  if (options_.conntrackOwned) {
    // mangle FORWARD, both directions: the real endpoints, in the packet's direction.
    return direction == Direction::ClientToServer ? lookupBothNat(src, dst, direction)
                                                  : lookupBothNat(dst, src, direction);
  }
  if (direction == Direction::ServerToClient) {
    // raw PREROUTING: the packet's addresses are the reply tuple.
    auto entry = getByReply(ConntrackTuple{src, dst});
    if (!entry) {
      ++counters_.errors;
      if (!warning_)
        warning_ = "conntrack lookup for " + src.toString() + " -> " + dst.toString() + ": " + entry.error();
      return std::nullopt;
    }
    if (!entry.value()) return std::nullopt;
    ++counters_.resolvedByReply;
    return contextFor(**entry, direction);
  }
  // mangle FORWARD: src = client real, dst = server real.
  return lookupBothNat(src, dst, direction);
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
  if (options_.conntrackOwned) {
    if (toControl != fromControl)
      direction = toControl ? Direction::ClientToServer : Direction::ServerToClient;
  } else if (hook_ == QueueHook::PreRouting)
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
