// SeqAdjuster properties, checked against a brute-force reference model that materialises the
// original and output streams and walks them byte by byte.
#include "ftpalg/tcp/seq_adjuster.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ftpalg/core/seq_num.hpp"

namespace ftpalg {
namespace {

struct EditSpec {
  std::int64_t offset;
  std::size_t oldLength;
  std::string replacement;
};

// Reference: builds the output stream and, for every original offset, its output offset.
struct Reference {
  std::string original;
  std::string output;
  std::vector<std::int64_t> outputOf;  // size original.size() + 1

  Reference(const std::string& text, const std::vector<EditSpec>& edits) : original(text) {
    std::size_t pos = 0;
    for (const EditSpec& e : edits) {
      while (static_cast<std::int64_t>(pos) < e.offset) {
        outputOf.push_back(static_cast<std::int64_t>(output.size()));
        output += text[pos++];
      }
      // Offsets strictly inside the span map to the end of the replacement; the span start maps
      // to the replacement start.
      outputOf.push_back(static_cast<std::int64_t>(output.size()));
      output += e.replacement;
      for (std::size_t k = 1; k < e.oldLength; ++k) outputOf.push_back(static_cast<std::int64_t>(output.size()));
      pos += e.oldLength;
    }
    while (pos < text.size()) {
      outputOf.push_back(static_cast<std::int64_t>(output.size()));
      output += text[pos++];
    }
    outputOf.push_back(static_cast<std::int64_t>(output.size()));
  }
};

std::vector<EditSpec> randomEdits(std::mt19937& random, std::size_t streamLength, int count) {
  std::vector<EditSpec> edits;
  std::int64_t pos = 0;
  for (int i = 0; i < count; ++i) {
    pos += 1 + static_cast<std::int64_t>(random() % 40);
    const std::size_t oldLength = 1 + random() % 15;
    if (pos + static_cast<std::int64_t>(oldLength) >= static_cast<std::int64_t>(streamLength)) break;
    std::string replacement(1 + random() % 25, static_cast<char>('A' + random() % 26));
    edits.push_back({pos, oldLength, replacement});
    pos += static_cast<std::int64_t>(oldLength);
  }
  return edits;
}

std::string randomText(std::mt19937& random, std::size_t length) {
  std::string text(length, ' ');
  for (char& c : text) c = static_cast<char>('a' + random() % 26);
  return text;
}

SeqAdjuster adjusterFor(const std::string& text, const std::vector<EditSpec>& edits) {
  SeqAdjuster adjuster;
  for (const EditSpec& e : edits) {
    adjuster.addEdit(e.offset, std::string_view(text).substr(static_cast<std::size_t>(e.offset), e.oldLength),
                     e.replacement);
  }
  return adjuster;
}

std::string transformRange(const SeqAdjuster& adjuster, const std::string& text, std::int64_t a,
                           std::int64_t b, std::size_t maxOutput = SIZE_MAX, std::size_t* consumed = nullptr) {
  std::vector<std::uint8_t> out;
  const auto* data = reinterpret_cast<const std::uint8_t*>(text.data()) + a;
  const std::size_t used = adjuster.transform(a, std::span<const std::uint8_t>(data, static_cast<std::size_t>(b - a)),
                                              maxOutput, out);
  if (consumed != nullptr) *consumed = used;
  return std::string(out.begin(), out.end());
}

TEST(SeqAdjuster, WithoutEditsEveryMappingIsTheIdentity) {
  SeqAdjuster adjuster;
  for (std::int64_t x : {0LL, 1LL, 1000LL, 5'000'000'000LL}) {
    EXPECT_EQ(adjuster.toOutput(x), x);
    EXPECT_EQ(adjuster.toOriginal(x), x);
  }
  EXPECT_FALSE(adjuster.touches(0, 1000));
}

TEST(SeqAdjuster, OutputOffsetsMatchTheReferenceForHundredsOfRandomEdits) {
  std::mt19937 random(7);
  for (int round = 0; round < 20; ++round) {
    const std::string text = randomText(random, 8000);
    const auto edits = randomEdits(random, text.size(), 300);
    const Reference reference(text, edits);
    const SeqAdjuster adjuster = adjusterFor(text, edits);
    for (std::size_t x = 0; x <= text.size(); ++x) {
      ASSERT_EQ(adjuster.toOutput(static_cast<std::int64_t>(x)), reference.outputOf[x]) << "x=" << x;
    }
  }
}

TEST(SeqAdjuster, ToOriginalInvertsToOutputOutsideEditSpans) {
  std::mt19937 random(11);
  const std::string text = randomText(random, 5000);
  const auto edits = randomEdits(random, text.size(), 200);
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  std::vector<bool> insideSpan(text.size() + 1, false);
  for (const EditSpec& e : edits) {
    for (std::size_t k = 1; k < e.oldLength; ++k) insideSpan[static_cast<std::size_t>(e.offset) + k] = true;
  }
  for (std::size_t x = 0; x <= text.size(); ++x) {
    if (insideSpan[x]) continue;
    ASSERT_EQ(adjuster.toOriginal(adjuster.toOutput(static_cast<std::int64_t>(x))), static_cast<std::int64_t>(x));
  }
}

TEST(SeqAdjuster, BothMappingsAreMonotone) {
  std::mt19937 random(13);
  const std::string text = randomText(random, 4000);
  const auto edits = randomEdits(random, text.size(), 150);
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  const Reference reference(text, edits);
  for (std::int64_t x = 1; x <= static_cast<std::int64_t>(text.size()); ++x) {
    ASSERT_LE(adjuster.toOutput(x - 1), adjuster.toOutput(x));
  }
  for (std::int64_t y = 1; y <= static_cast<std::int64_t>(reference.output.size()); ++y) {
    ASSERT_LE(adjuster.toOriginal(y - 1), adjuster.toOriginal(y));
  }
}

TEST(SeqAdjuster, AnAckInsideAReplacementDoesNotAcknowledgeTheEdit) {
  SeqAdjuster adjuster;
  adjuster.addEdit(10, "192,168,77,10", "203,0,113,1");  // 13 -> 11 bytes
  EXPECT_EQ(adjuster.toOriginal(10), 10);
  EXPECT_EQ(adjuster.toOriginal(15), 10);
  EXPECT_EQ(adjuster.toOriginal(21), 23);  // the whole replacement acknowledged
  EXPECT_EQ(adjuster.toOriginal(30), 32);
  EXPECT_EQ(adjuster.totalDelta(), -2);
}

TEST(SeqAdjuster, EverySegmentationOfTheStreamTransformsToTheReferenceOutput) {
  std::mt19937 random(17);
  const std::string text = randomText(random, 120);
  const std::vector<EditSpec> edits = {{5, 3, "XXXXXXX"}, {20, 10, "Y"}, {40, 1, "ZZ"}, {41, 4, "W"}, {90, 12, "VVVVVVVVVVVVVVV"}};
  const Reference reference(text, edits);
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  // Two segments, cut at every byte.
  for (std::int64_t cut = 0; cut <= static_cast<std::int64_t>(text.size()); ++cut) {
    const std::string first = transformRange(adjuster, text, 0, cut);
    const std::string second = transformRange(adjuster, text, cut, static_cast<std::int64_t>(text.size()));
    ASSERT_EQ(first + second, reference.output) << "cut=" << cut;
    ASSERT_EQ(static_cast<std::int64_t>(first.size()), adjuster.toOutput(cut)) << "cut=" << cut;
  }
  // One-byte segments.
  std::string joined;
  for (std::int64_t x = 0; x < static_cast<std::int64_t>(text.size()); ++x) joined += transformRange(adjuster, text, x, x + 1);
  EXPECT_EQ(joined, reference.output);
}

TEST(SeqAdjuster, RetransmissionOfAnEditedRangeIsTransformedIdentically) {
  SeqAdjuster adjuster;
  const std::string text = "PORT 192,168,77,10,195,80\r\n";
  adjuster.addEdit(5, "192,168,77,10,195,80", "203,0,113,1,195,80");
  const std::string once = transformRange(adjuster, text, 0, static_cast<std::int64_t>(text.size()));
  const std::string again = transformRange(adjuster, text, 0, static_cast<std::int64_t>(text.size()));
  EXPECT_EQ(once, "PORT 203,0,113,1,195,80\r\n");
  EXPECT_EQ(again, once);
}

TEST(SeqAdjuster, TrimmingForMaxOutputNeverSplitsAReplacementAndTheRemainderCompletesTheStream) {
  SeqAdjuster adjuster;
  const std::string text = "NOOP\r\nPORT 1,2,3,4,195,80\r\nLIST\r\n";
  adjuster.addEdit(11, "1,2,3,4,195,80", "203,113,200,200,195,80");  // grows by 8
  const Reference reference(text, {{11, 14, "203,113,200,200,195,80"}});
  for (std::size_t limit = 11; limit < reference.output.size() + 2; ++limit) {
    std::size_t consumed = 0;
    const std::string first = transformRange(adjuster, text, 0, static_cast<std::int64_t>(text.size()), limit, &consumed);
    ASSERT_LE(first.size(), limit);
    const bool replacementWhole = first.find("203,113,200,200,195,80") != std::string::npos;
    const bool replacementAbsent = first.find("203") == std::string::npos;
    ASSERT_TRUE(replacementWhole || replacementAbsent) << "limit " << limit << ": " << first;
    // The sender retransmits from the first byte not consumed.
    const std::string rest = transformRange(adjuster, text, static_cast<std::int64_t>(consumed),
                                            static_cast<std::int64_t>(text.size()));
    ASSERT_EQ(first + rest, reference.output) << "limit " << limit;
    ASSERT_EQ(adjuster.toOutput(static_cast<std::int64_t>(consumed)), static_cast<std::int64_t>(first.size()));
  }
}

TEST(SeqAdjuster, PruningKeepsMappingsAtOrAfterTheFloor) {
  std::mt19937 random(19);
  const std::string text = randomText(random, 3000);
  const auto edits = randomEdits(random, text.size(), 100);
  SeqAdjuster pruned = adjusterFor(text, edits);
  const SeqAdjuster full = adjusterFor(text, edits);
  pruned.prune(1500);
  EXPECT_LT(pruned.editCount(), full.editCount());
  EXPECT_GT(pruned.pruneFloor(), 0);
  EXPECT_LE(pruned.pruneFloor(), 1500);
  for (std::int64_t x = pruned.pruneFloor(); x <= static_cast<std::int64_t>(text.size()); ++x) {
    ASSERT_EQ(pruned.toOutput(x), full.toOutput(x)) << "x=" << x;
  }
  for (std::int64_t y = full.toOutput(pruned.pruneFloor()); y <= full.toOutput(3000); ++y) {
    ASSERT_EQ(pruned.toOriginal(y), full.toOriginal(y)) << "y=" << y;
  }
  EXPECT_EQ(pruned.totalDelta(), full.totalDelta());
}

TEST(SeqAdjuster, MappingsSurviveSequenceNumberWrapThroughTheUnwrapper) {
  // The stream starts 100 bytes before 2^32 wraps; edits before and after the wrap.
  const SeqNum base(0xffffff9cu);
  SeqUnwrapper unwrap(base);
  SeqAdjuster adjuster;
  adjuster.addEdit(50, "192,168,77,10", "203,0,113,1");   // -2 before the wrap
  adjuster.addEdit(150, "192,168,77,10", "203,113,200,200"); // +2 after the wrap
  const SeqNum afterBoth = base + 300;  // wrapped: small raw value
  EXPECT_LT(afterBoth.raw(), 1000u);
  const std::int64_t offset = unwrap.unwrap(afterBoth);
  EXPECT_EQ(offset, 300);
  EXPECT_EQ(unwrap.wrap(adjuster.toOutput(offset)), base + 300);  // -2 + 2
  EXPECT_EQ(unwrap.wrap(adjuster.toOutput(100)), base + 98);
  EXPECT_EQ(unwrap.wrap(adjuster.toOriginal(adjuster.toOutput(200))), base + 200);
}

TEST(SeqAdjuster, OffsetsBeyondFourGigabytesWork) {
  SeqAdjuster adjuster;
  const std::int64_t far = 5'000'000'000LL;
  adjuster.addEdit(far, "abc", "abcdef");
  EXPECT_EQ(adjuster.toOutput(far + 10), far + 13);
  EXPECT_EQ(adjuster.toOriginal(far + 13), far + 10);
  EXPECT_TRUE(adjuster.touches(far - 5, far + 1));
  EXPECT_FALSE(adjuster.touches(far + 3, far + 100));
}

}  // namespace
}  // namespace ftpalg
