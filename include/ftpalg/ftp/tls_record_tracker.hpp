// TlsRecordTracker: follows TLS record framing on one direction of an FTP control connection while
// it is opaque (AUTH answered by 234, RFC 4217 §4), to find where cleartext resumes after CCC
// (RFC 4217 §12.3: after the TLS closure the control connection continues in cleartext).
//
// Framing (RFC 8446 §5.1, RFC 5246 §6.2.1): every record starts with a 5-byte header
//   byte 0     content type: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data,
//              24 heartbeat (RFC 6520)
//   bytes 1-2  legacy record version: 0x03 then 0x00-0x04 (SSL 3.0 .. TLS 1.3 values)
//   bytes 3-4  length of the fragment that follows, big-endian, at most 2^14 + 2048 (RFC 5246
//              §6.2.3, the largest TLSCiphertext; RFC 8446 allows only 2^14 + 256)
// and the fragment is skipped unread: nothing inside a record is ever interpreted, so bytes such as
// "PORT ..." inside a handshake message or ciphertext cannot be taken for a command.
//
// Only AT A RECORD BOUNDARY is the next byte judged: a content type starts another record; an
// ASCII letter (a client command, RFC 959 §5.3) or an ASCII digit (a server reply, RFC 959 §4.2)
// means cleartext resumes at that byte (which of the two is allowed depends on the direction, see
// start()); anything else, or a header with a bad version or length, is garbage: the engine then
// stops inspecting the flow. Once Cleartext or Garbage has been reported, every later feed()
// returns the same result.
//
// Input: contiguous stream bytes in order, tagged with their 64-bit stream offset (the offsets of
// tcp/segment_tracker.hpp); a header may be split across feeds at any byte. Bytes before the
// expected offset (a repeat) are skipped; a gap (bytes after the expected offset) breaks the
// contract and is reported as Garbage at the expected offset (fail closed: inspection stops).
// Small and heap-free: one lives in each direction of each session.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "ftpalg/core/ip_address.hpp"

namespace ftpalg {

struct TlsFeedResult {
  enum class Kind : std::uint8_t {
    StillTls,   // every byte so far belongs to TLS records (possibly an incomplete one)
    Cleartext,  // at cleartextOffset, a record boundary, cleartext FTP begins
    Garbage,    // at cleartextOffset, a record boundary, the bytes are neither TLS nor FTP
  };
  Kind kind = Kind::StillTls;
  // Cleartext: stream offset of the first cleartext byte. Garbage: stream offset of the record
  // boundary where framing was lost. StillTls: the offset up to which bytes have been consumed.
  std::int64_t cleartextOffset = 0;
};

class TlsRecordTracker {
 public:
  // Which bytes may begin cleartext at a record boundary.
  enum class CleartextStart : std::uint8_t {
    LetterOrDigit,  // either direction
    Letter,         // client to server: a command keyword
    Digit,          // server to client: a reply code
  };

  static constexpr std::uint32_t kMaxRecordLength = (1U << 14) + 2048;  // RFC 5246 §6.2.3
  static constexpr std::size_t kHeaderLength = 5;

  TlsRecordTracker() = default;

  // Begins tracking at stream offset `offset`, which must be a record boundary (the byte after
  // the 234 reply's line end, or the first byte of that direction after it).
  void start(std::int64_t offset, CleartextStart cleartextStart = CleartextStart::LetterOrDigit);
  // As above, choosing Letter for ClientToServer and Digit for ServerToClient.
  void start(std::int64_t offset, Direction direction);

  // Feeds `bytes`, which begin at stream offset `offset`. Never allocates, never throws.
  TlsFeedResult feed(std::int64_t offset, std::string_view bytes);

  // Stream offset of the next byte expected.
  std::int64_t nextOffset() const { return nextOffset_; }
  // Stream offset of the record boundary the tracker is in (start of the current record).
  std::int64_t recordStartOffset() const { return recordStart_; }
  // Complete record headers seen so far.
  std::uint64_t recordCount() const { return recordCount_; }

 private:
  bool startsCleartext(unsigned char byte) const;
  TlsFeedResult finish(TlsFeedResult::Kind kind, std::int64_t offset);

  std::int64_t nextOffset_ = 0;
  std::int64_t recordStart_ = 0;
  std::uint64_t recordCount_ = 0;
  std::uint32_t bodyRemaining_ = 0;  // fragment bytes still to skip
  std::array<std::uint8_t, kHeaderLength> header_{};
  std::uint8_t headerFill_ = 0;  // header bytes collected (0 at a boundary)
  CleartextStart cleartextStart_ = CleartextStart::LetterOrDigit;
  bool finished_ = false;
  TlsFeedResult finalResult_;
};

}  // namespace ftpalg
