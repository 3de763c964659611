// ControlChannel: see include/ftpalg/ftp/control_channel.hpp for the rules it enforces.
#include "ftpalg/ftp/control_channel.hpp"

#include <limits>

namespace ftpalg {

namespace {

bool isPreliminaryCode(std::uint16_t code) { return code >= 100 && code < 200; }
// 2yz-5yz (RFC 959 §4.2) and 6yz protected replies (RFC 2228 §4).
bool isFinalCode(std::uint16_t code) { return code >= 200 && code < 700; }
bool isReplyCode(std::uint16_t code) { return isPreliminaryCode(code) || isFinalCode(code); }

constexpr std::uint16_t kGreeting = 220;
constexpr std::uint16_t kAuthAccepted = 234;  // RFC 2228 §4, RFC 4217 §4
constexpr std::uint16_t kLongPassive = 228;   // RFC 1639
constexpr std::uint16_t kPassive = 227;
constexpr std::uint16_t kExtendedPassive = 229;

LineMeaning meaning(LineMeaning::Kind kind) {
  LineMeaning result;
  result.kind = kind;
  return result;
}

LineMeaning refused(AddressVerb verb, ChannelRefusal refusal) {
  LineMeaning result;
  result.kind = LineMeaning::Kind::Refused;
  result.verb = verb;
  result.refusal = refusal;
  return result;
}

LineMeaning syntaxRefusal(AddressVerb verb, AddressSyntaxError error) {
  LineMeaning result = refused(verb, ChannelRefusal::Syntax);
  result.syntaxError = error;
  return result;
}

LineMeaning fromParse(const ParseResult& parsed, AddressVerb verb) {
  if (const auto* error = std::get_if<AddressSyntaxError>(&parsed)) return syntaxRefusal(verb, *error);
  LineMeaning result;
  result.kind = LineMeaning::Kind::Announcement;
  result.verb = verb;
  result.address = std::get<ParsedAddress>(parsed);
  return result;
}

// A server line that starts like a client's PORT/EPRT (the letters in any case).
std::optional<AddressVerb> serverLineLooksLikeCommand(std::string_view line) {
  const auto word = commandWord(line);
  if (!word) return std::nullopt;
  if (word->view() == "PORT") return AddressVerb::Port;
  if (word->view() == "EPRT") return AddressVerb::Eprt;
  return std::nullopt;
}

// "EPSV ALL" (RFC 2428 §4), keyword and argument in any case.
bool isEpsvAll(std::string_view line) {
  std::string_view argument = line.substr(4);
  while (!argument.empty() && argument.front() == ' ') argument.remove_prefix(1);
  while (!argument.empty() && argument.back() == ' ') argument.remove_suffix(1);
  if (argument.size() != 3) return false;
  return (argument[0] | 0x20) == 'a' && (argument[1] | 0x20) == 'l' && (argument[2] | 0x20) == 'l';
}

}  // namespace

std::string_view channelStateName(ChannelState state) {
  switch (state) {
    case ChannelState::AwaitingGreeting: return "awaiting_greeting";
    case ChannelState::Inspecting: return "inspecting";
    case ChannelState::Opaque: return "opaque";
    case ChannelState::NotFtp: return "not_ftp";
  }
  return "unknown";
}

std::string_view channelRefusalName(ChannelRefusal refusal) {
  switch (refusal) {
#define FTPALG_X(name, text) \
  case ChannelRefusal::name: return text;
    FTPALG_CHANNEL_REFUSALS(FTPALG_X)
#undef FTPALG_X
  }
  return "unknown";
}

void ControlChannel::pushPending(Pending command) {
  if (pendingCount_ == kMaxPending) {
    if (pendingOverflow_ != std::numeric_limits<std::uint32_t>::max()) ++pendingOverflow_;
    return;
  }
  pending_[(pendingHead_ + pendingCount_) % kMaxPending] = command;
  ++pendingCount_;
}

std::optional<ControlChannel::Pending> ControlChannel::oldestPending() const {
  if (pendingCount_ == 0) return std::nullopt;
  return pending_[pendingHead_];
}

std::optional<ControlChannel::Pending> ControlChannel::popPending() {
  if (pendingCount_ == 0) return std::nullopt;
  const Pending oldest = pending_[pendingHead_];
  pendingHead_ = static_cast<std::uint8_t>((pendingHead_ + 1) % kMaxPending);
  --pendingCount_;
  if (pendingOverflow_ > 0) {
    --pendingOverflow_;
    pushPending(Pending::Other);
  }
  return oldest;
}

void ControlChannel::clearPending() {
  pendingHead_ = 0;
  pendingCount_ = 0;
  pendingOverflow_ = 0;
}

bool ControlChannel::clientSpokeFirst() {
  if (state_ != ChannelState::AwaitingGreeting) return false;
  state_ = ChannelState::NotFtp;
  return true;
}

void ControlChannel::resumeCleartext() {
  if (state_ != ChannelState::Opaque) return;
  state_ = ChannelState::Inspecting;
  // The commands and replies exchanged inside TLS (CCC and its 200 at least) were never seen.
  clearPending();
  multiLineCode_.reset();
  multiLineAnswersCommand_ = false;
}

bool ControlChannel::replyAnnouncementPossible() const {
  if (state_ != ChannelState::Inspecting || multiLineCode_) return false;
  const auto oldest = oldestPending();
  return oldest == Pending::Pasv || oldest == Pending::Epsv;
}

bool ControlChannel::passiveReplyAwaited() const {
  // Commands past the ring (pendingOverflow_) re-enter it as Other: never a PASV/EPSV.
  for (std::uint8_t i = 0; i < pendingCount_; ++i) {
    const Pending command = pending_[(pendingHead_ + i) % kMaxPending];
    if (command == Pending::Pasv || command == Pending::Epsv) return true;
  }
  return false;
}

LineMeaning ControlChannel::onClientLine(std::string_view line) {
  switch (state_) {
    case ChannelState::NotFtp:
    case ChannelState::Opaque: return meaning(LineMeaning::Kind::Nothing);
    case ChannelState::AwaitingGreeting:
      // Slipstreaming defence: an FTP client waits for the 220 (RFC 959 §5.4).
      state_ = ChannelState::NotFtp;
      return meaning(LineMeaning::Kind::BecameNotFtp);
    case ChannelState::Inspecting: break;
  }

  const auto word = commandWord(line);
  if (!word) {
    pushPending(Pending::Other);  // servers answer unknown lines too (500)
    if (const auto obscured = obscuredCommandWord(line)) {
      if (obscured->view() == "PORT")
        return syntaxRefusal(AddressVerb::Port, AddressSyntaxError::NonPrintable);
      if (obscured->view() == "EPRT")
        return syntaxRefusal(AddressVerb::Eprt, AddressSyntaxError::NonPrintable);
    }
    if (const auto reply = replyCode(line)) {
      if (reply->code == kPassive) return refused(AddressVerb::Reply227, ChannelRefusal::WrongDirection);
      if (reply->code == kExtendedPassive)
        return refused(AddressVerb::Reply229, ChannelRefusal::WrongDirection);
      if (reply->code == kLongPassive) return refused(AddressVerb::Reply228, ChannelRefusal::WrongDirection);
    }
    return meaning(LineMeaning::Kind::Nothing);
  }

  const std::string_view keyword = word->view();
  if (keyword == "PORT") {
    pushPending(Pending::Other);
    if (epsvAll_) return refused(AddressVerb::Port, ChannelRefusal::AfterEpsvAll);
    if (family_ != IpFamily::V4) return refused(AddressVerb::Port, ChannelRefusal::FamilyMismatch);
    return fromParse(parsePort(line), AddressVerb::Port);
  }
  if (keyword == "EPRT") {
    pushPending(Pending::Other);
    if (epsvAll_) return refused(AddressVerb::Eprt, ChannelRefusal::AfterEpsvAll);
    LineMeaning result = fromParse(parseEprt(line), AddressVerb::Eprt);
    if (result.kind == LineMeaning::Kind::Announcement && result.address.address->family() != family_) {
      return refused(AddressVerb::Eprt, ChannelRefusal::FamilyMismatch);
    }
    return result;
  }
  if (keyword == "PASV") {
    if (epsvAll_) {
      // RFC 2428 §4: the server refuses it; a 227 that still comes back is unsolicited.
      pushPending(Pending::Other);
      return refused(AddressVerb::Reply227, ChannelRefusal::AfterEpsvAll);
    }
    pushPending(Pending::Pasv);
    return meaning(LineMeaning::Kind::Nothing);
  }
  if (keyword == "EPSV") {
    if (isEpsvAll(line)) {
      epsvAll_ = true;
      pushPending(Pending::Other);
    } else {
      pushPending(Pending::Epsv);  // "EPSV", "EPSV 1", "EPSV 2" (a 522 answers the others)
    }
    return meaning(LineMeaning::Kind::Nothing);
  }
  if (keyword == "LPRT") {
    pushPending(Pending::Other);
    return refused(AddressVerb::Lprt, ChannelRefusal::NotTranslated);
  }
  if (keyword == "LPSV") {
    pushPending(Pending::Other);
    return refused(AddressVerb::Lpsv, ChannelRefusal::NotTranslated);
  }
  if (keyword == "AUTH") {
    pushPending(Pending::Auth);
    return meaning(LineMeaning::Kind::Nothing);
  }
  if (keyword == "CCC") {
    pushPending(Pending::Ccc);
    return meaning(LineMeaning::Kind::Nothing);
  }
  if (keyword == "REIN") {
    // RFC 959 §4.1.1: back to the state just after the greeting. Replies still due for earlier
    // commands can no longer announce anything (fail closed).
    clearPending();
    epsvAll_ = false;
    pushPending(Pending::Rein);
    return meaning(LineMeaning::Kind::Nothing);
  }
  pushPending(Pending::Other);
  return meaning(LineMeaning::Kind::Nothing);
}

LineMeaning ControlChannel::onServerLine(std::string_view line) {
  switch (state_) {
    case ChannelState::NotFtp:
    case ChannelState::Opaque: return meaning(LineMeaning::Kind::Nothing);
    case ChannelState::AwaitingGreeting: return onGreetingLine(line);
    case ChannelState::Inspecting: break;
  }

  const auto reply = replyCode(line);
  if (multiLineCode_) {
    // RFC 959 §4.2: the reply ends at the first line that starts with the same code and a space;
    // every line before it is text, whatever it starts with.
    const bool isFinalLine = reply && reply->code == *multiLineCode_ && !reply->multiLineStart;
    LineMeaning result = meaning(LineMeaning::Kind::Nothing);
    if (reply && (reply->code == kPassive || reply->code == kExtendedPassive)) {
      const bool passive = reply->code == kPassive;
      const ParseResult parsed = passive ? parse227(line) : parse229(line);
      const auto* error = std::get_if<AddressSyntaxError>(&parsed);
      if (!error || *error != AddressSyntaxError::NoNumbers) {
        result = refused(passive ? AddressVerb::Reply227 : AddressVerb::Reply229,
                         ChannelRefusal::ContinuationLine);
      }
    } else if (const auto verb = serverLineLooksLikeCommand(line)) {
      result = refused(*verb, ChannelRefusal::WrongDirection);
    }
    if (isFinalLine) {
      const std::uint16_t code = *multiLineCode_;
      const bool answers = multiLineAnswersCommand_;
      multiLineCode_.reset();
      multiLineAnswersCommand_ = false;
      if (answers) {
        const LineMeaning completion = completeReply(code);
        if (completion.kind != LineMeaning::Kind::Nothing) return completion;
      }
    }
    return result;
  }

  if (!reply || !isReplyCode(reply->code)) {
    if (const auto verb = serverLineLooksLikeCommand(line))
      return refused(*verb, ChannelRefusal::WrongDirection);
    return meaning(LineMeaning::Kind::Nothing);
  }

  const LineMeaning firstLine = classifyReplyFirstLine(line, reply->code);
  if (reply->multiLineStart) {
    multiLineCode_ = reply->code;
    multiLineAnswersCommand_ = isFinalCode(reply->code);
    return firstLine;
  }
  if (isFinalCode(reply->code)) {
    const LineMeaning completion = completeReply(reply->code);
    if (completion.kind != LineMeaning::Kind::Nothing) return completion;
  }
  return firstLine;
}

LineMeaning ControlChannel::onGreetingLine(std::string_view line) {
  const auto reply = replyCode(line);
  if (multiLineCode_) {
    // Inside a multi-line 1xx (RFC 959 §5.4 "120 Service ready in nnn minutes").
    if (reply && reply->code == *multiLineCode_ && !reply->multiLineStart) multiLineCode_.reset();
    return meaning(LineMeaning::Kind::Nothing);
  }
  if (reply && isPreliminaryCode(reply->code)) {
    if (reply->multiLineStart) {
      multiLineCode_ = reply->code;
      multiLineAnswersCommand_ = false;
    }
    return meaning(LineMeaning::Kind::Nothing);
  }
  if (reply && reply->code == kGreeting) {
    state_ = ChannelState::Inspecting;
    if (reply->multiLineStart) {
      multiLineCode_ = reply->code;
      multiLineAnswersCommand_ = false;  // the greeting answers no command
    }
    return meaning(LineMeaning::Kind::GreetingSeen);
  }
  state_ = ChannelState::NotFtp;
  return meaning(LineMeaning::Kind::BecameNotFtp);
}

LineMeaning ControlChannel::classifyReplyFirstLine(std::string_view line, std::uint16_t code) const {
  const auto oldest = oldestPending();
  if (code == kPassive) {
    if (oldest != Pending::Pasv) return refused(AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
    if (family_ != IpFamily::V4) return refused(AddressVerb::Reply227, ChannelRefusal::FamilyMismatch);
    return fromParse(parse227(line), AddressVerb::Reply227);
  }
  if (code == kExtendedPassive) {
    if (oldest != Pending::Epsv) return refused(AddressVerb::Reply229, ChannelRefusal::UnsolicitedReply);
    return fromParse(parse229(line), AddressVerb::Reply229);
  }
  if (code == kLongPassive) return refused(AddressVerb::Reply228, ChannelRefusal::NotTranslated);
  return meaning(LineMeaning::Kind::Nothing);
}

LineMeaning ControlChannel::completeReply(std::uint16_t code) {
  popPending();
  if (code == kAuthAccepted) {
    // See the header: any 234 starts TLS, whichever command the ring pairs it with.
    state_ = ChannelState::Opaque;
    clearPending();
    multiLineCode_.reset();
    multiLineAnswersCommand_ = false;
    return meaning(LineMeaning::Kind::BecameOpaque);
  }
  return meaning(LineMeaning::Kind::Nothing);
}

}  // namespace ftpalg
