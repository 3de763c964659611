// ControlChannel: the FTP control-connection state machine for one session. Pure: it sees whole
// lines (from LineFramer) of each direction, in arrival order, and says what each line means for
// the gateway. It knows nothing of NAT, policy or packets.
//
// Rules (docs/design.md#required-behaviour, docs/adversarial-cases.md):
//  - The server speaks first: a 220 (optionally preceded by 120, RFC 959 §5.4) must arrive before
//    any client byte. A client line before that, or a first server reply that is not 1xx/220,
//    makes the session NotFtp forever (slipstreaming defence); the engine also calls
//    clientSpokeFirst() when client payload arrives before the greeting, even mid-line.
//  - PORT/EPRT count only from the client at a line start. 227/229 count only from the server,
//    only on the FIRST line of a reply (multi-line: "227-..." counts, continuation and final
//    lines do not, RFC 959 §4.2), and only when a PASV (for 227) or EPSV (for 229) is pending.
//    A pending PASV/EPSV is consumed by the next complete reply, whatever its code.
//  - After a client "EPSV ALL" (RFC 2428 §4), PORT, EPRT and PASV are refused (a PASV is
//    reported with verb Reply227, the reply it asks for, and its 227 is then unsolicited).
//  - "AUTH <mech>" answered by 234 makes the channel Opaque (TLS, RFC 4217); the engine then
//    stops framing lines and tracks TLS records (ftp/tls_record_tracker.hpp); resumeCleartext()
//    returns to Inspecting (after CCC, RFC 4217 §12.3, the stream returns to cleartext at a record
//    boundary). 234 is defined only as the answer to AUTH (RFC 2228 §4), so ANY complete 234
//    reply makes the channel opaque, even one the pending ring does not pair with an AUTH (after
//    a REIN, a lost reply, a ring overflow): missing a TLS start would let handshake bytes that
//    the client chose (a ClientHello extension) be framed and parsed as commands (fail closed).
//  - Replies are paired with commands in order (RFC 959 §4.2, one final reply per command): 1xx
//    replies are preliminary and pair with nothing; each complete 2xx-6xx reply (6yz: RFC 2228)
//    answers the oldest pending command. Every client line, even one that is not a command,
//    counts as a pending command (servers answer those with 500). A multi-line reply answers at
//    its final line; a 227/229 announcement is taken from its first line only.
//  - REIN (RFC 959 §4.1.1) clears pending commands, EPSV ALL and AUTH state.
//  - Commands are matched case-insensitively; a line whose keyword contains NUL, 8-bit bytes or
//    IAC but whose letters spell PORT/EPRT is refused as nonprintable_bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/ftp/address_codec.hpp"

namespace ftpalg {

enum class ChannelState : std::uint8_t {
  AwaitingGreeting,  // nothing or only 1xx from the server yet
  Inspecting,        // greeting seen; lines are parsed
  Opaque,            // AUTH answered by 234: TLS, nothing is parsed
  NotFtp,            // the dialog did not start as FTP; never inspected again
};
std::string_view channelStateName(ChannelState state);

// Why a line that looked address-bearing was refused by the channel itself (before policy).
// Syntax defers to the address codec (LineMeaning::syntaxError names the AddressSyntaxError); the
// others are the channel's own, listed apart so the engine's Reason list (engine/reasons.hpp) can
// take them without Syntax.
#define FTPALG_CHANNEL_OWN_REFUSALS(X)                                                                      \
  X(UnsolicitedReply, "unsolicited_reply") /* 227/229 with no PASV/EPSV pending */                          \
  X(WrongDirection, "wrong_direction")     /* 227/229 from the client, PORT/EPRT from the server */         \
  X(ContinuationLine, "continuation_line") /* 227/229 inside a multi-line reply */                          \
  X(AfterEpsvAll, "after_epsv_all")        /* PORT/EPRT/PASV after EPSV ALL */                              \
  X(FamilyMismatch, "family_mismatch")     /* EPRT family != control connection family; PORT/227 on IPv6 */ \
  X(NotTranslated, "not_translated")       /* LPRT, LPSV, 228: recognised, passed, no pinhole */
#define FTPALG_CHANNEL_REFUSALS(X)          \
  X(Syntax, "syntax") /* see syntaxError */ \
  FTPALG_CHANNEL_OWN_REFUSALS(X)

enum class ChannelRefusal : std::uint8_t {
#define FTPALG_X(name, text) name,
  FTPALG_CHANNEL_REFUSALS(FTPALG_X)
#undef FTPALG_X
};
std::string_view channelRefusalName(ChannelRefusal refusal);

struct LineMeaning {
  enum class Kind : std::uint8_t {
    Nothing,       // an ordinary line
    Announcement,  // a valid PORT/EPRT/227/229 to be checked by policy and rewritten
    Refused,       // looked address-bearing but refused (see refusal / syntaxError)
    BecameOpaque,  // this line (a 234 answering AUTH) made the channel opaque
    BecameNotFtp,  // this line revealed that the session is not FTP
    GreetingSeen,  // the 220 greeting
  };
  Kind kind = Kind::Nothing;
  AddressVerb verb = AddressVerb::Port;             // Announcement / Refused
  ParsedAddress address;                            // Announcement
  ChannelRefusal refusal = ChannelRefusal::Syntax;  // Refused
  std::optional<AddressSyntaxError> syntaxError;    // Refused with refusal == Syntax
};

class ControlChannel {
 public:
  // `family`: the control connection's address family (EPRT/PORT family check).
  explicit ControlChannel(IpFamily family) : family_(family) {}

  LineMeaning onClientLine(std::string_view line);
  LineMeaning onServerLine(std::string_view line);
  // Client payload arrived while AwaitingGreeting (even an incomplete line): becomes NotFtp.
  // Returns true when this call changed the state.
  bool clientSpokeFirst();
  // The TLS section ended (see file comment): Opaque -> Inspecting.
  void resumeCleartext();
  // A connection taken over from a previous instance that had verified the greeting (the
  // conntrack-owned mode's takeover, docs/design.md#restart-and-takeover): AwaitingGreeting ->
  // Inspecting, with no command pending (replies to commands sent before the takeover are
  // unsolicited; a 227/229 among them is refused).
  void adoptVerified() {
    if (state_ == ChannelState::AwaitingGreeting) state_ = ChannelState::Inspecting;
  }

  ChannelState state() const { return state_; }
  bool epsvAll() const { return epsvAll_; }
  bool inMultiLineReply() const { return multiLineCode_.has_value(); }
  // True when a server line starting now with 227/229 could be an announcement (a PASV or EPSV
  // is pending and no multi-line reply is open): lets the engine decide whether to hold a
  // partial server line.
  bool replyAnnouncementPossible() const;
  // Commands sent and not yet answered by a final reply (diagnostics and tests).
  std::size_t pendingCommandCount() const { return std::size_t{pendingCount_} + pendingOverflow_; }

 private:
  enum class Pending : std::uint8_t { Pasv, Epsv, Auth, Ccc, Rein, Other };

  void pushPending(Pending command);
  std::optional<Pending> oldestPending() const;
  std::optional<Pending> popPending();
  void clearPending();
  LineMeaning classifyReplyFirstLine(std::string_view line, std::uint16_t code) const;
  LineMeaning completeReply(std::uint16_t code);
  LineMeaning onGreetingLine(std::string_view line);

  IpFamily family_;
  ChannelState state_ = ChannelState::AwaitingGreeting;
  bool epsvAll_ = false;
  // True while the open multi-line reply answers a pending command (a 2xx-6xx reply that is not
  // the greeting); false for a 1xx or the 220 greeting, which answer nothing.
  bool multiLineAnswersCommand_ = false;
  std::optional<std::uint16_t> multiLineCode_;  // code of the open multi-line reply
  // Commands awaiting a reply, oldest first: a fixed ring (no heap: 100k sessions must stay
  // small). Commands sent while the ring is full are only counted (pendingOverflow_); as the ring
  // drains, each counted command re-enters it as Other, which can never match a 227/229. So the
  // pairing of replies with commands stays exact and only the kinds of the excess commands are
  // forgotten (fail closed). The counter saturates.
  static constexpr std::size_t kMaxPending = 16;
  std::array<Pending, kMaxPending> pending_{};
  std::uint8_t pendingHead_ = 0;
  std::uint8_t pendingCount_ = 0;
  std::uint32_t pendingOverflow_ = 0;
};

}  // namespace ftpalg
