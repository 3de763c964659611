// SegmentTracker: in-order delivery exactly once, retransmissions, overlaps, out-of-order data.
#include "ftpalg/tcp/segment_tracker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace ftpalg {
namespace {

std::span<const std::uint8_t> bytesOf(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

struct Collector {
  std::string stream;
  std::int64_t expectedOffset = 0;
  bool contiguous = true;
  void operator()(std::int64_t offset, std::string_view bytes) {
    if (offset != expectedOffset) contiguous = false;
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
  EXPECT_EQ(sink.stream, "NOOP\r\nLIST\r\n");
}

TEST(SegmentTracker, OutOfOrderSegmentIsHeldThenDeliveredOnceInOrder) {
  SegmentTracker tracker;
  Collector sink;
  const auto later = feed(tracker, sink, 6, "LIST\r\n");
  EXPECT_EQ(later.deliveredBytes, 0u);
  EXPECT_EQ(tracker.heldBytes(), 6u);
  EXPECT_EQ(tracker.highestOffset(), 12);
  const auto earlier = feed(tracker, sink, 0, "NOOP\r\n");
  EXPECT_EQ(earlier.deliveredBytes, 12u);
  EXPECT_EQ(sink.stream, "NOOP\r\nLIST\r\n");
  EXPECT_EQ(tracker.heldBytes(), 0u);
  EXPECT_TRUE(sink.contiguous);
}

TEST(SegmentTracker, ConflictingRetransmissionOfHeldDataKeepsFirstSeenBytes) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 6, "PORT 1,2,3,4,5,6\r\n");
  const auto conflicting = feed(tracker, sink, 6, "PORT 9,9,9,9,5,6\r\n");
  EXPECT_TRUE(conflicting.conflict);
  feed(tracker, sink, 0, "NOOP\r\n");
  EXPECT_EQ(sink.stream, "NOOP\r\nPORT 1,2,3,4,5,6\r\n");
}

TEST(SegmentTracker, InOrderSegmentOverlappingHeldDataKeepsFirstSeenBytes) {
  SegmentTracker tracker;
  Collector sink;
  feed(tracker, sink, 4, "AAAA");
  const auto overlapping = feed(tracker, sink, 0, "xxxxBBBBcc");
  EXPECT_TRUE(overlapping.conflict);
  EXPECT_EQ(sink.stream, "xxxxAAAAcc");
}

TEST(SegmentTracker, OutOfOrderBytesBeyondTheLimitAreNotStored) {
  SegmentTracker tracker(10);
  Collector sink;
  const auto fits = feed(tracker, sink, 100, "0123456789");
  EXPECT_FALSE(fits.overLimit);
  const auto beyond = feed(tracker, sink, 200, "x");
  EXPECT_TRUE(beyond.overLimit);
  EXPECT_EQ(tracker.heldBytes(), 10u);
}

TEST(SegmentTracker, SegmentFarAheadIsRefused) {
  SegmentTracker tracker(1 << 30);
  Collector sink;
  const auto far = feed(tracker, sink, SegmentTracker::kMaxAheadBytes + 1, "x");
  EXPECT_TRUE(far.overLimit);
  EXPECT_EQ(tracker.heldBytes(), 0u);
}

TEST(SegmentTracker, OneByteSegmentsRebuildTheStream) {
  SegmentTracker tracker;
  Collector sink;
  const std::string text = "PORT 192,168,77,10,195,80\r\n";
  for (std::size_t i = 0; i < text.size(); ++i) feed(tracker, sink, static_cast<std::int64_t>(i), text.substr(i, 1));
  EXPECT_EQ(sink.stream, text);
}

TEST(SegmentTracker, OffsetsBeyondFourGigabytesWork) {
  SegmentTracker tracker;
  tracker.reset(5'000'000'000LL);
  Collector sink;
  sink.expectedOffset = 5'000'000'000LL;
  feed(tracker, sink, 5'000'000'004LL, "DEF");
  feed(tracker, sink, 5'000'000'000LL, "ABCD");
  EXPECT_EQ(sink.stream, "ABCDDEF");
  EXPECT_TRUE(sink.contiguous);
  EXPECT_EQ(tracker.nextOffset(), 5'000'000'007LL);
}

TEST(SegmentTracker, AnyPermutationWithDuplicatesDeliversTheStreamExactlyOnce) {
  std::mt19937 random(23);
  for (int round = 0; round < 500; ++round) {
    std::string text(50 + random() % 300, ' ');
    for (char& c : text) c = static_cast<char>('a' + random() % 26);
    struct Piece {
      std::int64_t offset;
      std::string bytes;
    };
    std::vector<Piece> pieces;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t length = std::min<std::size_t>(1 + random() % 40, text.size() - pos);
      pieces.push_back({static_cast<std::int64_t>(pos), text.substr(pos, length)});
      // Sometimes an overlapping re-send of a wider range.
      if (random() % 4 == 0 && pos > 0) {
        const std::size_t back = std::min<std::size_t>(pos, 1 + random() % 10);
        pieces.push_back({static_cast<std::int64_t>(pos - back), text.substr(pos - back, length + back)});
      }
      pos += length;
    }
    const std::size_t originals = pieces.size();
    for (std::size_t i = 0; i < originals; ++i) {
      if (random() % 3 == 0) pieces.push_back(pieces[i]);
    }
    std::shuffle(pieces.begin(), pieces.end(), random);
    SegmentTracker tracker(1 << 20);
    Collector sink;
    for (const Piece& piece : pieces) {
      const auto result = feed(tracker, sink, piece.offset, piece.bytes);
      ASSERT_FALSE(result.conflict);
      ASSERT_FALSE(result.overLimit);
    }
    ASSERT_EQ(sink.stream, text) << "round " << round;
    ASSERT_TRUE(sink.contiguous);
    ASSERT_EQ(tracker.heldBytes(), 0u);
  }
}

}  // namespace
}  // namespace ftpalg
