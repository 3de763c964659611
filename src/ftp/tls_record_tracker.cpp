// TlsRecordTracker: see include/ftpalg/ftp/tls_record_tracker.hpp for the framing it follows.
#include "ftpalg/ftp/tls_record_tracker.hpp"

#include <algorithm>

namespace ftpalg {

namespace {

constexpr bool isContentType(unsigned char byte) { return byte >= 20 && byte <= 24; }
constexpr bool isAsciiLetter(unsigned char byte) {
  return (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z');
}
constexpr bool isAsciiDigit(unsigned char byte) { return byte >= '0' && byte <= '9'; }

constexpr std::uint8_t kVersionMajor = 0x03;
constexpr std::uint8_t kHighestVersionMinor = 0x04;

}  // namespace

void TlsRecordTracker::start(std::int64_t offset, CleartextStart cleartextStart) {
  *this = TlsRecordTracker();
  nextOffset_ = offset;
  recordStart_ = offset;
  cleartextStart_ = cleartextStart;
}

void TlsRecordTracker::start(std::int64_t offset, Direction direction) {
  start(offset, direction == Direction::ClientToServer ? CleartextStart::Letter : CleartextStart::Digit);
}

bool TlsRecordTracker::startsCleartext(unsigned char byte) const {
  switch (cleartextStart_) {
    case CleartextStart::LetterOrDigit: return isAsciiLetter(byte) || isAsciiDigit(byte);
    case CleartextStart::Letter: return isAsciiLetter(byte);
    case CleartextStart::Digit: return isAsciiDigit(byte);
  }
  return false;
}

TlsFeedResult TlsRecordTracker::finish(TlsFeedResult::Kind kind, std::int64_t offset) {
  finished_ = true;
  finalResult_ = TlsFeedResult{kind, offset};
  return finalResult_;
}

TlsFeedResult TlsRecordTracker::feed(std::int64_t offset, std::string_view bytes) {
  if (finished_) return finalResult_;
  if (offset > nextOffset_) return finish(TlsFeedResult::Kind::Garbage, nextOffset_);  // a gap
  const std::int64_t end = offset + static_cast<std::int64_t>(bytes.size());
  if (end <= nextOffset_) return TlsFeedResult{TlsFeedResult::Kind::StillTls, nextOffset_};
  bytes.remove_prefix(static_cast<std::size_t>(nextOffset_ - offset));  // already seen

  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (bodyRemaining_ > 0) {
      const std::size_t skip = std::min<std::size_t>(bodyRemaining_, bytes.size() - pos);
      bodyRemaining_ -= static_cast<std::uint32_t>(skip);
      pos += skip;
      nextOffset_ += static_cast<std::int64_t>(skip);
      if (bodyRemaining_ == 0) recordStart_ = nextOffset_;
      continue;
    }
    const auto byte = static_cast<unsigned char>(bytes[pos]);
    switch (headerFill_) {
      case 0:
        if (!isContentType(byte)) {
          return finish(startsCleartext(byte) ? TlsFeedResult::Kind::Cleartext : TlsFeedResult::Kind::Garbage,
                        nextOffset_);
        }
        break;
      case 1:
        if (byte != kVersionMajor) return finish(TlsFeedResult::Kind::Garbage, recordStart_);
        break;
      case 2:
        if (byte > kHighestVersionMinor) return finish(TlsFeedResult::Kind::Garbage, recordStart_);
        break;
      default: break;
    }
    header_[headerFill_++] = byte;
    ++pos;
    ++nextOffset_;
    if (headerFill_ == kHeaderLength) {
      const std::uint32_t length = (std::uint32_t{header_[3]} << 8) | header_[4];
      if (length > kMaxRecordLength) return finish(TlsFeedResult::Kind::Garbage, recordStart_);
      headerFill_ = 0;
      ++recordCount_;
      bodyRemaining_ = length;
      if (length == 0) recordStart_ = nextOffset_;  // RFC 5246 §6.2.1: empty application data
    }
  }
  return TlsFeedResult{TlsFeedResult::Kind::StillTls, nextOffset_};
}

}  // namespace ftpalg
