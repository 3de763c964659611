// Engine::Impl, the conductor's state and its parts, shared by the engine's translation units
// (private to src/engine): engine.cpp (the packet path and the public API), session_admission.cpp
// (which packet starts, restarts or picks up a session) and session_lifecycle.cpp (announcements,
// pinholes, closing, timers, conntrack's news, shutdown). See engine.cpp for the life of a packet.
#pragma once

#include <algorithm>
#include <cassert>
#include <vector>

#include "ftpalg/engine/announcement.hpp"
#include "ftpalg/engine/effects.hpp"
#include "ftpalg/engine/engine.hpp"
#include "ftpalg/engine/escape.hpp"
#include "ftpalg/engine/flow_table.hpp"
#include "ftpalg/engine/packet_emitter.hpp"
#include "ftpalg/engine/pinhole_table.hpp"
#include "ftpalg/engine/session.hpp"
#include "ftpalg/engine/stream_inspector.hpp"
#include "ftpalg/packet/checksum.hpp"
#include "ftpalg/tcp/tcp_window.hpp"

namespace ftpalg {

inline constexpr Duration kScanInterval = std::chrono::seconds(1);
inline constexpr std::size_t kSweepSlotsPerSlice = 8192;

struct Engine::Impl final : AnnouncementSink {
  explicit Impl(Engine& owner)
      : config(owner.config_),
        stats(owner.stats_),
        inspector(config.limits, *this),
        emitter(config.limits, config.ackSpace, config.checksums) {}

  const EngineConfig& config;
  Stats& stats;
  FlowTable<std::unique_ptr<Session>> sessions;
  PinholeTable pinholes;
  StreamInspector inspector;
  PacketEmitter emitter;
  std::optional<Timestamp> nextScan;
  std::size_t sweepCursor = 0;       // first slot of the next sweep slice
  std::vector<FlowKey> sweepDoomed;  // reused: sessions a slice forgets

  // ---------------------------------------------------------------------------------------------
  // Sessions.

  void onPacket(PacketId id, std::span<const std::uint8_t> bytes, const PacketView& packet,
                const FlowContext& flow, Effects& effects);

  // A packet of a kernel-owned session (the conntrack-owned mode, docs/design.md). Conntrack
  // validated it before queueing (INVALID is never queued, nor are RSTs and pure ACKs): the
  // engine sees only payload segments (and the server's SYN-ACK), so it keeps no window state it
  // could not complete and judges no RST or FIN; the session ends only when conntrack destroys
  // the entry (onConntrackDestroyed). A taken-over connection first finds its next line start.
  void onKernelOwnedPacket(Session& session, Direction dir, PacketId id, std::span<const std::uint8_t> bytes,
                           const PacketView& packet, Effects& effects);

  // Whether the packet's checksums let it be believed (checksum::checkPacket; an Offloaded TCP
  // checksum only where the input may carry one, EngineConfig::checksums).
  bool checksumsUsable(const PacketView& packet) const;

  // A packet whose checksums fail is one its receiver drops (RFC 9293 §3.1): like conntrack
  // (nf_conntrack_checksum), the engine neither inspects it nor lets it start, move or end
  // anything. Counted, logged for its session, and passed on (emitCorrupt).
  void passCorrupt(PacketId id, const PacketView& packet, const FlowContext& flow, Effects& effects);

  // Which part a packet plays in a TCP handshake.
  enum class HandshakeRole : std::uint8_t {
    None,          // no SYN
    ClientSyn,     // SYN from the client
    ServerSynAck,  // SYN-ACK from the server
    Other,         // a SYN from the server, a SYN-ACK from the client: never part of a start here
  };
  static HandshakeRole handshakeRole(Direction dir, const PacketView& packet);

  // The packet's session, after starting or restarting it when the packet's SYN says so
  // (docs/security.md "Sessions start at a real handshake"). nullptr when the packet is to pass
  // as it is, outside any session: an RST for an unknown flow, the session limit, or a SYN that
  // plays no part here (a retransmission, a client SYN waiting for the SYN-ACK that would prove
  // it, an unexpected one).
  Session* admit(const FlowContext& flow, const PacketView& packet, Effects& effects);

  // A packet of a flow without a session: a client SYN, or a server SYN-ACK that the shell proves
  // answers a SYN (FlowContext::clientSyn), starts one; any other packet is picked up mid-stream
  // and never inspected.
  Session* start(const FlowContext& flow, const PacketView& packet, HandshakeRole role, Effects& effects);

  // A new handshake on the session's 4-tuple: the session closes (its pinhole goes, its held
  // packets leave) and a fresh one takes its table entry. The flow stays known to the shell.
  Session& replace(Session& old, const FlowContext& flow, Effects& effects);

  static ClientSyn clientSynOf(const PacketView& packet);

  // The client's SYN (RFC 9293 §3.4: it occupies the ISN; data starts at ISN + 1).
  static void beginAtClientSyn(Session& session, const ClientSyn& syn);

  // The server's SYN-ACK to the session's SYN (or, live, to the SYN conntrack saw: the client's
  // ISN is then the one it acknowledges). Fixes both directions' window scaling (RFC 7323 §2.2: in
  // effect only when both SYNs carry the option).
  static void completeHandshake(Session& session, const FlowContext& flow, const PacketView& packet);

  // Picked up mid-stream: the 220 greeting cannot be verified, so never inspected. Bases come from
  // this packet so that (edit-free) translation is the identity; window scaling stays unknown.
  static void pickUpMidstream(Session& session, Direction dir, const PacketView& packet, Effects& effects);

  // The packet's sequence numbers as tcp_window.hpp judges them: its seq in its own original
  // space, its ACK and window edge mapped into the other direction's original space.
  TcpSegmentInfo describeSegment(const Session& session, Direction dir, const PacketView& packet) const;

  // An accepted RST, or accepted FINs from both sides: the TCP connection ended; the session
  // closes (its state lingers for stragglers, Limits::closedSessionLinger).
  void noteConnectionEnd(Session& session, Direction dir, bool reset, Effects& effects);

  void closeSession(Session& session, Reason reason, Effects& effects);

  // Forgets the session (its table entry, and so the Session itself, is destroyed); the shell
  // may drop the flow from its resolver's cache.
  void eraseSession(Session& session, Effects& effects);

  // ---------------------------------------------------------------------------------------------
  // Announcements and pinholes.

  void onAnnouncement(Session& session, Direction dir, const FramedLine& line, const ParsedAddress& parsed,
                      Effects& effects) override;

  // One pinhole per session: a new one replaces the session's previous one. `dir` is the
  // direction of the announcing line.
  void openPinhole(Session& session, Direction dir, const IpAddress& from, const Endpoint& to,
                   std::optional<Endpoint> natTo, Effects& effects);

  void closePinhole(std::uint64_t id, Reason reason, Effects& effects);

  // ---------------------------------------------------------------------------------------------
  // Time.

  // The periodic sweep (hold timeouts, idle close, forgetting) visits every session once per
  // kScanInterval: a table of at most kSweepSlotsPerSlice slots in one pass, a larger one in
  // slices of that many slots spread over the interval, so no single timer call stalls the packet
  // path (100k sessions: 32 slices of well under a millisecond instead of one pass of ~20 ms).
  // A growth or an erase between slices moves entries: a session may then be visited one slice
  // early or late (never twice in a slice, never lost for more than one interval).
  void onTimer(Effects& effects);

  // One session's periodic checks; true when the session is to be forgotten now.
  bool sweepSession(Session& session, Effects& effects);

  // Conntrack-owned mode (engine.hpp: onConntrackDestroyed): the TCP connection is gone.
  void onConntrackDestroyed(const FlowKey& key, Effects& effects);

  // Engine::adopt. A kernel-owned connection whose dialog the previous instance verified is
  // taken over: each direction is read again from its next line start, with the kernel's records
  // as the starting offsets (KernelSequencer::adopt), and the pending expectation becomes the
  // session's pinhole (already in the kernel: no action), so the next announcement replaces it.
  // Any other connection is a mid-stream session, never inspected (its greeting cannot be
  // verified here), like a flow first seen mid-stream.
  //
  // A session that conntrack already ended (closed, lingering until the sweep) does not block the
  // takeover: its connection was destroyed and created again from replicated state (conntrackd's
  // commit on a router that takes over again, docs/ha.md), so the closed session is erased (its
  // flow forgotten) and the new connection adopted.
  void adopt(const KernelTakeover& takeover, Effects& effects);

  void shutdown(Effects& effects);
};

}  // namespace ftpalg
