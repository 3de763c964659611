// ConntrackResolver: the live FlowResolver. It names each queued control packet's connection by
// its real endpoints and reports the four NAT views, from the kernel's conntrack table through
// ctnetlink (conntrack_netlink.hpp; docs/design.md#no-conntrack-on-queued-packets).
//
// A conntrack entry is  original = (client real -> server as seen by the client)
//                       reply    = (server real -> client as seen by the server).
//
// Engine-owned queue points (docs/design.md#hook-placement) and what each packet shows:
//   c2s, mangle FORWARD (after conntrack, after DNAT, before SNAT):
//        src = client real, dst = server real
//   s2c, raw PREROUTING (before conntrack, addresses as on the wire):
//        src = server real, dst = client as seen by the server
//        == exactly the conntrack REPLY tuple.
// Conntrack-owned queue point (docs/design.md#payload-only-queueing): both directions in mangle
// FORWARD, where the reply direction is already de-SNATed and not yet de-DNATed:
//   c2s: src = client real, dst = server real;  s2c: src = server real, dst = client real.
//   The direction comes from the ports (the NFQUEUE header names the same hook for both).
//
// Lookups, on a cache miss (measured on this machine, see docs/admin-guide.md):
//   engine-owned s2c: GET by reply tuple = the packet's own addresses (one exact lookup).
//   c2s (and conntrack-owned s2c with the endpoints swapped): GET by original tuple (works when
//         the server is not DNATed), then GET by reply tuple (server real -> client real: works
//         when the client is not SNATed), then a dump filtered in the kernel (CTA_FILTER) on
//         original source and reply source (both NATs).
//   A client's first SYN is never looked up: at mangle FORWARD its conntrack is not yet
//   confirmed (ctnetlink cannot see it) and SNAT is not yet chosen. It resolves to nullopt (the
//   engine accepts it untouched); the session starts at the server's SYN-ACK, whose lookup
//   always succeeds and caches both views.
//
// Helpers. A connection that carries a conntrack helper is not ours (the kernel's ftp helper would
// rewrite it too): resolve() returns nullopt for it and counts it (Counters::kernelHelperFlows),
// except for ftpalg's own anchor (helper "sane", the control mark bit, anchor_rules.hpp) in the
// conntrack-owned mode: such a flow resolves with SequenceOwner::Kernel, and kernelSeqAdjust when
// NAT changed its tuple. In that mode a connection without the anchor resolves to nullopt
// (Counters::unanchoredFlows): the queue rules select anchored connections only, and the engine
// cannot own the sequence numbers of a connection queued after conntrack in both directions. In
// the engine-owned mode an anchored connection (left by a conntrack-owned instance) is left alone
// like any other helper's: its kernel seqadj records would apply on top of the engine's translation.
// With observeHelperFlows (--dry-run) helper connections resolve like any other.
//
// Cache: both views of each resolved flow, LRU, bounded (maxFlows); forget() drops a flow.
// Misses are remembered for a second (negative cache, bounded), and the costly filtered dump is
// rate-limited, so packets on a control port without a usable conntrack entry (forged, or from
// a flow that began before the daemon) cannot make every packet a kernel table walk.
// Single-threaded: one resolver per engine thread (each has its own netlink socket).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ftpalg/core/result.hpp"
#include "ftpalg/engine/flow_context.hpp"
#include "ftpalg/io/interfaces.hpp"
#include "io/conntrack_netlink.hpp"
#include "io/nfqueue_source.hpp"

namespace ftpalg::io {

struct ConntrackResolverOptions {
  std::vector<std::uint16_t> controlPorts{21};
  // Conntrack-owned mode (--seq-owner kernel): the queue layout and the anchor described above;
  // `controlMark` is the anchor's ct mark bit.
  bool conntrackOwned = false;
  std::uint32_t controlMark = 0x00020000;
  // --dry-run (copies through NFLOG, nothing changed): a connection the kernel's ftp helper
  // serves is resolved like any other, so the dry-run logs what ftpalg would decide for it
  // (shadow mode, docs/admin-guide.md#dry-run-and-shadow-mode). Never in live mode: both would
  // rewrite.
  bool observeHelperFlows = false;
  std::size_t maxFlows = 65536;    // cached flows (two views each)
  std::size_t maxNegative = 8192;  // remembered misses
  std::chrono::milliseconds negativeTtl{1000};
  double dumpsPerSecond = 20;  // filtered dumps (both-NAT c2s misses), token bucket
};

class ConntrackResolver final : public FlowResolver {
 public:
  static Result<std::unique_ptr<ConntrackResolver>> open(const ConntrackResolverOptions& options);
  ~ConntrackResolver() override;
  ConntrackResolver(const ConntrackResolver&) = delete;
  ConntrackResolver& operator=(const ConntrackResolver&) = delete;

  // The queue point of the packet about to be resolved (the runner sets it from the NFQUEUE
  // packet header before Engine::onPacket). Engine-owned: PreRouting means s2c, Forward means c2s;
  // Unknown falls back to the control ports. Conntrack-owned: not used (always the ports).
  void setQueueHook(QueueHook hook) { hook_ = hook; }
  // The time of the packet about to be resolved (the runner's monotonic clock): ages the
  // negative cache and the dump budget.
  void setNow(Timestamp now) { now_ = now; }

  std::optional<FlowContext> resolve(const PacketView& packet) override;
  void forget(const FlowKey& key) override;

  // The three lookups, also for tests and measurements. nullopt: no such entry.
  //   conntrack -G -p tcp -s SRC --sport SP -d DST --dport DP      (original tuple)
  Result<std::optional<ConntrackEntry>> getByOriginal(const ConntrackTuple& tuple);
  //   conntrack -G -p tcp --reply-src SRC --reply-port-src SP --reply-dst DST --reply-port-dst DP
  Result<std::optional<ConntrackEntry>> getByReply(const ConntrackTuple& tuple);
  //   conntrack -L -p tcp -s ORIGSRC --sport OSP --reply-src REPLYSRC --reply-port-src RSP
  //   (the filter runs in the kernel: CTA_FILTER)
  Result<std::optional<ConntrackEntry>> findByOriginalSourceAndReplySource(const Endpoint& originalSource,
                                                                           const Endpoint& replySource);

  struct Counters {
    std::uint64_t cacheHits = 0;
    std::uint64_t lookups = 0;  // netlink round trips
    std::uint64_t resolvedByReply = 0;
    std::uint64_t resolvedByOriginal = 0;
    std::uint64_t resolvedByDump = 0;
    std::uint64_t unresolved = 0;  // a control-port packet without a usable entry
    std::uint64_t firstSynSkipped = 0;
    std::uint64_t kernelHelperFlows = 0;
    std::uint64_t unanchoredFlows = 0;  // conntrack-owned mode: a flow without ftpalg's anchor
    std::uint64_t evictions = 0;
    std::uint64_t negativeHits = 0;  // a recent miss answered without asking the kernel
    std::uint64_t dumpsRateLimited = 0;
    std::uint64_t errors = 0;
  };
  const Counters& counters() const { return counters_; }
  std::size_t cachedFlows() const { return flows_.size(); }
  // Set once, when a flow with the kernel ftp helper is first seen (for a warning line).
  std::optional<std::string> takeWarning();

 private:
  struct View {
    Endpoint src;
    Endpoint dst;
    friend bool operator==(const View&, const View&) = default;
  };
  struct ViewHash {
    std::size_t operator()(const View& view) const noexcept;
  };
  struct CachedFlow {
    FlowContext c2s;  // direction ClientToServer
    View c2sView;
    View s2cView;
  };

  explicit ConntrackResolver(std::unique_ptr<ConntrackNetlink> netlink, ConntrackResolverOptions options);
  bool isControlPort(std::uint16_t port) const;
  std::optional<FlowContext> lookup(const PacketView& packet, Direction direction);
  std::optional<FlowContext> lookupBothNat(const Endpoint& clientReal, const Endpoint& serverReal,
                                           Direction direction);
  std::optional<FlowContext> contextFor(const ConntrackEntry& entry, Direction direction);
  void warnOnce(std::string message);
  void cache(const FlowContext& c2sContext);
  std::optional<FlowContext> fromCache(const View& view);
  bool recentlyMissed(const View& view);
  void rememberMiss(const View& view);
  bool takeDumpToken();

  std::unique_ptr<ConntrackNetlink> netlink_;
  ConntrackResolverOptions options_;
  QueueHook hook_ = QueueHook::Unknown;
  Timestamp now_;
  std::unordered_map<View, Timestamp, ViewHash> negative_;  // view -> until
  std::deque<View> negativeOrder_;
  double dumpTokens_ = 0;
  Timestamp dumpTokensAt_;
  bool dumpTokensStarted_ = false;
  Counters counters_;
  std::optional<std::string> warning_;
  bool warned_ = false;
  // LRU of flows (front = most recent) and both views pointing into it.
  std::list<std::pair<FlowKey, CachedFlow>> flows_;
  std::unordered_map<FlowKey, std::list<std::pair<FlowKey, CachedFlow>>::iterator, FlowKeyHash> byKey_;
  std::unordered_map<View, FlowKey, ViewHash> byView_;
};

}  // namespace ftpalg::io
