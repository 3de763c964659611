// What conntrack keeps about an FTP control connection in the conntrack-owned mode
// (docs/design.md#conntrack-owned-mode), as the engine sees it: the kernel's sequence adjustment
// record of each direction, and the state a new ftpalg instance finds when it takes a running
// connection over (Engine::adopt). The shell reads and writes the kernel side
// (src/io/conntrack_netlink.hpp); the engine only ever sees these values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/engine/flow_context.hpp"

namespace ftpalg {

// One direction's sequence adjustment, exactly as conntrack keeps it (struct nf_ct_seqadj;
// ctnetlink CTA_SEQADJ_*). The kernel keeps ONE such record per direction of a connection.
// Host byte order here; big-endian on the wire.
//
//   correctionPosition: the raw 32-bit sequence number of the rewritten segment in its SENDER's
//       own space (its seq field as the sender sent it: what the queued packet shows in mangle
//       FORWARD; the kernel applies the adjustment later, at confirm).
//   offsetBefore: the cumulative length delta (output bytes - input bytes) of every earlier edit
//       of this direction; offsetAfter: offsetBefore + this segment's delta.
//
// The kernel then (nf_ct_seq_adjust) adds offsetAfter to the seq of a segment whose raw seq is
// after(seq, correctionPosition) and offsetBefore to every other one (the edited segment itself
// and anything before it, including its retransmissions), and subtracts from the peer's ACK and
// SACK edges offsetAfter when after(ack - offsetBefore, correctionPosition), else offsetBefore.
// Consequences the engine must respect:
//   - a retransmission of the edited segment must carry the identical rewritten payload (it is
//     placed at correctionPosition + offsetBefore again);
//   - a second edit in a direction replaces the record: while the previous edited segment is not
//     acknowledged, its retransmission would get the new record's offsetBefore and the peer's
//     ACKs for it would be translated with the new record. Hence at most one unacknowledged
//     edit per direction.
// A record of all zeros is "no edit yet" (the kernel reports the untouched direction that way).
struct SeqAdjRecord {
  std::uint32_t correctionPosition = 0;
  std::int32_t offsetBefore = 0;
  std::int32_t offsetAfter = 0;
  friend bool operator==(const SeqAdjRecord&, const SeqAdjRecord&) = default;
};

// A conntrack expectation of the connection that was pending when it was taken over: the
// pinhole the previous instance opened and the data connection has not used yet. Addresses as in
// Pinhole (outcome.hpp): `from` is the connecting peer's real address (any source port), `to`
// what it connects to, `natTo` where the kernel forwards it.
struct PendingExpectation {
  IpAddress from;
  Endpoint to;
  Endpoint natTo;
  std::chrono::seconds remaining{0};  // the kernel's timer when the dump was taken
  friend bool operator==(const PendingExpectation&, const PendingExpectation&) = default;
};

// An anchored control connection found in conntrack when an instance starts (a restart, an
// upgrade, a crash of the previous one): the input of Engine::adopt.
struct KernelTakeover {
  // key and nat as the FlowResolver reports them for this connection; sequenceOwner Kernel and
  // kernelSeqAdjust as for its packets; direction is meaningless here.
  FlowContext flow;
  SeqAdjRecord clientToServer;  // CTA_SEQ_ADJ_ORIG (all zeros without an edit)
  SeqAdjRecord serverToClient;  // CTA_SEQ_ADJ_REPLY
  // The previous instance had verified the FTP dialog (the 220 greeting at the start of the
  // server's stream) and recorded it (MarkDialogVerified, outcome.hpp).
  bool dialogVerified = false;
  // At most one: a master may hold one expectation (the sane helper's max_expected is 1).
  std::optional<PendingExpectation> pending;
  friend bool operator==(const KernelTakeover&, const KernelTakeover&) = default;
};

}  // namespace ftpalg
