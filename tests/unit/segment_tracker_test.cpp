// SegmentTracker: in-order delivery exactly once, retransmissions, overlaps, out-of-order data,
// limits. Offsets are stream offsets in the sender's original space.
#include "ftpalg/tcp/segment_tracker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace ftpalg {
namespace {

std::span<const std::uint8_t> bytesOf(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Records what the tracker delivers and whether the deliveries were gapless.
struct Collector {
  std::string stream;
  std::int64_t expectedOffset = 0;
  bool contiguous = true;
  void operator()(std::int64_t offset, std::string_view bytes) {
    if (offset != expectedOffset || bytes.empty()) contiguous = false;
    stream.append(bytes);
    expectedOffset = offset + static_cast<std::int64_t>(bytes.size());
  }
};

TrackResult feed(SegmentTracker& tracker, Collector& sink, std::int64_t offset, const std::string& text) {
  return tracker.accept(offset, bytesOf(text), [&](std::int64_t o, std::string_view b) { sink(o, b); });
}

TEST(SegmentTracker, InOrderSegmentsAreDeliveredAtOnce) {
  SegmentTracker tracker;
  Collector sink;
  const auto first = feed(tracker, sink, 0, "USER a\r\n");
  const auto second = feed(tracker, sink, 8, "PASS b\r\n");
  EXPECT_EQ(first.deliveredBytes, 8u);
  EXPECT_EQ(second.deliveredBytes, 8u);
  EXPECT_FALSE(second.duplicate);
  EXPECT_EQ(sink.stream, "USER a\r\nPASS b\r\n");
  EXPECT_EQ(tracker.nextOffset(), 16);
  EXPECT_TRUE(sink.contiguous);
}

TEST(SegmentTracker, ExactRetransmissionIsADuplicateAndDeliversNothing) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 0, "NOOP\r\n");
  const auto again = feed(tracker, sink, 0, "NOOP\r\n");
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.deliveredBytes, 0u);
  EXPECT_EQ(sink.stream, "NOOP\r\n");
}

TEST(SegmentTracker, PartialOverlapDeliversOnlyTheNewBytes) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 0, "NOOP\r\nLI");
  const auto overlap = feed(tracker, sink, 6, "LIST\r\n");
  EXPECT_EQ(overlap.deliveredBytes, 4u);
  EXPECT_FALSE(overlap.duplicate);
  EXPECT_EQ(sink.stream, "NOOP\r\nLIST\r\n");
  EXPECT_TRUE(sink.contiguous);
}

TEST(SegmentTracker, OutOfOrderSegmentIsHeldThenDeliveredOnceInOrder) {
  SegmentTracker tracker;
  Collector sink;
  const auto later = feed(tracker, sink, 6, "LIST\r\n");
  EXPECT_EQ(later.deliveredBytes, 0u);
  EXPECT_FALSE(later.duplicate);
  EXPECT_EQ(tracker.heldBytes(), 6u);
  EXPECT_EQ(tracker.highestOffset(), 12);
  EXPECT_EQ(sink.stream, "");
  const auto earlier = feed(tracker, sink, 0, "NOOP\r\n");
  EXPECT_EQ(earlier.deliveredBytes, 12u);
  EXPECT_EQ(sink.stream, "NOOP\r\nLIST\r\n");
  EXPECT_EQ(tracker.heldBytes(), 0u);
  EXPECT_FALSE(tracker.hasHeld());
  EXPECT_TRUE(sink.contiguous);
}

TEST(SegmentTracker, IdenticalRetransmissionOfHeldDataIsADuplicate) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 6, "LIST\r\n");
  const auto again = feed(tracker, sink, 6, "LIST\r\n");
  EXPECT_TRUE(again.duplicate);
  EXPECT_FALSE(again.conflict);
  EXPECT_EQ(tracker.heldBytes(), 6u);
}

TEST(SegmentTracker, ConflictingRetransmissionOfHeldDataKeepsFirstSeenBytes) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 6, "PORT 1,2,3,4,5,6\r\n");
  const auto conflicting = feed(tracker, sink, 6, "PORT 9,9,9,9,5,6\r\n");
  EXPECT_TRUE(conflicting.conflict);
  EXPECT_TRUE(conflicting.duplicate);
  EXPECT_EQ(tracker.heldBytes(), 18u);
  feed(tracker, sink, 0, "NOOP\r\n");
  EXPECT_EQ(sink.stream, "NOOP\r\nPORT 1,2,3,4,5,6\r\n");
}

TEST(SegmentTracker, OverlayHeldWritesTheFirstSeenBytesOverWhatTheyOverlap) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 4, "AAAA");
  feed(tracker, sink, 12, "CC");
  std::string copy = "xxxxBBBBxxxxDDxx";  // offsets 0..15
  std::span<std::uint8_t> bytes(reinterpret_cast<std::uint8_t*>(copy.data()), copy.size());
  EXPECT_TRUE(tracker.overlayHeld(0, bytes));
  EXPECT_EQ(copy, "xxxxAAAAxxxxCCxx");
  EXPECT_FALSE(tracker.overlayHeld(0, bytes)) << "nothing left to change";
  std::string inside = "ZZ";  // offsets 5..6, inside the first run
  EXPECT_TRUE(tracker.overlayHeld(5, {reinterpret_cast<std::uint8_t*>(inside.data()), inside.size()}));
  EXPECT_EQ(inside, "AA");
  std::string outside = "QQQ";  // offsets 8..10: held nowhere
  EXPECT_FALSE(tracker.overlayHeld(8, {reinterpret_cast<std::uint8_t*>(outside.data()), outside.size()}));
  EXPECT_EQ(outside, "QQQ");
}

TEST(SegmentTracker, InOrderSegmentOverlappingHeldDataKeepsFirstSeenBytes) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 4, "AAAA");
  const auto overlapping = feed(tracker, sink, 0, "xxxxBBBBcc");
  EXPECT_TRUE(overlapping.conflict);
  EXPECT_EQ(overlapping.deliveredBytes, 10u);
  EXPECT_EQ(sink.stream, "xxxxAAAAcc");
  EXPECT_TRUE(sink.contiguous);
  EXPECT_FALSE(tracker.hasHeld());
}

TEST(SegmentTracker, InOrderSegmentMatchingHeldDataIsNoConflict) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 4, "EFGH");
  const auto covering = feed(tracker, sink, 0, "ABCDEFGHIJ");
  EXPECT_FALSE(covering.conflict);
  EXPECT_EQ(sink.stream, "ABCDEFGHIJ");
}

TEST(SegmentTracker, SegmentSpanningSeveralHeldRunsStoresOnlyTheGaps) {
  SegmentTracker tracker;
  Collector sink;
  const std::string text = "abcdefghijklmnop";
  feed(tracker, sink, 4, text.substr(4, 2));
  feed(tracker, sink, 10, text.substr(10, 2));
  EXPECT_EQ(tracker.heldRuns(), 2u);
  const auto spanning = feed(tracker, sink, 2, text.substr(2, 12));
  EXPECT_FALSE(spanning.conflict);
  EXPECT_FALSE(spanning.duplicate);
  EXPECT_EQ(tracker.heldBytes(), 12u);  // [2, 14) once, not 2 + 2 + 12
  EXPECT_EQ(tracker.heldRuns(), 1u);
  feed(tracker, sink, 0, text.substr(0, 2));
  feed(tracker, sink, 14, text.substr(14));
  EXPECT_EQ(sink.stream, text);
  EXPECT_TRUE(sink.contiguous);
}

TEST(SegmentTracker, ConflictInASecondHeldRunIsDetected) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 4, "ef");
  feed(tracker, sink, 10, "kl");
  const auto spanning = feed(tracker, sink, 2, "cdefghijKLmn");  // differs in the second run only
  EXPECT_TRUE(spanning.conflict);
  feed(tracker, sink, 0, "ab");
  EXPECT_EQ(sink.stream, "abcdefghijklmn");
}

TEST(SegmentTracker, AdjacentOutOfOrderSegmentsMergeIntoOneRun) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 10, "cd");
  feed(tracker, sink, 14, "gh");
  EXPECT_EQ(tracker.heldRuns(), 2u);
  feed(tracker, sink, 12, "ef");
  EXPECT_EQ(tracker.heldRuns(), 1u);
  EXPECT_EQ(tracker.heldBytes(), 6u);
  EXPECT_EQ(tracker.highestOffset(), 16);
}

TEST(SegmentTracker, OutOfOrderBytesBeyondTheLimitAreNotStored) {
  SegmentTracker tracker(10);
  Collector sink;
  const auto fits = feed(tracker, sink, 100, "0123456789");
  EXPECT_FALSE(fits.overLimit);
  const auto beyond = feed(tracker, sink, 200, "x");
  EXPECT_TRUE(beyond.overLimit);
  EXPECT_FALSE(beyond.duplicate);
  EXPECT_EQ(tracker.heldBytes(), 10u);
  EXPECT_EQ(tracker.highestOffset(), 110);
}

TEST(SegmentTracker, ThePartOfASegmentThatFitsTheLimitIsStoredAndNothingBeyond) {
  SegmentTracker tracker(10);
  Collector sink;
  const auto result = feed(tracker, sink, 5, "ABCDEFGHIJKLMNO");
  EXPECT_TRUE(result.overLimit);
  EXPECT_EQ(tracker.heldBytes(), 10u);
  EXPECT_EQ(tracker.highestOffset(), 15);
  feed(tracker, sink, 0, "01234");
  EXPECT_EQ(sink.stream, "01234ABCDEFGHIJ");
  EXPECT_EQ(tracker.nextOffset(), 15);
}

TEST(SegmentTracker, ConflictIsDetectedEvenWhenTheLimitRefusesTheRest) {
  SegmentTracker tracker(4);
  Collector sink;
  feed(tracker, sink, 20, "WXYZ");  // the limit is now full
  const auto result = feed(tracker, sink, 10, "0123456789wxyz");
  EXPECT_TRUE(result.overLimit);
  EXPECT_TRUE(result.conflict);
  EXPECT_EQ(tracker.heldBytes(), 4u);
}

TEST(SegmentTracker, InOrderDataDoesNotCountAgainstTheLimit) {
  SegmentTracker tracker(4);
  Collector sink;
  feed(tracker, sink, 96, "wxyz");
  const std::string body(96, 'a');
  const auto result = feed(tracker, sink, 0, body + "wxyz!");
  EXPECT_FALSE(result.overLimit);
  EXPECT_EQ(result.deliveredBytes, 101u);
  EXPECT_EQ(sink.stream, body + "wxyz!");
}

TEST(SegmentTracker, SegmentFarAheadIsRefused) {
  SegmentTracker tracker(1 << 30);
  Collector sink;
  const auto far = feed(tracker, sink, SegmentTracker::kMaxAheadBytes + 1, "x");
  EXPECT_TRUE(far.overLimit);
  EXPECT_EQ(tracker.heldBytes(), 0u);
  EXPECT_FALSE(tracker.hasHeld());
}

TEST(SegmentTracker, SegmentAtTheAheadLimitIsHeld) {
  SegmentTracker tracker(1 << 30);
  Collector sink;
  const auto edge = feed(tracker, sink, SegmentTracker::kMaxAheadBytes, "x");
  EXPECT_FALSE(edge.overLimit);
  EXPECT_EQ(tracker.heldBytes(), 1u);
}

TEST(SegmentTracker, HeldRunsAreCappedAgainstOneByteSegmentsWithGaps) {
  SegmentTracker tracker(1 << 20);
  Collector sink;
  bool refused = false;
  for (std::int64_t i = 0; i < 4 * static_cast<std::int64_t>(SegmentTracker::kMaxHeldRuns); ++i) {
    refused = feed(tracker, sink, 2 + 2 * i, "x").overLimit || refused;
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(tracker.heldRuns(), SegmentTracker::kMaxHeldRuns);
  EXPECT_EQ(tracker.heldBytes(), SegmentTracker::kMaxHeldRuns);
}

TEST(SegmentTracker, ABytePinningTwoRunsTogetherIsAcceptedAtTheRunCap) {
  SegmentTracker tracker(1 << 20);
  Collector sink;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(SegmentTracker::kMaxHeldRuns); ++i) {
    feed(tracker, sink, 2 + 2 * i, "x");
  }
  ASSERT_EQ(tracker.heldRuns(), SegmentTracker::kMaxHeldRuns);
  const auto joining = feed(tracker, sink, 3, "y");  // between the runs at 2 and 4
  EXPECT_FALSE(joining.overLimit);
  EXPECT_EQ(tracker.heldRuns(), SegmentTracker::kMaxHeldRuns - 1);
}

TEST(SegmentTracker, OneByteSegmentsRebuildTheStream) {
  SegmentTracker tracker;
  Collector sink;
  const std::string text = "PORT 192,168,77,10,195,80\r\n";
  for (std::size_t i = 0; i < text.size(); ++i)
    feed(tracker, sink, static_cast<std::int64_t>(i), text.substr(i, 1));
  EXPECT_EQ(sink.stream, text);
  EXPECT_TRUE(sink.contiguous);
}

TEST(SegmentTracker, OneByteSegmentsInReverseOrderAreDeliveredOnceInOrder) {
  SegmentTracker tracker;
  Collector sink;
  const std::string text = "PORT 192,168,77,10,195,80\r\n";
  for (std::size_t i = text.size(); i-- > 1;) {
    const auto result = feed(tracker, sink, static_cast<std::int64_t>(i), text.substr(i, 1));
    ASSERT_EQ(result.deliveredBytes, 0u);
  }
  EXPECT_EQ(tracker.heldRuns(), 1u);
  const auto last = feed(tracker, sink, 0, text.substr(0, 1));
  EXPECT_EQ(last.deliveredBytes, text.size());
  EXPECT_EQ(sink.stream, text);
  EXPECT_TRUE(sink.contiguous);
}

TEST(SegmentTracker, OffsetsBeyondFourGigabytesWork) {
  SegmentTracker tracker;
  tracker.reset(5'000'000'000LL);
  Collector sink;
  sink.expectedOffset = 5'000'000'000LL;
  feed(tracker, sink, 5'000'000'004LL, "DEF");
  EXPECT_EQ(tracker.highestOffset(), 5'000'000'007LL);
  feed(tracker, sink, 5'000'000'000LL, "ABCD");
  EXPECT_EQ(sink.stream, "ABCDDEF");
  EXPECT_TRUE(sink.contiguous);
  EXPECT_EQ(tracker.nextOffset(), 5'000'000'007LL);
}

TEST(SegmentTracker, ResetForgetsHeldSegments) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 10, "held");
  tracker.reset(100);
  EXPECT_EQ(tracker.nextOffset(), 100);
  EXPECT_EQ(tracker.heldBytes(), 0u);
  EXPECT_FALSE(tracker.hasHeld());
  EXPECT_EQ(tracker.highestOffset(), 100);
}

TEST(SegmentTracker, EmptySegmentChangesNothing) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 3, "abc");
  const auto empty = feed(tracker, sink, 0, "");
  EXPECT_EQ(empty.deliveredBytes, 0u);
  EXPECT_EQ(tracker.nextOffset(), 0);
  EXPECT_EQ(tracker.heldBytes(), 3u);
  EXPECT_EQ(sink.stream, "");
}

struct Piece {
  std::int64_t offset;
  std::string bytes;
};

// A random segmentation of text, with some wider overlapping re-sends, each piece sometimes
// duplicated, shuffled.
std::vector<Piece> shuffledPieces(std::mt19937& random, const std::string& text, std::int64_t base) {
  std::vector<Piece> pieces;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t length = std::min<std::size_t>(1 + random() % 40, text.size() - pos);
    pieces.push_back({base + static_cast<std::int64_t>(pos), text.substr(pos, length)});
    if (random() % 4 == 0 && pos > 0) {
      const std::size_t back = std::min<std::size_t>(pos, 1 + random() % 10);
      pieces.push_back(
          {base + static_cast<std::int64_t>(pos - back), text.substr(pos - back, length + back)});
    }
    pos += length;
  }
  const std::size_t originals = pieces.size();
  for (std::size_t i = 0; i < originals; ++i) {
    if (random() % 3 == 0) pieces.push_back(pieces[i]);
  }
  std::shuffle(pieces.begin(), pieces.end(), random);
  return pieces;
}

TEST(SegmentTracker, AnyPermutationWithDuplicatesDeliversTheStreamExactlyOnce) {
  std::mt19937 random(23);
  for (int round = 0; round < 1000; ++round) {
    const std::int64_t base = round % 2 == 0 ? 0 : 5'000'000'000LL;
    std::string text(50 + random() % 300, ' ');
    for (char& c : text) c = static_cast<char>('a' + random() % 26);
    SegmentTracker tracker(1 << 20);
    tracker.reset(base);
    Collector sink;
    sink.expectedOffset = base;
    std::size_t delivered = 0;
    for (const Piece& piece : shuffledPieces(random, text, base)) {
      const auto result = feed(tracker, sink, piece.offset, piece.bytes);
      ASSERT_FALSE(result.conflict) << "round " << round;
      ASSERT_FALSE(result.overLimit) << "round " << round;
      delivered += result.deliveredBytes;
    }
    ASSERT_EQ(sink.stream, text) << "round " << round;
    ASSERT_TRUE(sink.contiguous) << "round " << round;
    ASSERT_EQ(delivered, text.size()) << "round " << round;
    ASSERT_EQ(tracker.heldBytes(), 0u) << "round " << round;
    ASSERT_EQ(tracker.nextOffset(), base + static_cast<std::int64_t>(text.size()));
  }
}

// Byte-level reference: every byte at or after `next` seen first is kept (held or delivered);
// a later differing byte at a held offset is a conflict.
struct ReferenceTracker {
  std::int64_t next = 0;
  std::map<std::int64_t, char> held;
  std::string delivered;

  TrackResult accept(std::int64_t offset, const std::string& bytes) {
    TrackResult result;
    bool anyNew = false;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      const std::int64_t at = offset + static_cast<std::int64_t>(i);
      if (at < next) continue;
      const auto found = held.find(at);
      if (found == held.end()) {
        held.emplace(at, bytes[i]);
        anyNew = true;
      } else if (found->second != bytes[i]) {
        result.conflict = true;
      }
    }
    for (auto first = held.begin(); first != held.end() && first->first == next; first = held.begin()) {
      delivered += first->second;
      ++result.deliveredBytes;
      ++next;
      held.erase(first);
    }
    result.duplicate = !bytes.empty() && !anyNew;
    return result;
  }
};

TEST(SegmentTracker, ConflictingRandomSegmentsMatchAByteLevelReference) {
  std::mt19937 random(29);
  for (int round = 0; round < 1000; ++round) {
    SegmentTracker tracker(1 << 20);
    ReferenceTracker reference;
    Collector sink;
    const std::int64_t length = 20 + static_cast<std::int64_t>(random() % 100);
    for (int step = 0; step < 60; ++step) {
      const std::int64_t offset = static_cast<std::int64_t>(random() % static_cast<std::uint32_t>(length));
      std::string bytes(1 + random() % 12, ' ');
      for (char& c : bytes) c = static_cast<char>('a' + random() % 2);  // overlaps often differ
      const auto expected = reference.accept(offset, bytes);
      const auto actual = feed(tracker, sink, offset, bytes);
      ASSERT_FALSE(actual.overLimit) << "round " << round;
      ASSERT_EQ(actual.conflict, expected.conflict) << "round " << round << " step " << step;
      ASSERT_EQ(actual.duplicate, expected.duplicate) << "round " << round << " step " << step;
      ASSERT_EQ(actual.deliveredBytes, expected.deliveredBytes) << "round " << round << " step " << step;
      ASSERT_EQ(tracker.heldBytes(), reference.held.size()) << "round " << round << " step " << step;
      ASSERT_EQ(tracker.nextOffset(), reference.next);
    }
    ASSERT_EQ(sink.stream, reference.delivered) << "round " << round;
    ASSERT_TRUE(sink.contiguous);
  }
}

}  // namespace
}  // namespace ftpalg
