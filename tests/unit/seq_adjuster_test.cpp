// SeqAdjuster properties, checked against a brute-force reference model that materialises the
// original and output streams and walks them byte by byte. Offsets are 64-bit stream offsets;
// "original" is the sender's space, "output" the receiver's (seq_adjuster.hpp).
#include "ftpalg/tcp/seq_adjuster.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ftpalg/core/seq_num.hpp"

namespace ftpalg {
namespace {

struct EditSpec {
  std::int64_t offset;      // relative to the start of the reference text
  std::size_t oldLength;    // 0: pure insertion
  std::string replacement;  // empty: pure deletion
};

// Reference: applies the edits to the text and walks both streams.
//  outputOf[x]   (x in [0, N]): output offset where a segment starting at original x begins:
//                the replacement start for a span start or an insertion point, the replacement
//                end strictly inside a span, else the output offset of the byte at x.
//  originalOf[y] (y in [0, output size]): the largest x with outputOf[x] <= y (an ACK at y
//                acknowledges the original bytes before that x).
struct Reference {
  std::string original;
  std::string output;
  std::vector<std::int64_t> outputOf;
  std::vector<std::int64_t> originalOf;
  std::vector<bool> insideSpan;         // x strictly inside an edit's original span
  std::vector<bool> insideReplacement;  // output offset y strictly inside a replacement

  Reference(const std::string& text, const std::vector<EditSpec>& edits)
      : original(text), outputOf(text.size() + 1, -1), insideSpan(text.size() + 1, false) {
    const auto setOnce = [this](std::size_t x) {
      if (outputOf[x] < 0) outputOf[x] = static_cast<std::int64_t>(output.size());
    };
    std::vector<std::pair<std::size_t, std::size_t>> replacementRanges;
    std::size_t pos = 0;
    for (const EditSpec& e : edits) {
      while (pos < static_cast<std::size_t>(e.offset)) {
        setOnce(pos);
        output += text[pos++];
      }
      setOnce(pos);
      replacementRanges.emplace_back(output.size(), output.size() + e.replacement.size());
      output += e.replacement;
      for (std::size_t k = 1; k < e.oldLength; ++k) {
        setOnce(pos + k);
        insideSpan[pos + k] = true;
      }
      pos += e.oldLength;
    }
    while (pos < text.size()) {
      setOnce(pos);
      output += text[pos++];
    }
    setOnce(pos);
    insideReplacement.assign(output.size() + 1, false);
    for (const auto& [from, to] : replacementRanges) {
      for (std::size_t y = from + 1; y < to; ++y) insideReplacement[y] = true;
    }
    // outputOf is monotone: walk both streams together.
    std::size_t x = 0;
    for (std::size_t y = 0; y <= output.size(); ++y) {
      while (x + 1 <= text.size() && outputOf[x + 1] <= static_cast<std::int64_t>(y)) ++x;
      originalOf.push_back(static_cast<std::int64_t>(x));
    }
  }
};

// Random edits: gaps (possibly 0: adjacent edits), spans of 0..15 bytes (0: insertion),
// replacements of 0..25 bytes (0: deletion; never both empty).
std::vector<EditSpec> randomEdits(std::mt19937& random, std::size_t streamLength, int count) {
  std::vector<EditSpec> edits;
  std::int64_t pos = 0;
  for (int i = 0; i < count; ++i) {
    pos += static_cast<std::int64_t>(random() % 40);
    const std::size_t oldLength = random() % 16;
    if (pos + static_cast<std::int64_t>(oldLength) >= static_cast<std::int64_t>(streamLength)) break;
    std::size_t newLength = random() % 26;
    if (oldLength == 0 && newLength == 0) newLength = 1;
    edits.push_back({pos, oldLength, std::string(newLength, static_cast<char>('A' + random() % 26))});
    pos += static_cast<std::int64_t>(oldLength);
  }
  return edits;
}

std::string randomText(std::mt19937& random, std::size_t length) {
  std::string text(length, ' ');
  for (char& c : text) c = static_cast<char>('a' + random() % 26);
  return text;
}

// The log for `edits` on a text whose first byte is at stream offset `base`.
SeqAdjuster adjusterFor(const std::string& text, const std::vector<EditSpec>& edits, std::int64_t base = 0) {
  SeqAdjuster adjuster;
  for (const EditSpec& e : edits) {
    EXPECT_TRUE(adjuster.addEdit(
        base + e.offset, std::string_view(text).substr(static_cast<std::size_t>(e.offset), e.oldLength),
        e.replacement));
  }
  return adjuster;
}

// transform() of the original range [a, b) of text (relative offsets; text starts at `base`).
std::string transformRange(const SeqAdjuster& adjuster, const std::string& text, std::int64_t a,
                           std::int64_t b, std::int64_t base = 0, std::size_t maxOutput = SIZE_MAX,
                           std::size_t* consumed = nullptr) {
  std::vector<std::uint8_t> out;
  const auto* data = reinterpret_cast<const std::uint8_t*>(text.data()) + a;
  const std::size_t used = adjuster.transform(
      base + a, std::span<const std::uint8_t>(data, static_cast<std::size_t>(b - a)), maxOutput, out);
  if (consumed != nullptr) *consumed = used;
  return std::string(out.begin(), out.end());
}

const std::int64_t kBases[] = {0, (std::int64_t{1} << 32) - 1000, 5'000'000'000LL};

TEST(SeqAdjuster, WithoutEditsEveryMappingIsTheIdentity) {
  SeqAdjuster adjuster;
  for (std::int64_t x : {0LL, 1LL, 1000LL, 5'000'000'000LL}) {
    EXPECT_EQ(adjuster.toOutput(x), x);
    EXPECT_EQ(adjuster.toOriginal(x), x);
  }
  EXPECT_FALSE(adjuster.touches(0, 1000));
  EXPECT_EQ(adjuster.totalDelta(), 0);
}

TEST(SeqAdjuster, OutputOffsetsMatchTheReferenceForHundredsOfRandomEdits) {
  std::mt19937 random(7);
  for (int round = 0; round < 24; ++round) {
    const std::int64_t base = kBases[round % 3];
    const std::string text = randomText(random, 8000);
    const auto edits = randomEdits(random, text.size(), 300);
    ASSERT_GE(edits.size(), 200u);
    const Reference reference(text, edits);
    const SeqAdjuster adjuster = adjusterFor(text, edits, base);
    for (std::size_t x = 0; x <= text.size(); ++x) {
      ASSERT_EQ(adjuster.toOutput(base + static_cast<std::int64_t>(x)), base + reference.outputOf[x])
          << "round " << round << " x=" << x;
    }
    EXPECT_EQ(adjuster.totalDelta(),
              static_cast<std::int64_t>(reference.output.size()) - static_cast<std::int64_t>(text.size()));
  }
}

TEST(SeqAdjuster, OriginalOffsetsMatchTheReferenceForHundredsOfRandomEdits) {
  std::mt19937 random(8);
  for (int round = 0; round < 24; ++round) {
    const std::int64_t base = kBases[round % 3];
    const std::string text = randomText(random, 8000);
    const auto edits = randomEdits(random, text.size(), 300);
    const Reference reference(text, edits);
    const SeqAdjuster adjuster = adjusterFor(text, edits, base);
    for (std::size_t y = 0; y <= reference.output.size(); ++y) {
      ASSERT_EQ(adjuster.toOriginal(base + static_cast<std::int64_t>(y)), base + reference.originalOf[y])
          << "round " << round << " y=" << y;
    }
  }
}

TEST(SeqAdjuster, ToOriginalInvertsToOutputOutsideEditSpans) {
  std::mt19937 random(11);
  const std::string text = randomText(random, 5000);
  const auto edits = randomEdits(random, text.size(), 200);
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  // Outside every span [offset, originalEnd) (a pure insertion's span is empty).
  std::vector<bool> inSpan(text.size() + 1, false);
  for (const EditSpec& e : edits) {
    for (std::size_t k = 0; k < e.oldLength; ++k) inSpan[static_cast<std::size_t>(e.offset) + k] = true;
  }
  std::size_t checked = 0;
  for (std::size_t x = 0; x <= text.size(); ++x) {
    if (inSpan[x]) continue;
    ++checked;
    ASSERT_EQ(adjuster.toOriginal(adjuster.toOutput(static_cast<std::int64_t>(x))),
              static_cast<std::int64_t>(x))
        << "x=" << x;
  }
  EXPECT_GT(checked, text.size() / 2);
}

TEST(SeqAdjuster, BothMappingsAreMonotone) {
  std::mt19937 random(13);
  const std::string text = randomText(random, 4000);
  const auto edits = randomEdits(random, text.size(), 150);
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  const Reference reference(text, edits);
  for (std::int64_t x = 1; x <= static_cast<std::int64_t>(text.size()) + 10; ++x) {
    ASSERT_LE(adjuster.toOutput(x - 1), adjuster.toOutput(x)) << "x=" << x;
  }
  for (std::int64_t y = 1; y <= static_cast<std::int64_t>(reference.output.size()) + 10; ++y) {
    ASSERT_LE(adjuster.toOriginal(y - 1), adjuster.toOriginal(y)) << "y=" << y;
  }
}

TEST(SeqAdjuster, AnAckInsideAReplacementDoesNotAcknowledgeTheEdit) {
  SeqAdjuster adjuster;
  adjuster.addEdit(10, "192,168,77,10", "203,0,113,1");  // 13 -> 11 bytes
  EXPECT_EQ(adjuster.toOriginal(10), 10);
  EXPECT_EQ(adjuster.toOriginal(15), 10);
  EXPECT_EQ(adjuster.toOriginal(20), 10);
  EXPECT_EQ(adjuster.toOriginal(21), 23);  // the whole replacement acknowledged
  EXPECT_EQ(adjuster.toOriginal(30), 32);
  EXPECT_EQ(adjuster.totalDelta(), -2);
}

TEST(SeqAdjuster, OffsetsInsideASpanMapToTheEndOfItsReplacement) {
  SeqAdjuster adjuster;
  adjuster.addEdit(10, "1,2,3,4", "10,20,30,40");  // 7 -> 11 bytes
  EXPECT_EQ(adjuster.toOutput(10), 10);            // span start: replacement start
  EXPECT_EQ(adjuster.toOutput(11), 21);
  EXPECT_EQ(adjuster.toOutput(16), 21);
  EXPECT_EQ(adjuster.toOutput(17), 21);  // span end
  EXPECT_EQ(adjuster.toOutput(18), 22);
}

TEST(SeqAdjuster, APureInsertionGoesOutWithTheByteAtItsOffset) {
  SeqAdjuster adjuster;
  ASSERT_TRUE(adjuster.addEdit(5, "", "XYZ"));
  const std::string text = "0123456789";
  EXPECT_EQ(adjuster.toOutput(5), 5);  // where the insertion starts
  EXPECT_EQ(adjuster.toOutput(6), 9);
  EXPECT_EQ(transformRange(adjuster, text, 0, 5), "01234");
  EXPECT_EQ(transformRange(adjuster, text, 5, 10), "XYZ56789");
  EXPECT_TRUE(adjuster.touches(5, 6));
  EXPECT_FALSE(adjuster.touches(0, 5));
  EXPECT_FALSE(adjuster.touches(6, 10));
  EXPECT_EQ(adjuster.toOriginal(7), 5);  // inside the insertion
  EXPECT_EQ(adjuster.toOriginal(8), 5);  // after it, before the byte at 5
  EXPECT_EQ(adjuster.toOriginal(9), 6);
}

TEST(SeqAdjuster, APureDeletionIsAcknowledgedWithTheByteBeforeIt) {
  SeqAdjuster adjuster;
  ASSERT_TRUE(adjuster.addEdit(4, "4567", ""));
  const std::string text = "0123456789";
  EXPECT_EQ(transformRange(adjuster, text, 0, 10), "012389");
  EXPECT_EQ(adjuster.toOutput(4), 4);
  EXPECT_EQ(adjuster.toOutput(6), 4);
  EXPECT_EQ(adjuster.toOutput(8), 4);
  EXPECT_EQ(adjuster.toOriginal(4), 8);  // nothing of the span reaches the receiver
  EXPECT_EQ(adjuster.toOriginal(5), 9);
}

TEST(SeqAdjuster, EveryRangeTransformsToTheReferenceOutputBetweenItsMappedEnds) {
  std::mt19937 random(16);
  for (std::int64_t base : kBases) {
    const std::string text = randomText(random, 160);
    const std::vector<EditSpec> edits = {
        {5, 3, "XXXXXXX"}, {20, 10, "Y"},   {40, 1, "ZZ"},    {41, 4, "W"},
        {50, 0, "INS"},    {50, 6, ""},     {70, 5, "QQQQQ"}, {90, 12, "VVVVVVVVVVVVVVV"},
        {102, 0, "P"},     {130, 0, "TAIL"}};
    const Reference reference(text, edits);
    const SeqAdjuster adjuster = adjusterFor(text, edits, base);
    for (std::int64_t a = 0; a <= static_cast<std::int64_t>(text.size()); ++a) {
      for (std::int64_t b = a; b <= static_cast<std::int64_t>(text.size()); ++b) {
        const std::string produced = transformRange(adjuster, text, a, b, base);
        const auto from = static_cast<std::size_t>(reference.outputOf[static_cast<std::size_t>(a)]);
        const auto to = static_cast<std::size_t>(reference.outputOf[static_cast<std::size_t>(b)]);
        ASSERT_EQ(produced, reference.output.substr(from, to - from)) << "a=" << a << " b=" << b;
      }
    }
  }
}

TEST(SeqAdjuster, TouchesIsTrueExactlyWhenTransformCouldChangeTheRange) {
  std::mt19937 random(18);
  const std::string text = randomText(random, 120);
  const std::vector<EditSpec> edits = {{5, 3, "abc"}, {20, 0, "I"}, {30, 4, ""}, {34, 2, "JK"}, {60, 1, "L"}};
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  for (std::int64_t a = 0; a < static_cast<std::int64_t>(text.size()); ++a) {
    for (std::int64_t b = a + 1; b <= static_cast<std::int64_t>(text.size()); ++b) {
      // Brute force: a span byte in [a, b), or an insertion point in [a, b).
      bool expected = false;
      for (const EditSpec& e : edits) {
        const std::int64_t spanEnd = e.offset + static_cast<std::int64_t>(e.oldLength);
        expected = expected || (e.offset < b && std::max(spanEnd, e.offset + 1) > a);
      }
      ASSERT_EQ(adjuster.touches(a, b), expected) << "a=" << a << " b=" << b;
      if (!expected) {
        ASSERT_EQ(transformRange(adjuster, text, a, b),
                  text.substr(static_cast<std::size_t>(a), static_cast<std::size_t>(b - a)));
      }
    }
  }
}

TEST(SeqAdjuster, EverySegmentationOfTheStreamTransformsToTheReferenceOutput) {
  std::mt19937 random(17);
  const std::string text = randomText(random, 120);
  const std::vector<EditSpec> edits = {
      {5, 3, "XXXXXXX"},          {20, 10, "Y"}, {40, 1, "ZZ"}, {41, 4, "W"}, {60, 0, "NEW"}, {75, 5, ""},
      {90, 12, "VVVVVVVVVVVVVVV"}};
  const Reference reference(text, edits);
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  const auto length = static_cast<std::int64_t>(text.size());
  // Two segments, cut at every byte boundary; the second segment's seq is toOutput(cut).
  for (std::int64_t cut = 0; cut <= length; ++cut) {
    const std::string first = transformRange(adjuster, text, 0, cut);
    const std::string second = transformRange(adjuster, text, cut, length);
    ASSERT_EQ(first + second, reference.output) << "cut=" << cut;
    ASSERT_EQ(static_cast<std::int64_t>(first.size()), adjuster.toOutput(cut)) << "cut=" << cut;
  }
  // One-byte segments.
  std::string joined;
  for (std::int64_t x = 0; x < length; ++x) joined += transformRange(adjuster, text, x, x + 1);
  EXPECT_EQ(joined, reference.output);
  // Random segmentations, each segment's seq checked against the bytes before it.
  for (int round = 0; round < 500; ++round) {
    std::string output;
    for (std::int64_t a = 0; a < length;) {
      const std::int64_t b = std::min(length, a + 1 + static_cast<std::int64_t>(random() % 30));
      ASSERT_EQ(adjuster.toOutput(a), static_cast<std::int64_t>(output.size())) << "a=" << a;
      output += transformRange(adjuster, text, a, b);
      a = b;
    }
    ASSERT_EQ(output, reference.output) << "round " << round;
  }
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

TEST(SeqAdjuster, RetransmissionWithDifferentBoundariesGivesTheSameBytesAtTheSameOutputOffsets) {
  SeqAdjuster adjuster;
  const std::string text = "NOOP\r\nPORT 192,168,77,10,195,80\r\nLIST\r\n";
  adjuster.addEdit(11, "192,168,77,10,195,80", "203,0,113,1,195,80");
  const std::string whole = transformRange(adjuster, text, 0, static_cast<std::int64_t>(text.size()));
  // A retransmission that starts inside the address and one that ends inside it.
  const std::string tail = transformRange(adjuster, text, 15, static_cast<std::int64_t>(text.size()));
  const std::string head = transformRange(adjuster, text, 3, 20);
  EXPECT_EQ(tail, whole.substr(static_cast<std::size_t>(adjuster.toOutput(15))));
  EXPECT_EQ(head, whole.substr(3, static_cast<std::size_t>(adjuster.toOutput(20) - 3)));
  EXPECT_EQ(head, "P\r\nPORT 203,0,113,1,195,80");
}

TEST(SeqAdjuster, TrimmingForMaxOutputNeverSplitsAReplacementAndTheRemainderCompletesTheStream) {
  SeqAdjuster adjuster;
  const std::string text = "NOOP\r\nPORT 1,2,3,4,195,80\r\nLIST\r\n";
  adjuster.addEdit(11, "1,2,3,4,195,80", "203,113,200,200,195,80");  // grows by 8
  const Reference reference(text, {{11, 14, "203,113,200,200,195,80"}});
  for (std::size_t limit = 22; limit < reference.output.size() + 2; ++limit) {
    std::size_t consumed = 0;
    const std::string first =
        transformRange(adjuster, text, 0, static_cast<std::int64_t>(text.size()), 0, limit, &consumed);
    ASSERT_LE(first.size(), limit);
    const bool replacementWhole = first.find("203,113,200,200,195,80") != std::string::npos;
    const bool replacementAbsent = first.find("203") == std::string::npos;
    ASSERT_TRUE(replacementWhole || replacementAbsent) << "limit " << limit << ": " << first;
    // The sender retransmits from the first byte not consumed.
    const std::string rest = transformRange(adjuster, text, static_cast<std::int64_t>(consumed),
                                            static_cast<std::int64_t>(text.size()));
    ASSERT_EQ(first + rest, reference.output) << "limit " << limit;
    ASSERT_EQ(adjuster.toOutput(static_cast<std::int64_t>(consumed)),
              static_cast<std::int64_t>(first.size()));
  }
}

TEST(SeqAdjuster, RepeatedTrimmingFromAnyStartRebuildsTheReferenceOutput) {
  std::mt19937 random(21);
  const std::string text = randomText(random, 300);
  const auto edits = randomEdits(random, text.size(), 30);
  const Reference reference(text, edits);
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  const auto length = static_cast<std::int64_t>(text.size());
  for (std::size_t limit = 25; limit <= 60; ++limit) {  // 25: the largest replacement fits
    for (std::int64_t start = 0; start < length; ++start) {
      std::string output;
      std::int64_t a = start;
      while (a < length) {
        std::size_t consumed = 0;
        const std::string chunk = transformRange(adjuster, text, a, length, 0, limit, &consumed);
        ASSERT_GT(consumed, 0u);
        ASSERT_LE(chunk.size(), limit);
        const std::int64_t next = a + static_cast<std::int64_t>(consumed);
        // Cut between original bytes or right before an edit, never inside a span.
        if (next < length) {
          ASSERT_FALSE(reference.insideSpan[static_cast<std::size_t>(next)]) << "next=" << next;
        }
        ASSERT_EQ(static_cast<std::int64_t>(chunk.size()), adjuster.toOutput(next) - adjuster.toOutput(a));
        output += chunk;
        a = next;
      }
      const auto from = static_cast<std::size_t>(reference.outputOf[static_cast<std::size_t>(start)]);
      ASSERT_EQ(output, reference.output.substr(from)) << "limit " << limit << " start " << start;
    }
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

// A held or reordered old packet can carry an ACK from before the pruned range (fuzz_engine
// finding: a 220 segment held out of order, released after a later ACK pruned the PORT rewrite,
// went out acknowledging offset -3). Up to the first edit the maps are exact; below the floor
// they stay within the bounds the full log implies.
TEST(SeqAdjuster, OffsetsBeforeThePrunedRangeStayExactUpToTheFirstEditAndBoundedAfter) {
  SeqAdjuster adjuster;
  ASSERT_TRUE(adjuster.addEdit(20, "PORT 10,9,9,9,19,80", "PORT 203,0,113,1,19,80"));  // +3
  ASSERT_TRUE(adjuster.addEdit(60, "PORT 10,9,9,9,19,81", "PORT 203,0,113,1,19,81"));  // +3
  const SeqAdjuster full = adjuster;
  adjuster.prune(100);
  ASSERT_EQ(adjuster.editCount(), 0u);
  ASSERT_EQ(adjuster.pruneFloor(), 79);
  for (std::int64_t x = 0; x <= 20; ++x) {
    EXPECT_EQ(adjuster.toOutput(x), x) << "x=" << x;
    EXPECT_EQ(adjuster.toOriginal(x), x) << "y=" << x;
  }
  for (std::int64_t x = 21; x < adjuster.pruneFloor(); ++x) {
    EXPECT_GE(adjuster.toOutput(x), 20) << "x=" << x;
    EXPECT_LE(adjuster.toOutput(x), full.toOutput(adjuster.pruneFloor())) << "x=" << x;
  }
  for (std::int64_t y = 21; y < full.toOutput(adjuster.pruneFloor()); ++y) {
    EXPECT_GE(adjuster.toOriginal(y), 20) << "y=" << y;
    EXPECT_LE(adjuster.toOriginal(y), adjuster.pruneFloor()) << "y=" << y;
  }
  for (std::int64_t x = adjuster.pruneFloor(); x < 200; ++x) {
    EXPECT_EQ(adjuster.toOutput(x), full.toOutput(x)) << "x=" << x;
    EXPECT_EQ(adjuster.toOriginal(full.toOutput(x)), x) << "x=" << x;
  }
}

TEST(SeqAdjuster, AShrinkingPrunedEditNeverMapsAStaleAckPastTheFloor) {
  SeqAdjuster adjuster;
  ASSERT_TRUE(adjuster.addEdit(10, "PORT 192,168,177,100,19,80", "PORT 1,2,3,4,19,80"));  // -8
  adjuster.prune(50);
  const std::int64_t floor = adjuster.pruneFloor();
  ASSERT_EQ(floor, 36);
  EXPECT_EQ(adjuster.toOriginal(5), 5);
  for (std::int64_t y = 11; y < floor - 8; ++y) {
    EXPECT_GE(adjuster.toOriginal(y), 10) << "y=" << y;
    EXPECT_LE(adjuster.toOriginal(y), floor) << "y=" << y;
  }
  EXPECT_EQ(adjuster.toOriginal(floor - 8), floor);
}

TEST(SeqAdjuster, PruningStepByStepKeepsEverythingAtOrAfterTheFloorAgainstTheReference) {
  std::mt19937 random(27);
  for (std::int64_t base : kBases) {
    const std::string text = randomText(random, 1200);
    const auto edits = randomEdits(random, text.size(), 80);
    const Reference reference(text, edits);
    SeqAdjuster adjuster = adjusterFor(text, edits, base);
    std::int64_t acked = 0;
    std::int64_t previousFloor = adjuster.pruneFloor();
    while (acked < static_cast<std::int64_t>(text.size())) {
      acked = std::min<std::int64_t>(static_cast<std::int64_t>(text.size()), acked + random() % 60);
      adjuster.prune(base + acked);
      const std::int64_t floor = adjuster.pruneFloor() - base;
      ASSERT_LE(floor, acked);
      ASSERT_GE(adjuster.pruneFloor(), previousFloor);
      previousFloor = adjuster.pruneFloor();
      if (floor < 0) continue;  // nothing pruned yet
      for (std::int64_t x = floor; x <= static_cast<std::int64_t>(text.size()); ++x) {
        ASSERT_EQ(adjuster.toOutput(base + x), base + reference.outputOf[static_cast<std::size_t>(x)])
            << "x=" << x;
      }
      for (auto y = static_cast<std::size_t>(reference.outputOf[static_cast<std::size_t>(floor)]);
           y <= reference.output.size(); ++y) {
        ASSERT_EQ(adjuster.toOriginal(base + static_cast<std::int64_t>(y)), base + reference.originalOf[y])
            << "y=" << y;
      }
      const auto from = static_cast<std::size_t>(reference.outputOf[static_cast<std::size_t>(floor)]);
      ASSERT_EQ(transformRange(adjuster, text, floor, static_cast<std::int64_t>(text.size()), base),
                reference.output.substr(from));
    }
    EXPECT_EQ(adjuster.editCount(), 0u);
    EXPECT_EQ(adjuster.totalDelta(),
              static_cast<std::int64_t>(reference.output.size()) - static_cast<std::int64_t>(text.size()));
  }
}

TEST(SeqAdjuster, PruningAnInsertionMovesTheFloorPastIt) {
  SeqAdjuster adjuster;
  adjuster.addEdit(10, "", "INS");
  adjuster.prune(10);  // the byte at 10 (and the insertion before it) is not acknowledged
  EXPECT_EQ(adjuster.editCount(), 1u);
  adjuster.prune(11);
  EXPECT_EQ(adjuster.editCount(), 0u);
  EXPECT_EQ(adjuster.pruneFloor(), 11);
  EXPECT_EQ(adjuster.toOutput(11), 14);
}

TEST(SeqAdjuster, EditsAddedBetweenPrunesMapLikeTheFullLog) {
  std::mt19937 random(31);
  const std::string text = randomText(random, 4000);
  const auto edits = randomEdits(random, text.size(), 150);
  const Reference reference(text, edits);
  SeqAdjuster adjuster;
  for (const EditSpec& e : edits) {
    // The receiver acknowledges up to some point behind the newest edit.
    const std::int64_t acked =
        std::max<std::int64_t>(0, e.offset - static_cast<std::int64_t>(random() % 100));
    adjuster.prune(std::max(acked, adjuster.pruneFloor()));
    ASSERT_TRUE(adjuster.addEdit(
        e.offset, std::string_view(text).substr(static_cast<std::size_t>(e.offset), e.oldLength),
        e.replacement));
  }
  for (std::int64_t x = adjuster.pruneFloor(); x <= static_cast<std::int64_t>(text.size()); ++x) {
    ASSERT_EQ(adjuster.toOutput(x), reference.outputOf[static_cast<std::size_t>(x)]) << "x=" << x;
  }
  EXPECT_LT(adjuster.editCount(), edits.size());
}

TEST(SeqAdjuster, AnEditBeforeTheLastOneIsRefusedAndTheLogIsUnchanged) {
  SeqAdjuster adjuster;
  ASSERT_TRUE(adjuster.addEdit(20, "abcd", "xy"));
#ifdef NDEBUG
  EXPECT_FALSE(adjuster.addEdit(22, "cd", "zz"));  // release build: refused
#else
  // Debug build: the precondition's assert stops the process (the death test's child).
  EXPECT_DEATH(adjuster.addEdit(22, "cd", "zz"), "inOrder && afterFloor");
#endif
  EXPECT_EQ(adjuster.editCount(), 1u);
  EXPECT_EQ(adjuster.toOutput(30), 28);
}

TEST(SeqAdjuster, MappingsSurviveSequenceNumberWrapThroughTheUnwrapper) {
  // The stream starts 3000 bytes before 2^32: edits before, across and after the wrap. Every
  // byte's 32-bit seq, and every ACK of the output, is checked against the reference.
  std::mt19937 random(37);
  const SeqNum base(0xFFFFFFFFu - 2999u);
  const std::string text = randomText(random, 6000);
  const auto edits = randomEdits(random, text.size(), 150);
  const Reference reference(text, edits);
  const SeqAdjuster adjuster = adjusterFor(text, edits);
  SeqUnwrapper unwrapper(base);
  bool wrapped = false;
  for (std::size_t x = 0; x <= text.size(); ++x) {
    const SeqNum seq = base + static_cast<std::uint32_t>(x);
    wrapped = wrapped || seq.raw() < base.raw();
    const std::int64_t offset = unwrapper.unwrap(seq);
    ASSERT_EQ(offset, static_cast<std::int64_t>(x));
    const SeqNum outputSeq = unwrapper.wrap(adjuster.toOutput(offset));
    ASSERT_EQ(outputSeq, base + static_cast<std::uint32_t>(reference.outputOf[x])) << "x=" << x;
    // The receiver acknowledges output up to this byte (and a little less): un-shift the ACK.
    for (std::int64_t back = 0; back < 3; ++back) {
      const std::int64_t y = std::max<std::int64_t>(0, reference.outputOf[x] - back);
      const SeqNum ack = base + static_cast<std::uint32_t>(y);
      const SeqNum originalAck = unwrapper.wrap(adjuster.toOriginal(unwrapper.peek(ack)));
      ASSERT_EQ(originalAck,
                base + static_cast<std::uint32_t>(reference.originalOf[static_cast<std::size_t>(y)]))
          << "y=" << y;
    }
  }
  EXPECT_TRUE(wrapped);
}

TEST(SeqAdjuster, MappingsSurviveSeveralWrapsWithEditsBetweenThem) {
  const SeqNum base(0x80000000u);
  constexpr std::int64_t kWrap = std::int64_t{1} << 32;
  SeqAdjuster adjuster;
  adjuster.addEdit(100, "192,168,77,10", "203,0,113,1");       // -2
  adjuster.addEdit(kWrap + 50, "10,0,0,1", "198,51,100,200");  // +6
  adjuster.addEdit(3 * kWrap + 7, "1,2,3,4", "1,2,3,4,5");     // +2
  SeqUnwrapper unwrapper(base);
  // The session advances in steps well under 2^31, so the unwrapper follows every wrap.
  for (std::int64_t offset = 0; offset < 4 * kWrap; offset += std::int64_t{1} << 29) {
    ASSERT_EQ(unwrapper.unwrap(unwrapper.wrap(offset)), offset);
    std::int64_t expectedDelta = 0;
    if (offset >= 113) expectedDelta -= 2;
    if (offset >= kWrap + 58) expectedDelta += 6;
    if (offset >= 3 * kWrap + 14) expectedDelta += 2;
    const SeqNum seq = unwrapper.wrap(offset);
    const std::int64_t unwrapped = unwrapper.peek(seq);
    ASSERT_EQ(unwrapper.wrap(adjuster.toOutput(unwrapped)), seq + static_cast<std::uint32_t>(expectedDelta))
        << "offset " << offset;
    const SeqNum ack = seq + static_cast<std::uint32_t>(expectedDelta);
    ASSERT_EQ(unwrapper.wrap(adjuster.toOriginal(unwrapper.peek(ack))), seq) << "offset " << offset;
  }
  // Right around the edit after the third wrap.
  const std::int64_t edit = 3 * kWrap + 7;
  EXPECT_EQ(adjuster.toOutput(edit), edit + 4);
  EXPECT_EQ(adjuster.toOutput(edit + 3), edit + 4 + 9);
  EXPECT_EQ(adjuster.toOriginal(edit + 4 + 5), edit);
  EXPECT_EQ(adjuster.toOriginal(edit + 4 + 9), edit + 7);
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
