// FlowTable (include/ftpalg/engine/flow_table.hpp): behaves as a map under any sequence of
// inserts and erases, including probe runs that wrap around the end of the slot array and
// backward-shift deletion inside them.
#include "ftpalg/engine/flow_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "packet_builder.hpp"

namespace ftpalg {
namespace {

using testing::ep;

FlowKey keyFor(std::uint32_t i) {
  const auto a = static_cast<std::uint8_t>(i >> 16), b = static_cast<std::uint8_t>(i >> 8);
  return FlowKey{
      Endpoint{IpAddress::fromV4Octets({10, a, b, 1}), static_cast<std::uint16_t>(1024 + (i & 0xff))},
      ep("203.0.113.10:21")};
}

TEST(FlowTable, InsertFindEraseAsAMap) {
  FlowTable<int> table;
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.find(keyFor(1)), nullptr);
  auto [value, inserted] = table.emplace(keyFor(1), 10);
  ASSERT_TRUE(inserted);
  EXPECT_EQ(*value, 10);
  auto [again, insertedAgain] = table.emplace(keyFor(1), 20);
  EXPECT_FALSE(insertedAgain);
  EXPECT_EQ(*again, 10) << "an existing value is kept";
  ASSERT_NE(table.find(keyFor(1)), nullptr);
  *table.find(keyFor(1)) = 11;
  EXPECT_EQ(*table.find(keyFor(1)), 11);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_FALSE(table.erase(keyFor(2)));
  EXPECT_TRUE(table.erase(keyFor(1)));
  EXPECT_EQ(table.find(keyFor(1)), nullptr);
  EXPECT_TRUE(table.empty());
}

TEST(FlowTable, GrowsKeepingEveryMemberAndStaysAtMostHalfFull) {
  FlowTable<std::unique_ptr<std::uint32_t>> table;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    ASSERT_TRUE(table.emplace(keyFor(i), std::make_unique<std::uint32_t>(i)).second);
    ASSERT_LE(table.size() * 2, table.slotCount());
  }
  for (std::uint32_t i = 0; i < 5000; ++i) {
    auto* found = table.find(keyFor(i));
    ASSERT_NE(found, nullptr) << i;
    EXPECT_EQ(**found, i);
  }
  EXPECT_EQ(table.find(keyFor(5000)), nullptr);
}

// Random operations against std::map, on a small table so that runs collide, wrap around the
// end of the slot array, and are cut by erases in every position.
TEST(FlowTable, RandomOperationsAgreeWithStdMap) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 random(seed);
    FlowTable<std::uint32_t> table(8);
    std::map<std::uint32_t, std::uint32_t> reference;
    const std::uint32_t universe = 8 + seed * 3;  // few distinct keys: many hits and misses
    for (int op = 0; op < 4000; ++op) {
      const std::uint32_t k = random() % universe;
      const std::uint32_t v = random();
      switch (random() % 3) {
        case 0: {
          const bool inserted = table.emplace(keyFor(k), v).second;
          ASSERT_EQ(inserted, reference.emplace(k, v).second) << "seed " << seed << " op " << op;
          break;
        }
        case 1:
          ASSERT_EQ(table.erase(keyFor(k)), reference.erase(k) == 1) << "seed " << seed << " op " << op;
          break;
        default: {
          const std::uint32_t* found = table.find(keyFor(k));
          const auto expected = reference.find(k);
          ASSERT_EQ(found != nullptr, expected != reference.end()) << "seed " << seed << " op " << op;
          if (found) {
            ASSERT_EQ(*found, expected->second);
          }
        }
      }
      ASSERT_EQ(table.size(), reference.size());
    }
    // Every member is in exactly one slot, and every key found there is a member.
    std::multiset<std::uint32_t> seen;
    for (std::size_t slot = 0; slot < table.slotCount(); ++slot) {
      if (const FlowKey* key = table.slotKey(slot)) {
        ASSERT_NE(table.slotValue(slot), nullptr);
        const std::uint32_t* value = table.find(*key);
        ASSERT_NE(value, nullptr);
        EXPECT_EQ(value, table.slotValue(slot)) << "find must land on the slot that holds the key";
        seen.insert(*value);
      } else {
        EXPECT_EQ(table.slotValue(slot), nullptr);
      }
    }
    std::multiset<std::uint32_t> expected;
    for (const auto& [k, v] : reference) expected.insert(v);
    EXPECT_EQ(seen, expected) << "seed " << seed;
  }
}

TEST(FlowTable, ErasedValueIsDestroyedAtOnce) {
  FlowTable<std::shared_ptr<int>> table;
  auto value = std::make_shared<int>(7);
  table.emplace(keyFor(3), value);
  EXPECT_EQ(value.use_count(), 2);
  table.erase(keyFor(3));
  EXPECT_EQ(value.use_count(), 1) << "the table must not keep an erased value alive";
}

}  // namespace
}  // namespace ftpalg
