// SeqNum (RFC 1982 serial-number arithmetic, SERIAL_BITS = 32) and SeqUnwrapper (32-bit
// sequence numbers -> 64-bit stream offsets across any number of wraps).
#include "ftpalg/core/seq_num.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace ftpalg {
namespace {

struct OrderCase {
  std::uint32_t a;
  std::uint32_t b;
  bool aBeforeB;
};

class SeqNumOrder : public ::testing::TestWithParam<OrderCase> {};

TEST_P(SeqNumOrder, BeforeFollowsSerialArithmetic) {
  const SeqNum a(GetParam().a), b(GetParam().b);
  EXPECT_EQ(a.before(b), GetParam().aBeforeB);
  EXPECT_EQ(b.after(a), GetParam().aBeforeB);
  EXPECT_EQ(a.afterOrEqual(b), !GetParam().aBeforeB);
  EXPECT_EQ(b.beforeOrEqual(a), !GetParam().aBeforeB);
}

INSTANTIATE_TEST_SUITE_P(Table, SeqNumOrder,
                         ::testing::Values(OrderCase{1, 2, true}, OrderCase{2, 1, false},
                                           OrderCase{0xFFFFFFFFu, 0, true},      // wrap
                                           OrderCase{0xFFFFFF00u, 0x100, true},  // wrap with distance
                                           OrderCase{0x100, 0xFFFFFF00u, false},
                                           OrderCase{0, 0x7FFFFFFFu, true},  // just under 2^31 ahead
                                           OrderCase{0x7FFFFFFFu, 0, false},
                                           OrderCase{0x80000000u, 0xFFFFFFFFu, true},
                                           OrderCase{0xFFFFFFFFu, 0x7FFFFFFEu, true}));

TEST(SeqNum, EqualNumbersAreNeitherBeforeNorAfter) {
  const SeqNum a(0xDEADBEEF);
  EXPECT_FALSE(a.before(a));
  EXPECT_FALSE(a.after(a));
  EXPECT_TRUE(a.beforeOrEqual(a));
  EXPECT_TRUE(a.afterOrEqual(a));
  EXPECT_EQ(a, SeqNum(0xDEADBEEF));
}

TEST(SeqNum, AdditionAndSubtractionWrapModulo2To32) {
  EXPECT_EQ((SeqNum(0xFFFFFFFEu) + 5).raw(), 3u);
  EXPECT_EQ((SeqNum(3) - 5).raw(), 0xFFFFFFFEu);
}

TEST(SeqNum, DifferenceIsSignedDistanceAcrossWrap) {
  EXPECT_EQ(SeqNum(3) - SeqNum(0xFFFFFFFEu), 5);
  EXPECT_EQ(SeqNum(0xFFFFFFFEu) - SeqNum(3), -5);
  EXPECT_EQ(SeqNum(1000) - SeqNum(1000), 0);
}

TEST(SeqNum, HalfSpaceApartIsUndefinedButConsistent) {
  // RFC 1982 §3.2 leaves a distance of exactly 2^31 undefined; we must not claim both orders.
  const SeqNum a(0), b(0x80000000u);
  EXPECT_FALSE(a.before(b) && b.before(a));
  EXPECT_FALSE(a.after(b) && b.after(a));
  EXPECT_FALSE(a.beforeOrEqual(b) && b.beforeOrEqual(a));
  EXPECT_FALSE(a.afterOrEqual(b) && b.afterOrEqual(a));
}

TEST(SeqNum, ExactlyOneOfBeforeEqualAfterHoldsBelowHalfSpace) {
  const std::uint32_t distances[] = {1, 2, 0x1000, 0x7FFFFFFF, 0x80000001u, 0xFFFFFFFFu};
  for (const std::uint32_t start : {0u, 0x7FFFFFFFu, 0xFFFFFFF0u}) {
    for (const std::uint32_t distance : distances) {
      const SeqNum a(start), b(start + distance);
      EXPECT_EQ(int{a.before(b)} + int{a.after(b)} + int{a == b}, 1) << start << "+" << distance;
      EXPECT_EQ(a.before(b), b.after(a));
    }
  }
}

TEST(SeqUnwrapper, BaseMapsToZeroAndForwardBytesToOffsets) {
  SeqUnwrapper unwrapper(SeqNum(1000));
  EXPECT_EQ(unwrapper.unwrap(SeqNum(1000)), 0);
  EXPECT_EQ(unwrapper.unwrap(SeqNum(1100)), 100);
  EXPECT_EQ(unwrapper.base(), SeqNum(1000));
}

TEST(SeqUnwrapper, SequenceBeforeBaseIsNegative) {
  SeqUnwrapper unwrapper(SeqNum(0));
  EXPECT_EQ(unwrapper.unwrap(SeqNum(0xFFFFFFFFu)), -1);  // e.g. a retransmitted SYN
}

TEST(SeqUnwrapper, FollowsAStreamAcrossSeveralWraps) {
  const std::uint32_t base = 0xF0000000u;
  SeqUnwrapper unwrapper{SeqNum(base)};
  const std::int64_t step = 0x40000000;  // 1 GiB per observation, < 2^31
  for (std::int64_t offset = 0; offset <= 5 * (std::int64_t{1} << 32); offset += step) {
    const SeqNum seq(base + static_cast<std::uint32_t>(offset));
    ASSERT_EQ(unwrapper.unwrap(seq), offset) << "offset " << offset;
    EXPECT_EQ(unwrapper.wrap(offset), seq);
  }
}

TEST(SeqUnwrapper, BackwardStepsAfterAWrapStayInTheCurrentEpoch) {
  SeqUnwrapper unwrapper{SeqNum(0xFFFFFF00u)};
  const std::int64_t far = (std::int64_t{3} << 32) + 0x200;  // three wraps later
  for (std::int64_t offset = 0; offset <= far; offset += 0x70000000) {
    unwrapper.unwrap(unwrapper.wrap(offset));
  }
  ASSERT_EQ(unwrapper.unwrap(unwrapper.wrap(far)), far);
  // Retransmissions of older data (backwards, across the wrap point) come out below `far`.
  for (std::int64_t back : {1, 0x100, 0x201, 0x10000, 0x7FFFFFFF}) {
    EXPECT_EQ(unwrapper.unwrap(unwrapper.wrap(far - back)), far - back) << back;
  }
  // ... and do not move the reference point backwards.
  EXPECT_EQ(unwrapper.peek(unwrapper.wrap(far + 1)), far + 1);
}

TEST(SeqUnwrapper, PeekDoesNotMoveTheReferencePoint) {
  SeqUnwrapper unwrapper(SeqNum(0));
  EXPECT_EQ(unwrapper.peek(SeqNum(0x70000000u)), 0x70000000);
  // Had peek advanced the reference, 0xE0000000 would unwrap forward (positive).
  EXPECT_EQ(unwrapper.peek(SeqNum(0xE0000000u)), -0x20000000);
  EXPECT_EQ(unwrapper.unwrap(SeqNum(0xE0000000u)), -0x20000000);
}

TEST(SeqUnwrapper, UnwrapAdvancesReferenceSoLaterNumbersUnwrapForward) {
  SeqUnwrapper unwrapper(SeqNum(0));
  unwrapper.unwrap(SeqNum(0x70000000u));
  EXPECT_EQ(unwrapper.unwrap(SeqNum(0xE0000000u)), 0xE0000000);
}

TEST(SeqUnwrapper, WrapIsInverseOfUnwrapForNegativeOffsets) {
  const SeqUnwrapper unwrapper(SeqNum(10));
  EXPECT_EQ(unwrapper.wrap(-11), SeqNum(0xFFFFFFFFu));
  EXPECT_EQ(unwrapper.peek(SeqNum(0xFFFFFFFFu)), -11);
}

}  // namespace
}  // namespace ftpalg
