// TCP acceptability as a middlebox can judge it: from the segments of one connection that passed,
// how far each side has sent, how far the other acknowledged and which window it advertised, and
// from that whether the receiving TCP would accept a segment. The engine uses it to decide which
// RST or FIN ends a session (docs/architecture.md "The life of a packet", step 4) and which
// segments may move this state at all, so that packets an attacker sends with guessed sequence
// numbers neither end a session nor widen what the next guess has to hit.
//
// The rules are those of the kernel's conntrack (tcp_in_window: bounds I-IV below) and of
// RFC 5961 (an RST resets only at exactly RCV.NXT; a segment acknowledging unsent data is
// discarded), written for 64-bit offsets.
//
// Offsets are stream offsets of one direction in its sender's original sequence space, relative
// to its ISN + 1 (docs/architecture.md "Sequence spaces"): a SYN occupies offset -1, the first
// payload byte 0. The caller maps a segment's acknowledgement (and the right edge of the window it
// advertises) into the acknowledged direction's original space before calling.
#pragma once

#include <cstdint>
#include <optional>

namespace ftpalg {

// RFC 7323 §2.3: a Window Scale shift above 14 is treated as 14.
inline constexpr std::uint8_t kMaxWindowShift = 14;

// One direction of a connection (sender -> receiver), as far as plausible segments showed it.
struct TcpDirectionWindow {
  // End of the highest segment the sender sent (a SYN and a FIN each occupy one offset).
  std::int64_t sentEnd = 0;
  // The highest acknowledgement the receiver sent: its RCV.NXT as last seen.
  std::optional<std::int64_t> acked;
  // The highest right edge (acknowledgement + window) the receiver advertised.
  std::optional<std::int64_t> windowEnd;
  // The largest window the receiver advertised, in bytes.
  std::int64_t maxWindow = 0;
};

// One segment of the direction called `mine` below (its reverse is `theirs`), numbers mapped.
struct TcpSegmentInfo {
  std::int64_t seq = 0;     // offset of its first sequence number
  std::int64_t length = 0;  // sequence numbers it occupies: payload, +1 for a SYN, +1 for a FIN
  bool fin = false;
  // With the ACK flag: the acknowledged offset of `theirs`, the right edge of the advertised
  // window in the same space, and the window in bytes (scaled unless it is a SYN's).
  std::optional<std::int64_t> ack;
  std::int64_t windowEnd = 0;
  std::int64_t window = 0;

  std::int64_t end() const { return seq + length; }
};

// Conntrack's bounds (tcp_in_window), each held while the state it needs is unknown:
//  I   seq <= mine.windowEnd:                    it starts inside what the receiver allowed;
//  II  end >= mine.sentEnd - mine.maxWindow:     it is not older than a window;
//  III ack <= theirs.sentEnd:                    it acknowledges nothing its receiver did not send
//                                                (RFC 5961 §5);
//  IV  ack >= theirs.sentEnd - max(theirs.maxWindow, 66000): nor far too little.
bool tcpSegmentPlausible(const TcpSegmentInfo& segment, const TcpDirectionWindow& mine,
                         const TcpDirectionWindow& theirs);

// Records a plausible segment: how far its sender sent; what it acknowledges and the window it
// advertises for `theirs`.
void tcpRecordSegment(const TcpSegmentInfo& segment, TcpDirectionWindow& mine, TcpDirectionWindow& theirs);

// Whether an RST ends the connection. RFC 5961 §3.2: a receiver resets only for an RST at exactly
// its RCV.NXT. A middlebox sees RCV.NXT only as the receiver's last acknowledgement, and the
// receiver reaches the sender's next sequence number once the bytes in flight arrive, so the RST
// must lie in [mine.acked, max(mine.sentEnd, mine.acked)] (conntrack's exact-ACK and "RST train"
// cases). Before the receiver acknowledged anything (an RST answering a SYN), RFC 9293 §3.10.7.3
// (SYN-SENT): it must acknowledge exactly what the receiver sent. Bounds III and IV apply.
bool tcpResetAcceptable(const TcpSegmentInfo& segment, const TcpDirectionWindow& mine,
                        const TcpDirectionWindow& theirs);

// Whether a FIN ends the sender's stream: a plausible segment (I-IV) whose FIN lies at or after
// the receiver's acknowledged point (one before it: a retransmission of a FIN already taken),
// once the receiver has acknowledged anything. A FIN inside the window beyond a gap counts: the
// receiver takes it once the gap is filled.
bool tcpFinAcceptable(const TcpSegmentInfo& segment, const TcpDirectionWindow& mine,
                      const TcpDirectionWindow& theirs);

}  // namespace ftpalg
