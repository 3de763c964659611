// LineFramer: splits one direction's reassembled byte stream into FTP lines (RFC 959 §4.1.1
// Telnet end-of-line, CRLF). Bare LF ends a line only when acceptBareLf is set (docs/decisions).
//
// Input is contiguous stream bytes in order, each chunk tagged with its 64-bit stream offset
// (see tcp/segment_tracker.hpp). Output lines exclude the terminator and carry the stream offset
// of their first byte, so the engine can turn a span inside a line into a stream span.
//
// Ownership: a FramedLine's text points either into the chunk passed to feed() or into the
// framer's own partial-line buffer; it is valid only during the sink call.
// Bounds: a line whose content exceeds maxLineLength bytes puts the framer into the Overflowed
// state as soon as the excess is fed, terminator or not; it then produces no more lines, ever
// (docs/adversarial-cases.md case 9: overflow is never "allow"), and releases its buffer. The partial-line
// buffer holds at most maxLineLength content bytes plus one CR that may start a CRLF split across feeds. A CR
// that is not followed by LF is content, as is a bare LF unless acceptBareLf is set.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ftpalg {

struct FramedLine {
  std::int64_t offset = 0;            // stream offset of text[0]
  std::string_view text;              // without terminator
  std::uint8_t terminatorLength = 0;  // 2 for CRLF, 1 for bare LF
};

enum class FrameStatus : std::uint8_t { Ok, Overflowed };

class LineFramer {
 public:
  LineFramer(std::size_t maxLineLength, bool acceptBareLf)
      : maxLineLength_(maxLineLength), acceptBareLf_(acceptBareLf) {}

  // Feeds `bytes`, which start at stream offset `offset` (must equal nextOffset() unless this is
  // the first call, or after reset()). Calls sink(const FramedLine&) for each completed line, in
  // order. Returns Overflowed once the partial line exceeds maxLineLength (and forever after).
  template <typename Sink>
  FrameStatus feed(std::int64_t offset, std::string_view bytes, Sink&& sink);

  // Restart framing at `offset` with an empty partial line (e.g. after a TLS section ends).
  void reset(std::int64_t offset);

  bool overflowed() const { return overflowed_; }
  std::int64_t nextOffset() const { return nextOffset_; }
  // Start offset and bytes of the incomplete line buffered so far (empty when at a line start;
  // may end with the CR of a CRLF whose LF has not arrived yet).
  std::int64_t partialLineOffset() const { return nextOffset_ - static_cast<std::int64_t>(partial_.size()); }
  std::string_view partialLine() const { return partial_; }

 private:
  std::size_t maxLineLength_;
  bool acceptBareLf_;
  bool overflowed_ = false;
  bool started_ = false;
  std::int64_t nextOffset_ = 0;
  std::string partial_;  // bytes of the current incomplete line (bounded by maxLineLength_ + 1)

  FrameStatus overflow(std::int64_t offset, std::string_view bytes);
};

template <typename Sink>
FrameStatus LineFramer::feed(std::int64_t offset, std::string_view bytes, Sink&& sink) {
  if (overflowed_) {
    nextOffset_ = offset + static_cast<std::int64_t>(bytes.size());
    return FrameStatus::Overflowed;
  }
  if (!started_) {
    started_ = true;
    nextOffset_ = offset;
  }
  assert(offset == nextOffset_ && "LineFramer::feed: bytes must be contiguous");
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t lf = bytes.find('\n', pos);
    if (lf == std::string_view::npos) {
      // No terminator in the rest of the chunk: it all joins the partial line. A trailing CR may
      // be the first half of a CRLF split across feeds, so it does not count as content yet.
      const std::string_view rest = bytes.substr(pos);
      const std::size_t pendingCr = rest.back() == '\r' ? 1 : 0;
      if (partial_.size() + rest.size() - pendingCr > maxLineLength_) return overflow(offset, bytes);
      partial_.append(rest);
      break;
    }
    // The LF ends a line when a CR precedes it (RFC 959 §4.1.1 Telnet end-of-line), or when bare
    // LF is accepted; the CR may be the last byte of the partial line (a CRLF split across feeds).
    const bool crBefore = lf > pos ? bytes[lf - 1] == '\r' : (!partial_.empty() && partial_.back() == '\r');
    if (!crBefore && !acceptBareLf_) {
      // The LF is ordinary content.
      const std::string_view piece = bytes.substr(pos, lf + 1 - pos);
      if (partial_.size() + piece.size() > maxLineLength_) return overflow(offset, bytes);
      partial_.append(piece);
      pos = lf + 1;
      continue;
    }
    const std::uint8_t terminator = crBefore ? 2 : 1;
    const std::int64_t lineEndOffset = offset + static_cast<std::int64_t>(lf + 1);  // after LF
    // Content length: the partial line plus this chunk's bytes up to the LF, minus the terminator
    // (whose CR may sit at the end of the partial line).
    const std::size_t contentLength = partial_.size() + (lf + 1 - pos) - terminator;
    if (contentLength > maxLineLength_) return overflow(offset, bytes);
    std::string_view text;
    if (partial_.empty()) {
      text = bytes.substr(pos, contentLength);
    } else {
      partial_.append(bytes.substr(pos, lf + 1 - pos));
      partial_.resize(contentLength);
      text = partial_;
    }
    const std::int64_t lineOffset = lineEndOffset - terminator - static_cast<std::int64_t>(text.size());
    sink(FramedLine{lineOffset, text, terminator});
    partial_.clear();
    pos = lf + 1;
  }
  nextOffset_ = offset + static_cast<std::int64_t>(bytes.size());
  return FrameStatus::Ok;
}

inline FrameStatus LineFramer::overflow(std::int64_t offset, std::string_view bytes) {
  overflowed_ = true;
  std::string().swap(partial_);  // release the buffer: the framer never produces a line again
  nextOffset_ = offset + static_cast<std::int64_t>(bytes.size());
  return FrameStatus::Overflowed;
}

inline void LineFramer::reset(std::int64_t offset) {
  partial_.clear();
  overflowed_ = false;
  started_ = true;
  nextOffset_ = offset;
}

}  // namespace ftpalg
