// LineFramer: CRLF framing (RFC 959 §4.1.1), bare LF policy, offsets, segmentation invariance
// (docs/design.md#stream-not-packets) and the line-length bound (docs/adversarial-cases.md cases 9, 13, 14,
// 15).
#include "ftpalg/ftp/line_framer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace ftpalg {
namespace {

struct Line {
  std::int64_t offset;
  std::string text;
  int terminatorLength;
  friend bool operator==(const Line&, const Line&) = default;
};

void PrintTo(const Line& line, std::ostream* os) {
  *os << "{" << line.offset << ", \"" << ::testing::PrintToString(line.text) << "\", "
      << line.terminatorLength << "}";
}

// Feeds `chunks` (contiguous, starting at `start`) and collects every line.
struct Framed {
  std::vector<Line> lines;
  std::vector<FrameStatus> statuses;
};

Framed frame(LineFramer& framer, std::int64_t start, const std::vector<std::string>& chunks) {
  Framed result;
  std::int64_t offset = start;
  for (const std::string& chunk : chunks) {
    result.statuses.push_back(framer.feed(offset, chunk, [&](const FramedLine& line) {
      result.lines.push_back(Line{line.offset, std::string(line.text), line.terminatorLength});
    }));
    offset += static_cast<std::int64_t>(chunk.size());
  }
  return result;
}

Framed frameWhole(std::string_view stream, bool acceptBareLf, std::size_t maxLine = 512,
                  std::int64_t start = 0) {
  LineFramer framer(maxLine, acceptBareLf);
  return frame(framer, start, {std::string(stream)});
}

TEST(LineFramer, CrlfEndsEachLineWithOffsetsOfTheFirstByte) {
  const Framed framed = frameWhole("USER anonymous\r\nPASS x\r\n", false);
  EXPECT_EQ(framed.lines, (std::vector<Line>{{0, "USER anonymous", 2}, {16, "PASS x", 2}}));
}

TEST(LineFramer, OffsetsAreStreamOffsetsFromTheFirstFeed) {
  const Framed framed = frameWhole("NOOP\r\nPASV\r\n", false, 512, 1'000'000'000'000LL);
  EXPECT_EQ(framed.lines,
            (std::vector<Line>{{1'000'000'000'000LL, "NOOP", 2}, {1'000'000'000'006LL, "PASV", 2}}));
}

TEST(LineFramer, EmptyLinesAreLines) {
  const Framed framed = frameWhole("\r\n\r\n", false);
  EXPECT_EQ(framed.lines, (std::vector<Line>{{0, "", 2}, {2, "", 2}}));
}

TEST(LineFramer, BareLfIsContentByDefault) {
  const Framed framed = frameWhole("USER a\nPORT 192,168,77,10,195,80\r\n", false);
  EXPECT_EQ(framed.lines, (std::vector<Line>{{0, "USER a\nPORT 192,168,77,10,195,80", 2}}));
}

TEST(LineFramer, BareLfEndsALineWhenAccepted) {
  const Framed framed = frameWhole("USER a\nPASS b\r\n", true);
  EXPECT_EQ(framed.lines, (std::vector<Line>{{0, "USER a", 1}, {7, "PASS b", 2}}));
}

TEST(LineFramer, LoneCrIsContent) {
  const Framed framed = frameWhole("A\rB\r\r\n", false);
  EXPECT_EQ(framed.lines, (std::vector<Line>{{0, "A\rB\r", 2}}));
}

TEST(LineFramer, CrLfSplitAcrossFeedsEndsTheLine) {
  LineFramer framer(512, false);
  const Framed first = frame(framer, 0, {"USER a\r"});
  EXPECT_TRUE(first.lines.empty());
  EXPECT_EQ(framer.partialLine(), "USER a\r");
  const Framed second = frame(framer, 7, {"\nPASS"});
  EXPECT_EQ(second.lines, (std::vector<Line>{{0, "USER a", 2}}));
  EXPECT_EQ(framer.partialLine(), "PASS");
  EXPECT_EQ(framer.partialLineOffset(), 8);
}

TEST(LineFramer, CrFollowedByOtherByteInTheNextFeedStaysContent) {
  LineFramer framer(512, false);
  const Framed framed = frame(framer, 0, {"A\r", "B\n", "C\r\n"});
  EXPECT_EQ(framed.lines, (std::vector<Line>{{0, "A\rB\nC", 2}}));
}

TEST(LineFramer, PartialLineTracksTheIncompleteLine) {
  LineFramer framer(512, false);
  frame(framer, 100, {"PO"});
  EXPECT_EQ(framer.partialLine(), "PO");
  EXPECT_EQ(framer.partialLineOffset(), 100);
  EXPECT_EQ(framer.nextOffset(), 102);
  frame(framer, 102, {"RT 192,168"});
  EXPECT_EQ(framer.partialLine(), "PORT 192,168");
  EXPECT_EQ(framer.partialLineOffset(), 100);
  const Framed rest = frame(framer, 112, {",77,10,195,80\r\nLI"});
  EXPECT_EQ(rest.lines, (std::vector<Line>{{100, "PORT 192,168,77,10,195,80", 2}}));
  EXPECT_EQ(framer.partialLine(), "LI");
  EXPECT_EQ(framer.partialLineOffset(), 127);
  EXPECT_EQ(framer.nextOffset(), 129);
}

TEST(LineFramer, PartialLineIsEmptyAtALineStart) {
  LineFramer framer(512, false);
  frame(framer, 0, {"NOOP\r\n"});
  EXPECT_EQ(framer.partialLine(), "");
  EXPECT_EQ(framer.partialLineOffset(), 6);
}

TEST(LineFramer, EmptyFeedChangesNothing) {
  LineFramer framer(512, false);
  const Framed framed = frame(framer, 0, {"NO", "", "OP\r\n"});
  EXPECT_EQ(framed.lines, (std::vector<Line>{{0, "NOOP", 2}}));
  EXPECT_EQ(framed.statuses, (std::vector<FrameStatus>{FrameStatus::Ok, FrameStatus::Ok, FrameStatus::Ok}));
}

// --- segmentation invariance -------------------------------------------------------------------

const std::string kSession =
    "USER anonymous\r\nPASS guest\r\nTYPE I\r\nPORT 192,168,77,10,195,80\r\nLIST\r\n"
    "\r\nSITE a\nb\r\nA\rB\r\nEPRT |2|2001:db8::10|50000|\r\nQUIT\r\npartial";

class SegmentationInvariance : public ::testing::TestWithParam<bool> {};

TEST_P(SegmentationInvariance, EverySingleSplitPointGivesTheSameLines) {
  const bool acceptBareLf = GetParam();
  const Framed whole = frameWhole(kSession, acceptBareLf);
  ASSERT_GE(whole.lines.size(), 9u);
  for (std::size_t split = 0; split <= kSession.size(); ++split) {
    LineFramer framer(512, acceptBareLf);
    const Framed parts = frame(framer, 0, {kSession.substr(0, split), kSession.substr(split)});
    EXPECT_EQ(parts.lines, whole.lines) << "split at " << split;
    EXPECT_EQ(framer.partialLine(), "partial");
    EXPECT_EQ(framer.partialLineOffset(), static_cast<std::int64_t>(kSession.size() - 7));
  }
}

TEST_P(SegmentationInvariance, OneByteFeedsGiveTheSameLines) {
  const bool acceptBareLf = GetParam();
  const Framed whole = frameWhole(kSession, acceptBareLf);
  std::vector<std::string> bytes;
  for (const char c : kSession) bytes.emplace_back(1, c);
  LineFramer framer(512, acceptBareLf);
  EXPECT_EQ(frame(framer, 0, bytes).lines, whole.lines);
}

TEST_P(SegmentationInvariance, RandomChunkingGivesTheSameLines) {
  const bool acceptBareLf = GetParam();
  const Framed whole = frameWhole(kSession, acceptBareLf);
  std::mt19937 random(7);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> chunks;
    std::size_t pos = 0;
    while (pos < kSession.size()) {
      const std::size_t size = 1 + random() % 20;
      chunks.push_back(kSession.substr(pos, size));
      pos += size;
    }
    LineFramer framer(512, acceptBareLf);
    EXPECT_EQ(frame(framer, 0, chunks).lines, whole.lines) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(LineFramer, SegmentationInvariance, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return std::string(param.param ? "bare_lf_accepted" : "crlf_only");
                         });

// --- line-length bound (docs/adversarial-cases.md case 9) --------------------------------------

TEST(LineFramerBound, LineOfExactlyMaxLengthIsDelivered) {
  const std::string line(512, 'A');
  const Framed framed = frameWhole(line + "\r\n", false, 512);
  ASSERT_EQ(framed.lines.size(), 1u);
  EXPECT_EQ(framed.lines[0].text, line);
  EXPECT_EQ(framed.statuses.back(), FrameStatus::Ok);
}

TEST(LineFramerBound, MaxLengthLineWithCrlfSplitAfterTheCrIsDelivered) {
  LineFramer framer(512, false);
  const Framed framed = frame(framer, 0, {std::string(512, 'A') + "\r", "\n"});
  ASSERT_EQ(framed.lines.size(), 1u);
  EXPECT_EQ(framed.lines[0].text.size(), 512u);
  EXPECT_FALSE(framer.overflowed());
}

TEST(LineFramerBound, OneByteOverTheLimitOverflowsBeforeAnyTerminator) {
  LineFramer framer(512, false);
  const Framed framed = frame(framer, 0, {std::string(513, 'A')});
  EXPECT_EQ(framed.statuses.back(), FrameStatus::Overflowed);
  EXPECT_TRUE(framer.overflowed());
}

TEST(LineFramerBound, OneByteOverTheLimitWithCrlfOverflows) {
  const Framed framed = frameWhole(std::string(513, 'A') + "\r\n", false, 512);
  EXPECT_TRUE(framed.lines.empty());
  EXPECT_EQ(framed.statuses.back(), FrameStatus::Overflowed);
}

TEST(LineFramerBound, BareLfContentCountsTowardsTheLimit) {
  const Framed framed = frameWhole(std::string(300, 'A') + "\n" + std::string(300, 'B') + "\r\n", false, 512);
  EXPECT_TRUE(framed.lines.empty());
  EXPECT_EQ(framed.statuses.back(), FrameStatus::Overflowed);
}

TEST(LineFramerBound, LinesBeforeTheLongLineAreDeliveredThenNothingEver) {
  LineFramer framer(512, false);
  const Framed framed = frame(framer, 0,
                              {"NOOP\r\n" + std::string(600, 'A') + "\r\nPORT 192,168,77,10,195,80\r\n",
                               "PORT 192,168,77,10,195,80\r\n"});
  EXPECT_EQ(framed.lines, (std::vector<Line>{{0, "NOOP", 2}}));
  EXPECT_EQ(framed.statuses, (std::vector<FrameStatus>{FrameStatus::Overflowed, FrameStatus::Overflowed}));
  EXPECT_EQ(framer.nextOffset(), static_cast<std::int64_t>(6 + 602 + 27 + 27));
}

struct LongLineCase {
  const char* name;
  std::size_t length;
  std::size_t chunk;
};

void PrintTo(const LongLineCase& c, std::ostream* os) { *os << c.name; }

class LongLineWithoutCrlf : public ::testing::TestWithParam<LongLineCase> {};

TEST_P(LongLineWithoutCrlf, OverflowsAndNeverBuffersMoreThanTheLimit) {
  const LongLineCase& c = GetParam();
  constexpr std::size_t kMax = 512;
  LineFramer framer(kMax, false);
  const std::string stream(c.length, 'P');
  bool overflowed = false;
  int lines = 0;
  for (std::size_t pos = 0; pos < stream.size(); pos += c.chunk) {
    const std::string_view chunk = std::string_view(stream).substr(pos, c.chunk);
    const FrameStatus status =
        framer.feed(static_cast<std::int64_t>(pos), chunk, [&](const FramedLine&) { ++lines; });
    EXPECT_LE(framer.partialLine().size(), kMax + 1);
    if (pos + chunk.size() > kMax) {
      EXPECT_EQ(status, FrameStatus::Overflowed) << "after " << pos + chunk.size() << " bytes";
    } else {
      EXPECT_EQ(status, FrameStatus::Ok);
    }
    overflowed = overflowed || status == FrameStatus::Overflowed;
  }
  EXPECT_TRUE(overflowed);
  EXPECT_EQ(lines, 0);
  EXPECT_TRUE(framer.overflowed());
  EXPECT_EQ(framer.partialLine(), "");
  EXPECT_EQ(framer.nextOffset(), static_cast<std::int64_t>(c.length));
  // A terminator afterwards changes nothing: overflow is never "allow".
  const FrameStatus after =
      framer.feed(static_cast<std::int64_t>(c.length), "\r\nPORT 192,168,77,10,195,80\r\n",
                  [&](const FramedLine&) { ++lines; });
  EXPECT_EQ(after, FrameStatus::Overflowed);
  EXPECT_EQ(lines, 0);
}

INSTANTIATE_TEST_SUITE_P(LineFramerBound, LongLineWithoutCrlf,
                         ::testing::Values(LongLineCase{"b600_one_feed", 600, 600},
                                           LongLineCase{"b600_one_byte_feeds", 600, 1},
                                           LongLineCase{"kb9_mss_feeds", 9 * 1024, 1460},
                                           LongLineCase{"kb64_mss_feeds", 64 * 1024, 1460},
                                           LongLineCase{"kb64_one_feed", 64 * 1024, 64 * 1024}),
                         [](const ::testing::TestParamInfo<LongLineCase>& param) {
                           return std::string(param.param.name);
                         });

TEST(LineFramerReset, ResumesFramingAfterOverflowAtTheGivenOffset) {
  LineFramer framer(16, false);
  frame(framer, 0, {std::string(40, 'x')});
  ASSERT_TRUE(framer.overflowed());
  framer.reset(5000);
  EXPECT_FALSE(framer.overflowed());
  const Framed framed = frame(framer, 5000, {"NOOP\r\n"});
  EXPECT_EQ(framed.lines, (std::vector<Line>{{5000, "NOOP", 2}}));
}

TEST(LineFramerReset, DropsThePartialLine) {
  LineFramer framer(512, false);
  frame(framer, 0, {"\x16\x03\x01"});
  framer.reset(200);
  EXPECT_EQ(framer.partialLine(), "");
  EXPECT_EQ(framer.partialLineOffset(), 200);
  const Framed framed = frame(framer, 200, {"CCC\r\n"});
  EXPECT_EQ(framed.lines, (std::vector<Line>{{200, "CCC", 2}}));
}

}  // namespace
}  // namespace ftpalg
