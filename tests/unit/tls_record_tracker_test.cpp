// TlsRecordTracker: TLS record framing (RFC 8446 §5.1, RFC 5246 §6.2) while the control channel is
// opaque, and the return to cleartext at a record boundary after CCC (RFC 4217 §12.3).
// docs/adversarial-cases.md case 11.
#include "ftpalg/ftp/tls_record_tracker.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ftpalg {
namespace {

using Kind = TlsFeedResult::Kind;
using Start = TlsRecordTracker::CleartextStart;

constexpr std::uint8_t kChangeCipherSpec = 20;
constexpr std::uint8_t kAlert = 21;
constexpr std::uint8_t kHandshake = 22;
constexpr std::uint8_t kApplicationData = 23;
constexpr std::uint8_t kHeartbeat = 24;

// One TLS record: header (type, 0x03, minor, length) and `body`.
std::string record(std::uint8_t type, std::uint8_t minor, std::string_view body) {
  std::string bytes;
  bytes += static_cast<char>(type);
  bytes += static_cast<char>(0x03);
  bytes += static_cast<char>(minor);
  bytes += static_cast<char>((body.size() >> 8) & 0xFF);
  bytes += static_cast<char>(body.size() & 0xFF);
  bytes += body;
  return bytes;
}

std::string header(std::uint8_t type, std::uint8_t major, std::uint8_t minor, std::uint32_t length) {
  std::string bytes;
  bytes += static_cast<char>(type);
  bytes += static_cast<char>(major);
  bytes += static_cast<char>(minor);
  bytes += static_cast<char>((length >> 8) & 0xFF);
  bytes += static_cast<char>(length & 0xFF);
  return bytes;
}

// Bodies chosen to hold FTP-looking bytes: nothing inside a record may be read as a line.
const std::string kClientHelloBody =
    "\x01\x00\x00\x30\r\nPORT 192,168,77,10,195,80\r\nEPRT |1|192.168.77.10|1|\r\n";
const std::string kCiphertext =
    std::string("227 Entering Passive Mode (203,0,113,10,195,80)\r\n") + '\0' + "\xFF\x17\x03";

// A client's TLS section ending with close_notify, then cleartext after CCC.
std::string clientTlsSection() {
  return record(kHandshake, 0x01, kClientHelloBody) + record(kChangeCipherSpec, 0x03, "\x01") +
         record(kApplicationData, 0x03, kCiphertext) + record(kAlert, 0x03, std::string("\x01\x00", 2));
}

TlsFeedResult feedAll(TlsRecordTracker& tracker, std::int64_t start, const std::vector<std::string>& chunks) {
  TlsFeedResult last;
  std::int64_t offset = start;
  for (const std::string& chunk : chunks) {
    last = tracker.feed(offset, chunk);
    offset += static_cast<std::int64_t>(chunk.size());
  }
  return last;
}

std::string kindName(Kind kind) {
  switch (kind) {
    case Kind::StillTls: return "StillTls";
    case Kind::Cleartext: return "Cleartext";
    case Kind::Garbage: return "Garbage";
  }
  return "?";
}

TEST(TlsRecordTracker, RecordsAloneAreStillTls) {
  TlsRecordTracker tracker;
  tracker.start(0);
  const std::string section = clientTlsSection();
  const TlsFeedResult result = tracker.feed(0, section);
  EXPECT_EQ(kindName(result.kind), "StillTls");
  EXPECT_EQ(tracker.nextOffset(), static_cast<std::int64_t>(section.size()));
  EXPECT_EQ(tracker.recordCount(), 4u);
}

TEST(TlsRecordTracker, FtpBytesInsideRecordsAreNeverCleartext) {
  TlsRecordTracker tracker;
  tracker.start(0);
  const std::string bytes = record(kHandshake, 0x01, "PORT 192,168,77,10,195,80\r\n") +
                            record(kApplicationData, 0x03, "\r\nPORT 192,168,77,10,195,80\r\n");
  EXPECT_EQ(kindName(tracker.feed(0, bytes).kind), "StillTls");
}

TEST(TlsRecordTracker, CommandAfterTheLastRecordIsClientCleartext) {
  TlsRecordTracker tracker;
  tracker.start(1000, Direction::ClientToServer);
  const std::string section = clientTlsSection();
  const TlsFeedResult result = tracker.feed(1000, section + "PASV\r\n");
  EXPECT_EQ(kindName(result.kind), "Cleartext");
  EXPECT_EQ(result.cleartextOffset, 1000 + static_cast<std::int64_t>(section.size()));
}

TEST(TlsRecordTracker, ReplyAfterTheLastRecordIsServerCleartext) {
  TlsRecordTracker tracker;
  tracker.start(0, Direction::ServerToClient);
  const std::string section = record(kHandshake, 0x03, "server hello") + record(kAlert, 0x03, "\x01");
  const TlsFeedResult result = tracker.feed(0, section + "200 CCC command successful\r\n");
  EXPECT_EQ(kindName(result.kind), "Cleartext");
  EXPECT_EQ(result.cleartextOffset, static_cast<std::int64_t>(section.size()));
}

TEST(TlsRecordTracker, ImmediateCleartextAtTheStartIsReported) {
  // The client ignored the 234 and kept talking in cleartext.
  TlsRecordTracker tracker;
  tracker.start(77);
  const TlsFeedResult result = tracker.feed(77, "PBSZ 0\r\n");
  EXPECT_EQ(kindName(result.kind), "Cleartext");
  EXPECT_EQ(result.cleartextOffset, 77);
}

struct BoundaryByteCase {
  const char* name;
  Start start;
  char byte;
  Kind expected;
};

void PrintTo(const BoundaryByteCase& c, std::ostream* os) { *os << c.name; }

class ByteAtARecordBoundary : public ::testing::TestWithParam<BoundaryByteCase> {};

TEST_P(ByteAtARecordBoundary, IsJudgedByDirection) {
  const BoundaryByteCase& c = GetParam();
  TlsRecordTracker tracker;
  tracker.start(0, c.start);
  const std::string bytes = record(kApplicationData, 0x03, "x") + std::string(1, c.byte) + "rest";
  const TlsFeedResult result = tracker.feed(0, bytes);
  EXPECT_EQ(kindName(result.kind), kindName(c.expected));
  EXPECT_EQ(result.cleartextOffset, 6);
}

INSTANTIATE_TEST_SUITE_P(
    TlsRecordTracker, ByteAtARecordBoundary,
    ::testing::Values(BoundaryByteCase{"client_letter", Start::Letter, 'P', Kind::Cleartext},
                      BoundaryByteCase{"client_lower_letter", Start::Letter, 'q', Kind::Cleartext},
                      BoundaryByteCase{"client_digit", Start::Letter, '2', Kind::Garbage},
                      BoundaryByteCase{"server_digit", Start::Digit, '2', Kind::Cleartext},
                      BoundaryByteCase{"server_letter", Start::Digit, 'P', Kind::Garbage},
                      BoundaryByteCase{"either_letter", Start::LetterOrDigit, 'P', Kind::Cleartext},
                      BoundaryByteCase{"either_digit", Start::LetterOrDigit, '5', Kind::Cleartext},
                      BoundaryByteCase{"space", Start::LetterOrDigit, ' ', Kind::Garbage},
                      BoundaryByteCase{"cr", Start::LetterOrDigit, '\r', Kind::Garbage},
                      BoundaryByteCase{"nul", Start::LetterOrDigit, '\0', Kind::Garbage},
                      BoundaryByteCase{"iac", Start::LetterOrDigit, '\xFF', Kind::Garbage},
                      BoundaryByteCase{"sslv2_hello", Start::LetterOrDigit, '\x80', Kind::Garbage},
                      BoundaryByteCase{"content_type_19", Start::LetterOrDigit, '\x13', Kind::Garbage},
                      BoundaryByteCase{"content_type_25", Start::LetterOrDigit, '\x19', Kind::Garbage}),
    [](const ::testing::TestParamInfo<BoundaryByteCase>& param) { return std::string(param.param.name); });

struct HeaderCase {
  const char* name;
  std::string header;
  Kind expected;
};

void PrintTo(const HeaderCase& c, std::ostream* os) { *os << c.name; }

class RecordHeader : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(RecordHeader, IsCheckedForTypeVersionAndLength) {
  const HeaderCase& c = GetParam();
  TlsRecordTracker tracker;
  tracker.start(0);
  const std::string lead = record(kHandshake, 0x03, "ok");
  const TlsFeedResult result = tracker.feed(0, lead + c.header);
  EXPECT_EQ(kindName(result.kind), kindName(c.expected));
  if (c.expected == Kind::Garbage) {
    EXPECT_EQ(result.cleartextOffset, static_cast<std::int64_t>(lead.size()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    TlsRecordTracker, RecordHeader,
    ::testing::Values(
        HeaderCase{"change_cipher_spec", header(kChangeCipherSpec, 3, 3, 1), Kind::StillTls},
        HeaderCase{"alert", header(kAlert, 3, 3, 2), Kind::StillTls},
        HeaderCase{"handshake_ssl3", header(kHandshake, 3, 0, 100), Kind::StillTls},
        HeaderCase{"handshake_tls10", header(kHandshake, 3, 1, 100), Kind::StillTls},
        HeaderCase{"application_data_tls12", header(kApplicationData, 3, 3, 100), Kind::StillTls},
        HeaderCase{"version_0304", header(kApplicationData, 3, 4, 100), Kind::StillTls},
        HeaderCase{"heartbeat", header(kHeartbeat, 3, 3, 3), Kind::StillTls},
        HeaderCase{"longest_record", header(kApplicationData, 3, 3, (1U << 14) + 2048), Kind::StillTls},
        HeaderCase{"record_too_long", header(kApplicationData, 3, 3, (1U << 14) + 2049), Kind::Garbage},
        HeaderCase{"record_length_ffff", header(kApplicationData, 3, 3, 0xFFFF), Kind::Garbage},
        HeaderCase{"major_version_2", header(kHandshake, 2, 0, 100), Kind::Garbage},
        HeaderCase{"major_version_0x16", header(kHandshake, 0x16, 3, 100), Kind::Garbage},
        HeaderCase{"minor_version_5", header(kApplicationData, 3, 5, 100), Kind::Garbage},
        HeaderCase{"dtls_version", header(kApplicationData, 0xFE, 0xFD, 100), Kind::Garbage}),
    [](const ::testing::TestParamInfo<HeaderCase>& param) { return std::string(param.param.name); });

TEST(TlsRecordTracker, EmptyRecordIsABoundaryToo) {
  TlsRecordTracker tracker;
  tracker.start(0);
  const std::string bytes = record(kApplicationData, 0x03, "") + "NOOP\r\n";
  const TlsFeedResult result = tracker.feed(0, bytes);
  EXPECT_EQ(kindName(result.kind), "Cleartext");
  EXPECT_EQ(result.cleartextOffset, 5);
}

TEST(TlsRecordTracker, HeaderSplitAtEveryByteGivesTheSameResult) {
  const std::string section = clientTlsSection();
  const std::string stream = section + "PASV\r\n";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    TlsRecordTracker tracker;
    tracker.start(0, Direction::ClientToServer);
    const TlsFeedResult result = feedAll(tracker, 0, {stream.substr(0, split), stream.substr(split)});
    EXPECT_EQ(kindName(result.kind), "Cleartext") << "split at " << split;
    EXPECT_EQ(result.cleartextOffset, static_cast<std::int64_t>(section.size())) << "split at " << split;
  }
}

TEST(TlsRecordTracker, OneByteFeedsGiveTheSameResult) {
  const std::string section = clientTlsSection();
  const std::string stream = section + "PASV\r\n";
  TlsRecordTracker tracker;
  tracker.start(500, Direction::ClientToServer);
  std::vector<std::string> bytes;
  for (const char c : stream) bytes.emplace_back(1, c);
  const TlsFeedResult result = feedAll(tracker, 500, bytes);
  EXPECT_EQ(kindName(result.kind), "Cleartext");
  EXPECT_EQ(result.cleartextOffset, 500 + static_cast<std::int64_t>(section.size()));
}

TEST(TlsRecordTracker, RandomChunkingOfManyRecordsGivesTheSameResult) {
  std::mt19937 random(4217);
  std::string section;
  for (int i = 0; i < 200; ++i) {
    section += record(kApplicationData, 0x03, std::string(random() % 3000, static_cast<char>('A' + i % 26)));
  }
  const std::string stream = section + "QUIT\r\n";
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> chunks;
    for (std::size_t pos = 0; pos < stream.size();) {
      const std::size_t size = 1 + random() % 1460;
      chunks.push_back(stream.substr(pos, size));
      pos += size;
    }
    TlsRecordTracker tracker;
    tracker.start(0, Direction::ClientToServer);
    const TlsFeedResult result = feedAll(tracker, 0, chunks);
    EXPECT_EQ(kindName(result.kind), "Cleartext");
    EXPECT_EQ(result.cleartextOffset, static_cast<std::int64_t>(section.size()));
    EXPECT_EQ(tracker.recordCount(), 200u);
  }
}

TEST(TlsRecordTracker, GarbageIsReportedAtTheRecordStartEvenWhenTheHeaderIsSplit) {
  TlsRecordTracker tracker;
  tracker.start(10);
  const std::string good = record(kHandshake, 0x03, "hello");
  EXPECT_EQ(kindName(tracker.feed(10, good + "\x17\x03").kind), "StillTls");
  const TlsFeedResult result =
      tracker.feed(10 + static_cast<std::int64_t>(good.size()) + 2, std::string("\x09", 1));
  EXPECT_EQ(kindName(result.kind), "Garbage");
  EXPECT_EQ(result.cleartextOffset, 10 + static_cast<std::int64_t>(good.size()));
}

TEST(TlsRecordTracker, ResultIsFinalOnceReported) {
  TlsRecordTracker tracker;
  tracker.start(0, Direction::ClientToServer);
  const TlsFeedResult first = tracker.feed(0, "PASV\r\n");
  const TlsFeedResult again = tracker.feed(6, record(kApplicationData, 0x03, "x"));
  EXPECT_EQ(kindName(again.kind), kindName(first.kind));
  EXPECT_EQ(again.cleartextOffset, first.cleartextOffset);
}

TEST(TlsRecordTracker, RepeatedBytesAreSkipped) {
  TlsRecordTracker tracker;
  tracker.start(0);
  const std::string first = record(kApplicationData, 0x03, "abc");
  tracker.feed(0, first);
  // A retransmission of the same bytes, then an overlapping chunk that carries new bytes.
  EXPECT_EQ(kindName(tracker.feed(0, first).kind), "StillTls");
  const std::string second = record(kApplicationData, 0x03, "de");
  const TlsFeedResult result = tracker.feed(4, first.substr(4) + second + "NOOP\r\n");
  EXPECT_EQ(kindName(result.kind), "Cleartext");
  EXPECT_EQ(result.cleartextOffset, static_cast<std::int64_t>(first.size() + second.size()));
  EXPECT_EQ(tracker.recordCount(), 2u);
}

TEST(TlsRecordTracker, GapInTheInputIsGarbageAtTheExpectedOffset) {
  TlsRecordTracker tracker;
  tracker.start(0);
  tracker.feed(0, header(kApplicationData, 3, 3, 10));
  const TlsFeedResult result = tracker.feed(20, "NOOP\r\n");
  EXPECT_EQ(kindName(result.kind), "Garbage");
  EXPECT_EQ(result.cleartextOffset, 5);
}

TEST(TlsRecordTracker, StartResetsAllState) {
  TlsRecordTracker tracker;
  tracker.start(0);
  tracker.feed(0, "\x09");  // garbage
  tracker.start(100, Direction::ClientToServer);
  const TlsFeedResult result =
      tracker.feed(100, record(kAlert, 3, std::string("\x01\x00", 2)) + "USER x\r\n");
  EXPECT_EQ(kindName(result.kind), "Cleartext");
  EXPECT_EQ(result.cleartextOffset, 107);
}

TEST(TlsRecordTracker, StillTlsReportsTheConsumedOffset) {
  TlsRecordTracker tracker;
  tracker.start(40);
  const TlsFeedResult result = tracker.feed(40, header(kApplicationData, 3, 3, 100) + "abc");
  EXPECT_EQ(kindName(result.kind), "StillTls");
  EXPECT_EQ(result.cleartextOffset, 48);
  EXPECT_EQ(tracker.recordStartOffset(), 40);
}

TEST(TlsRecordTracker, IsSmallAndOwnsNoHeap) {
  static_assert(std::is_trivially_copyable_v<TlsRecordTracker>);
  static_assert(std::is_trivially_destructible_v<TlsRecordTracker>);
  EXPECT_LE(sizeof(TlsRecordTracker), 64u);
}

}  // namespace
}  // namespace ftpalg
