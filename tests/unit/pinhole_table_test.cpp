// PinholeTable: ids, the one-pinhole-per-slot index, expiry order and the public-port choice
// (docs/decisions/0004-public-port-choice.md).
#include "ftpalg/engine/pinhole_table.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "packet_builder.hpp"

namespace ftpalg {
namespace {

using std::chrono::seconds;
using testing::ep;
using testing::ip;

const Timestamp kT0{1'000'000'000};

FlowKey control(std::uint16_t clientPort) {
  return FlowKey{Endpoint{ip("192.168.77.10"), clientPort}, ep("203.0.113.10:21")};
}

TEST(PinholeTable, IdsStartAtOneAndAreNeverReused) {
  PinholeTable table;
  const std::uint64_t first =
      table.open(control(40000), ip("203.0.113.10"), ep("203.0.113.1:50000"), std::nullopt, seconds(30), kT0)
          .id;
  const std::uint64_t second =
      table.open(control(40001), ip("203.0.113.10"), ep("203.0.113.1:50001"), std::nullopt, seconds(30), kT0)
          .id;
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(second, 2u);
  ASSERT_TRUE(table.close(second));
  EXPECT_EQ(
      table.open(control(40002), ip("203.0.113.10"), ep("203.0.113.1:50002"), std::nullopt, seconds(30), kT0)
          .id,
      3u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.lowestId(), first);
}

TEST(PinholeTable, OpenRecordsEveryField) {
  PinholeTable table;
  const Pinhole& opened = table.open(control(40000), ip("203.0.113.10"), ep("203.0.113.1:50000"),
                                     ep("192.168.77.10:50000"), seconds(45), kT0);
  const Pinhole* found = table.find(opened.id);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->control, control(40000));
  EXPECT_EQ(found->from, ip("203.0.113.10"));
  EXPECT_EQ(found->to, ep("203.0.113.1:50000"));
  EXPECT_EQ(found->natTo, ep("192.168.77.10:50000"));
  EXPECT_EQ(found->timeout, seconds(45));
  EXPECT_EQ(found->expires, kT0 + seconds(45));
}

TEST(PinholeTable, CloseRemovesFromEveryIndex) {
  PinholeTable table;
  const std::uint64_t id =
      table.open(control(40000), ip("203.0.113.10"), ep("203.0.113.1:50000"), std::nullopt, seconds(30), kT0)
          .id;
  const auto closed = table.close(id);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->to, ep("203.0.113.1:50000"));
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.find(id), nullptr);
  EXPECT_FALSE(table.holder(ip("203.0.113.10"), ep("203.0.113.1:50000")));
  EXPECT_FALSE(table.nextExpiry());
  EXPECT_FALSE(table.firstExpiredBy(kT0 + seconds(3600)));
  EXPECT_FALSE(table.lowestId());
  EXPECT_FALSE(table.close(id)) << "a second close finds nothing";
}

TEST(PinholeTable, ANewPinholeOnTheSameSlotBecomesItsHolder) {
  PinholeTable table;
  const auto from = ip("203.0.113.10");
  const auto to = ep("192.168.78.10:50000");
  const std::uint64_t older = table.open(control(40000), from, to, std::nullopt, seconds(30), kT0).id;
  const std::uint64_t newer = table.open(control(40001), from, to, std::nullopt, seconds(30), kT0).id;
  EXPECT_EQ(table.holder(from, to), newer);
  ASSERT_TRUE(table.close(older));
  EXPECT_EQ(table.holder(from, to), newer) << "closing the displaced pinhole must not free the slot";
  ASSERT_TRUE(table.close(newer));
  EXPECT_FALSE(table.holder(from, to));
}

TEST(PinholeTable, SlotsAreKeyedByConnectingPeerAndDestination) {
  PinholeTable table;
  table.open(control(40000), ip("203.0.113.10"), ep("203.0.113.1:50000"), std::nullopt, seconds(30), kT0);
  EXPECT_TRUE(table.holder(ip("203.0.113.10"), ep("203.0.113.1:50000")));
  EXPECT_FALSE(table.holder(ip("203.0.113.11"), ep("203.0.113.1:50000")));
  EXPECT_FALSE(table.holder(ip("203.0.113.10"), ep("203.0.113.1:50001")));
  EXPECT_FALSE(table.holder(ip("203.0.113.10"), ep("203.0.113.2:50000")));
}

TEST(PinholeTable, ExpiresEarliestFirstAndEqualTimesInOpeningOrder) {
  PinholeTable table;
  const auto from = ip("203.0.113.10");
  const std::uint64_t longLived =
      table.open(control(40000), from, ep("203.0.113.1:50000"), std::nullopt, seconds(30), kT0).id;
  const std::uint64_t firstShort =
      table.open(control(40001), from, ep("203.0.113.1:50001"), std::nullopt, seconds(10), kT0).id;
  const std::uint64_t secondShort =
      table.open(control(40002), from, ep("203.0.113.1:50002"), std::nullopt, seconds(10), kT0).id;
  const std::uint64_t later =
      table.open(control(40003), from, ep("203.0.113.1:50003"), std::nullopt, seconds(5), kT0 + seconds(8))
          .id;

  EXPECT_EQ(table.nextExpiry(), kT0 + seconds(10));
  EXPECT_FALSE(table.firstExpiredBy(Timestamp{kT0.nanos + 10'000'000'000 - 1}));
  EXPECT_EQ(table.firstExpiredBy(kT0 + seconds(10)), firstShort) << "an expiry at exactly now is due";
  ASSERT_TRUE(table.close(firstShort));
  EXPECT_EQ(table.firstExpiredBy(kT0 + seconds(10)), secondShort);
  ASSERT_TRUE(table.close(secondShort));
  EXPECT_FALSE(table.firstExpiredBy(kT0 + seconds(10)));
  EXPECT_EQ(table.nextExpiry(), kT0 + seconds(13));
  EXPECT_EQ(table.firstExpiredBy(kT0 + seconds(60)), later);
  ASSERT_TRUE(table.close(later));
  EXPECT_EQ(table.firstExpiredBy(kT0 + seconds(60)), longLived);
}

TEST(PinholeTable, ClosingOneOfTwoEqualExpiriesKeepsTheOther) {
  PinholeTable table;
  const auto from = ip("203.0.113.10");
  const std::uint64_t a =
      table.open(control(40000), from, ep("203.0.113.1:50000"), std::nullopt, seconds(10), kT0).id;
  const std::uint64_t b =
      table.open(control(40001), from, ep("203.0.113.1:50001"), std::nullopt, seconds(10), kT0).id;
  ASSERT_TRUE(table.close(b));
  EXPECT_EQ(table.firstExpiredBy(kT0 + seconds(10)), a);
}

TEST(PinholeTablePublicPort, FreePortIsKept) {
  PinholeTable table;
  EXPECT_EQ(table.choosePublicPort(ip("203.0.113.10"), ip("203.0.113.1"), 50000, std::nullopt, 1024), 50000);
}

TEST(PinholeTablePublicPort, PortTakenByAnotherPinholeProbesUpwards) {
  PinholeTable table;
  const auto connector = ip("203.0.113.10");
  table.open(control(40000), connector, ep("203.0.113.1:50000"), std::nullopt, seconds(30), kT0);
  table.open(control(40001), connector, ep("203.0.113.1:50001"), std::nullopt, seconds(30), kT0);
  EXPECT_EQ(table.choosePublicPort(connector, ip("203.0.113.1"), 50000, std::nullopt, 1024), 50002);
  // Another connecting peer, or another public address, does not collide.
  EXPECT_EQ(table.choosePublicPort(ip("203.0.113.11"), ip("203.0.113.1"), 50000, std::nullopt, 1024), 50000);
  EXPECT_EQ(table.choosePublicPort(connector, ip("203.0.113.2"), 50000, std::nullopt, 1024), 50000);
}

TEST(PinholeTablePublicPort, TheSessionsOwnPinholeDoesNotBlockItsPort) {
  PinholeTable table;
  const auto connector = ip("203.0.113.10");
  const std::uint64_t own =
      table.open(control(40000), connector, ep("203.0.113.1:50000"), std::nullopt, seconds(30), kT0).id;
  EXPECT_EQ(table.choosePublicPort(connector, ip("203.0.113.1"), 50000, own, 1024), 50000);
  EXPECT_EQ(table.choosePublicPort(connector, ip("203.0.113.1"), 50000, own + 1, 1024), 50001);
}

TEST(PinholeTablePublicPort, GivesUpAfterSixtyFourTakenPorts) {
  PinholeTable table;
  const auto connector = ip("203.0.113.10");
  for (int i = 0; i < PinholeTable::kPortProbes; ++i) {
    table.open(control(static_cast<std::uint16_t>(40000 + i)), connector,
               Endpoint{ip("203.0.113.1"), static_cast<std::uint16_t>(50000 + i)}, std::nullopt, seconds(30),
               kT0);
  }
  EXPECT_FALSE(table.choosePublicPort(connector, ip("203.0.113.1"), 50000, std::nullopt, 1024));
  EXPECT_EQ(table.choosePublicPort(connector, ip("203.0.113.1"), 50001, std::nullopt, 1024), 50064)
      << "a probe starting one higher reaches the first free port as its last candidate";
}

TEST(PinholeTablePublicPort, WrapsFromTheTopToTheFloorAndNeverBelow1024) {
  const auto connector = ip("203.0.113.10");
  for (const auto& [floor, expected] :
       {std::pair<std::uint16_t, std::uint16_t>{1024, 1024}, {2000, 2000}, {80, 1024}}) {
    PinholeTable table;
    table.open(control(40000), connector, ep("203.0.113.1:65534"), std::nullopt, seconds(30), kT0);
    table.open(control(40001), connector, ep("203.0.113.1:65535"), std::nullopt, seconds(30), kT0);
    EXPECT_EQ(table.choosePublicPort(connector, ip("203.0.113.1"), 65534, std::nullopt, floor), expected)
        << "floor " << floor;
  }
}

}  // namespace
}  // namespace ftpalg
