// Fuzz target: LineFramer (include/ftpalg/ftp/line_framer.hpp).
//
// Input layout: byte 0 = configuration (bit 0: acceptBareLf; bits 1-7: line limit selector),
// bytes 1-2 = split point (little endian, modulo the stream size + 1), bytes 3-6 = start offset,
// the rest = the stream.
//
// Invariants: the stream fed whole, split at the chosen point, and one byte at a time gives the
// same lines (text, offset, terminator), the same overflow state, the same partial line and the
// same next offset; and all three agree with a byte-at-a-time reference model written from the
// header's contract (CRLF ends a line, bare LF only when accepted; a CR not followed by LF is
// content; a line whose content exceeds the limit overflows the framer for good).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/ftp/line_framer.hpp"
#include "fuzz_check.hpp"

namespace {

using ftpalg::FramedLine;
using ftpalg::FrameStatus;
using ftpalg::LineFramer;

struct Line {
  std::int64_t offset;
  std::string text;
  int terminator;
  bool operator==(const Line&) const = default;
};

struct Result {
  std::vector<Line> lines;
  bool overflowed = false;
  std::string partial;
  std::int64_t partialOffset = 0;
  std::int64_t nextOffset = 0;
};

Result feedChunks(std::size_t limit, bool bareLf, std::int64_t start, std::string_view stream,
                  const std::vector<std::size_t>& cuts) {
  LineFramer framer(limit, bareLf);
  Result result;
  std::size_t at = 0;
  bool overflowSeen = false;
  const auto sink = [&](const FramedLine& line) {
    FUZZ_CHECK(!overflowSeen);
    result.lines.push_back(Line{line.offset, std::string(line.text), line.terminatorLength});
  };
  std::vector<std::size_t> ends = cuts;
  ends.push_back(stream.size());
  for (const std::size_t end : ends) {
    const std::string_view chunk = stream.substr(at, end - at);
    const FrameStatus status = framer.feed(start + static_cast<std::int64_t>(at), chunk, sink);
    // Once overflowed, always overflowed.
    if (overflowSeen) FUZZ_CHECK(status == FrameStatus::Overflowed);
    overflowSeen = status == FrameStatus::Overflowed;
    FUZZ_CHECK(framer.overflowed() == overflowSeen);
    FUZZ_CHECK(framer.nextOffset() == start + static_cast<std::int64_t>(end));
    // The partial buffer stays bounded: limit content bytes plus one pending CR.
    FUZZ_CHECK(framer.partialLine().size() <= limit + 1);
    at = end;
  }
  result.overflowed = framer.overflowed();
  result.partial = std::string(framer.partialLine());
  result.partialOffset = framer.partialLineOffset();
  result.nextOffset = framer.nextOffset();
  return result;
}

Result reference(std::size_t limit, bool bareLf, std::int64_t start, std::string_view stream) {
  Result result;
  std::string current;
  std::int64_t lineStart = start;
  for (std::size_t i = 0; i < stream.size() && !result.overflowed; ++i) {
    const char byte = stream[i];
    current += byte;
    if (byte == '\n') {
      const bool crlf = current.size() >= 2 && current[current.size() - 2] == '\r';
      if (crlf || bareLf) {
        const std::size_t terminator = crlf ? 2 : 1;
        const std::string content = current.substr(0, current.size() - terminator);
        if (content.size() > limit) {
          result.overflowed = true;
          break;
        }
        result.lines.push_back(Line{lineStart, content, static_cast<int>(terminator)});
        current.clear();
        lineStart = start + static_cast<std::int64_t>(i) + 1;
        continue;
      }
    }
    // A trailing CR may still start a CRLF: it does not count yet.
    const std::size_t content = current.size() - (byte == '\r' ? 1 : 0);
    if (content > limit) result.overflowed = true;
  }
  if (!result.overflowed) result.partial = current;
  result.nextOffset = start + static_cast<std::int64_t>(stream.size());
  result.partialOffset = result.nextOffset - static_cast<std::int64_t>(result.partial.size());
  return result;
}

void expectSame(const Result& a, const Result& b, const char* what) {
  FUZZ_CHECK_MSG(a.lines.size() == b.lines.size(), "%s: %zu lines vs %zu", what, a.lines.size(),
                 b.lines.size());
  for (std::size_t i = 0; i < a.lines.size(); ++i) {
    FUZZ_CHECK_MSG(a.lines[i] == b.lines[i], "%s: line %zu differs (offset %lld vs %lld)", what, i,
                   static_cast<long long>(a.lines[i].offset), static_cast<long long>(b.lines[i].offset));
  }
  FUZZ_CHECK_MSG(a.overflowed == b.overflowed, "%s: overflow %d vs %d", what, a.overflowed, b.overflowed);
  FUZZ_CHECK_MSG(a.partial == b.partial, "%s: partial line differs (%zu vs %zu bytes)", what,
                 a.partial.size(), b.partial.size());
  FUZZ_CHECK(a.partialOffset == b.partialOffset);
  FUZZ_CHECK(a.nextOffset == b.nextOffset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 7) return 0;
  const bool bareLf = (data[0] & 1) != 0;
  static constexpr std::size_t kLimits[] = {0, 1, 2, 3, 4, 5, 8, 16, 31, 64, 512};
  const std::size_t limit = kLimits[(data[0] >> 1) % (sizeof(kLimits) / sizeof(kLimits[0]))];
  const std::size_t splitSeed = data[1] | (static_cast<std::size_t>(data[2]) << 8);
  const std::uint32_t startSeed =
      static_cast<std::uint32_t>(data[3]) | (static_cast<std::uint32_t>(data[4]) << 8) |
      (static_cast<std::uint32_t>(data[5]) << 16) | (static_cast<std::uint32_t>(data[6]) << 24);
  // Offsets beyond 2^32 too (the framer works in 64-bit stream offsets).
  const std::int64_t start = static_cast<std::int64_t>(startSeed) * 4099;
  const std::string_view stream(reinterpret_cast<const char*>(data + 7), size - 7);
  const std::size_t split = splitSeed % (stream.size() + 1);

  const Result whole = feedChunks(limit, bareLf, start, stream, {});
  const Result halves = feedChunks(limit, bareLf, start, stream, {split});
  expectSame(whole, halves, "whole vs split");
  expectSame(whole, reference(limit, bareLf, start, stream), "whole vs reference");
  if (stream.size() <= 1024) {
    std::vector<std::size_t> everyByte;
    for (std::size_t i = 1; i < stream.size(); ++i) everyByte.push_back(i);
    expectSame(whole, feedChunks(limit, bareLf, start, stream, everyByte), "whole vs one-byte chunks");
  }
  // Empty chunks are harmless anywhere.
  expectSame(whole, feedChunks(limit, bareLf, start, stream, {0, split, split}), "with empty chunks");
  return 0;
}
