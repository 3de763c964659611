// The announcement decision (include/ftpalg/engine/announcement.hpp): the order of its checks,
// the port floor at its boundary for every verb, anti-bounce, the rate and pinhole limits, the
// public-port choice and the replacement text. Lines are parsed with the real address codec.
#include "ftpalg/engine/announcement.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <variant>

#include "ftpalg/engine/pinhole_table.hpp"
#include "ftpalg/ftp/address_codec.hpp"
#include "packet_builder.hpp"

namespace ftpalg {
namespace {

using std::chrono::seconds;
using testing::ep;
using testing::ip;

const Timestamp kT0{1'000'000'000};

// Client 192.168.77.10 masqueraded to 203.0.113.1; server 203.0.113.10.
NatMapping snat() {
  return NatMapping{ep("192.168.77.10:40000"), ep("203.0.113.1:40000"), ep("203.0.113.10:21"),
                    ep("203.0.113.10:21")};
}
// Client 198.51.100.20 outside; server 192.168.78.10 port-forwarded from 203.0.113.1:21.
NatMapping dnat() {
  return NatMapping{ep("198.51.100.20:40001"), ep("198.51.100.20:40001"), ep("192.168.78.10:21"),
                    ep("203.0.113.1:21")};
}

ParsedAddress parse(std::string_view line) {
  ParseResult result = ParseResult{AddressSyntaxError::BadSyntax};
  if (line.starts_with("PORT"))
    result = parsePort(line);
  else if (line.starts_with("EPRT"))
    result = parseEprt(line);
  else if (line.starts_with("227"))
    result = parse227(line);
  else if (line.starts_with("229"))
    result = parse229(line);
  const auto* parsed = std::get_if<ParsedAddress>(&result);
  EXPECT_NE(parsed, nullptr) << "test line does not parse: " << line;
  return parsed != nullptr ? *parsed : ParsedAddress{};
}

Direction directionOf(std::string_view line) {
  return line[0] >= '0' && line[0] <= '9' ? Direction::ServerToClient : Direction::ClientToServer;
}

struct Fixture {
  Policy policy;
  Limits limits;
  PinholeTable pinholes;
  TokenBucket rate{40, kT0};
  std::string text;  // the line of the last decision (a replacement points into it)

  // Decides `line` (direction from its first character) starting at stream offset `lineOffset`,
  // with nothing of it released yet unless `emittedEnd` says otherwise.
  AnnouncementDecision decide(std::string_view line, const NatMapping& nat, std::int64_t lineOffset = 100,
                              std::optional<std::int64_t> emittedEnd = std::nullopt,
                              std::optional<std::uint64_t> ownPinhole = std::nullopt, Timestamp now = kT0) {
    text = line;
    const FramedLine framed{lineOffset, text, 2};
    const ParsedAddress parsed = parse(text);
    return decideAnnouncement(
        Announcement{directionOf(text), framed, parsed, nat, emittedEnd.value_or(lineOffset), ownPinhole},
        policy, limits, pinholes, rate, now);
  }
  std::uint64_t otherSessionsPinhole(const IpAddress& from, const Endpoint& to) {
    return pinholes
        .open(FlowKey{ep("192.0.2.99:45000"), ep("203.0.113.10:21")}, from, to, std::nullopt, seconds(30),
              kT0)
        .id;
  }
};

void expectRefused(const AnnouncementDecision& decision, Reason reason) {
  ASSERT_TRUE(decision.refusal.has_value()) << "accepted, expected " << reasonName(reason);
  EXPECT_EQ(*decision.refusal, reason)
      << reasonName(*decision.refusal) << " instead of " << reasonName(reason);
}

void expectAccepted(const AnnouncementDecision& decision) {
  EXPECT_FALSE(decision.refusal.has_value())
      << "refused: " << reasonName(decision.refusal.value_or(Reason::BadSyntax));
}

// --- port floor ----------------------------------------------------------------------------------

struct FloorCase {
  const char* below;  // announces port 1023
  const char* at;     // announces port 1024
  NatMapping nat;
  Endpoint announcedAt;
  std::optional<Endpoint> natToAt;
};

TEST(AnnouncementPortFloor, Port1023IsRefusedAnd1024AcceptedForEveryVerb) {
  const FloorCase cases[] = {
      {"PORT 192,168,77,10,3,255", "PORT 192,168,77,10,4,0", snat(), ep("203.0.113.1:1024"),
       ep("192.168.77.10:1024")},
      {"EPRT |1|192.168.77.10|1023|", "EPRT |1|192.168.77.10|1024|", snat(), ep("203.0.113.1:1024"),
       ep("192.168.77.10:1024")},
      {"227 Entering Passive Mode (192,168,78,10,3,255).", "227 Entering Passive Mode (192,168,78,10,4,0).",
       dnat(), ep("203.0.113.1:1024"), ep("192.168.78.10:1024")},
      {"229 Entering Extended Passive Mode (|||1023|)", "229 Entering Extended Passive Mode (|||1024|)",
       dnat(), ep("203.0.113.1:1024"), ep("192.168.78.10:1024")},
  };
  for (const FloorCase& c : cases) {
    SCOPED_TRACE(c.at);
    Fixture f;
    expectRefused(f.decide(c.below, c.nat), Reason::PortBelowFloor);
    const AnnouncementDecision decision = f.decide(c.at, c.nat);
    expectAccepted(decision);
    EXPECT_EQ(decision.announced, c.announcedAt);
    EXPECT_EQ(decision.natTo, c.natToAt);
  }
}

TEST(AnnouncementPortFloor, ConfiguredFloorIsTheFirstAcceptedPort) {
  Fixture f;
  f.policy.dataPortFloor = 2000;
  expectRefused(f.decide("PORT 192,168,77,10,7,207", snat()), Reason::PortBelowFloor);  // 1999
  expectAccepted(f.decide("PORT 192,168,77,10,7,208", snat()));                         // 2000
}

TEST(AnnouncementPortFloor, RefusalSpendsNoRateToken) {
  Fixture f;
  f.rate.tokens = 1;
  expectRefused(f.decide("PORT 192,168,77,10,3,255", snat()), Reason::PortBelowFloor);
  EXPECT_EQ(f.rate.tokens, 1);
  expectAccepted(f.decide("PORT 192,168,77,10,4,0", snat()));
}

TEST(AnnouncementPortFloor, PortZeroHasItsOwnReason) {
  Fixture f;
  expectRefused(f.decide("PORT 192,168,77,10,0,0", snat()), Reason::PortZero);
  expectRefused(f.decide("227 Entering Passive Mode (192,168,78,10,0,0).", dnat()), Reason::PortZero);
}

// --- anti-bounce ---------------------------------------------------------------------------------

TEST(AnnouncementAntiBounce, ClientNamingAThirdPartyIsRefused) {
  Fixture f;
  expectRefused(f.decide("PORT 198,51,100,99,195,80", snat()), Reason::AddressMismatch);
  expectRefused(f.decide("EPRT |1|198.51.100.99|50000|", snat()), Reason::AddressMismatch);
}

TEST(AnnouncementAntiBounce, ClientNamingTheRoutersPublicAddressIsRefused) {
  Fixture f;
  expectRefused(f.decide("PORT 203,0,113,1,195,80", snat()), Reason::AddressMismatch);
}

TEST(AnnouncementAntiBounce, ServerNamingAnotherInsideHostIsRefused) {
  Fixture f;
  expectRefused(f.decide("227 Entering Passive Mode (192,168,78,11,195,80).", dnat()),
                Reason::AddressMismatch);
}

TEST(AnnouncementAntiBounce, ServerNamingItsPublicSeenAddressIsAcceptedAndForwardedToItself) {
  Fixture f;
  const AnnouncementDecision decision = f.decide("227 Entering Passive Mode (203,0,113,1,195,80).", dnat());
  expectAccepted(decision);
  EXPECT_EQ(decision.connector, ip("198.51.100.20"));
  EXPECT_EQ(decision.announced, ep("203.0.113.1:50000"));
  EXPECT_EQ(decision.natTo, ep("192.168.78.10:50000")) << "the pinhole forwards only to the real server";
  EXPECT_FALSE(decision.replacement) << "the line already names the public endpoint";
}

TEST(AnnouncementAntiBounce, ClientMayNotUseTheServersSeenAddressRule) {
  // The "seen address" exception is the server's: a client naming its own public address is
  // still refused (see ClientNamingTheRoutersPublicAddressIsRefused), also with DNAT in play.
  Fixture f;
  expectRefused(f.decide("PORT 203,0,113,1,195,80", dnat()), Reason::AddressMismatch);
}

TEST(AnnouncementAntiBounce, PeerModeIgnoresTheEmbeddedAddress) {
  Fixture f;
  f.policy.antiBounce = AntiBounceMode::Peer;
  const AnnouncementDecision decision = f.decide("PORT 198,51,100,99,195,80", snat());
  expectAccepted(decision);
  EXPECT_EQ(decision.announced, ep("203.0.113.1:50000"));
  EXPECT_EQ(decision.natTo, ep("192.168.77.10:50000")) << "the announcer's real address, not the named one";
  ASSERT_TRUE(decision.replacement);
  EXPECT_EQ(decision.replacement->lineAfter, "PORT 203,0,113,1,195,80");
}

// --- order of the checks, and the limits ---------------------------------------------------------

TEST(AnnouncementChecks, LineReleasedBeyondItsVerbIsRefusedFirst) {
  Fixture f;
  expectAccepted(f.decide("PORT 192,168,77,10,195,80", snat(), 100, 104));
  expectRefused(f.decide("PORT 192,168,77,10,195,80", snat(), 100, 105), Reason::AnnouncementNotHeld);
  expectRefused(f.decide("PORT 198,51,100,99,195,80", snat(), 100, 105), Reason::AnnouncementNotHeld);
  expectAccepted(f.decide("227 Entering Passive Mode (192,168,78,10,195,80).", dnat(), 100, 103));
  expectRefused(f.decide("227 Entering Passive Mode (192,168,78,10,195,80).", dnat(), 100, 104),
                Reason::AnnouncementNotHeld);
}

TEST(AnnouncementChecks, RateLimitRefusesOnceTheBurstIsSpentAndRefills) {
  Fixture f;
  f.limits.pinholeBurst = 2;
  f.limits.pinholesPerSecond = 1;
  f.rate = TokenBucket{2, kT0};
  expectAccepted(f.decide("PORT 192,168,77,10,195,80", snat()));
  expectAccepted(f.decide("PORT 192,168,77,10,195,81", snat()));
  expectRefused(f.decide("PORT 192,168,77,10,195,82", snat()), Reason::PinholeRateLimit);
  expectAccepted(
      f.decide("PORT 192,168,77,10,195,83", snat(), 100, std::nullopt, std::nullopt, kT0 + seconds(1)));
  expectRefused(
      f.decide("PORT 192,168,77,10,195,84", snat(), 100, std::nullopt, std::nullopt, kT0 + seconds(1)),
      Reason::PinholeRateLimit);
}

TEST(AnnouncementChecks, GlobalPinholeLimitSparesASessionReplacingItsOwn) {
  Fixture f;
  f.limits.maxPinholes = 1;
  const std::uint64_t existing = f.otherSessionsPinhole(ip("203.0.113.10"), ep("203.0.113.1:60000"));
  expectRefused(f.decide("PORT 192,168,77,10,195,80", snat()), Reason::PinholeLimit);
  expectAccepted(f.decide("PORT 192,168,77,10,195,80", snat(), 100, std::nullopt, existing));
}

// --- public port ---------------------------------------------------------------------------------

TEST(AnnouncementPublicPort, NatedAnnouncerGetsTheNextFreePortAndTheTextSaysSo) {
  Fixture f;
  f.otherSessionsPinhole(ip("203.0.113.10"), ep("203.0.113.1:50000"));
  const AnnouncementDecision decision = f.decide("PORT 192,168,77,10,195,80", snat());
  expectAccepted(decision);
  EXPECT_EQ(decision.announced, ep("203.0.113.1:50001"));
  EXPECT_EQ(decision.natTo, ep("192.168.77.10:50000")) << "the client still listens on its own port";
  EXPECT_FALSE(decision.displaced);
  ASSERT_TRUE(decision.replacement);
  EXPECT_EQ(decision.replacement->replacement, "203,0,113,1,195,81");
}

TEST(AnnouncementPublicPort, NoFreePublicPortIsRefused) {
  Fixture f;
  for (int i = 0; i < PinholeTable::kPortProbes; ++i) {
    f.otherSessionsPinhole(ip("203.0.113.10"),
                           Endpoint{ip("203.0.113.1"), static_cast<std::uint16_t>(50000 + i)});
  }
  expectRefused(f.decide("PORT 192,168,77,10,195,80", snat()), Reason::NoPublicPort);
}

TEST(AnnouncementPublicPort, AnnouncerWithoutNatKeepsItsPortAndDisplacesAStalePinhole) {
  Fixture f;
  // dnat(): the client is not NAT'ed; its PORT names its own listener.
  const std::uint64_t stale = f.otherSessionsPinhole(ip("192.168.78.10"), ep("198.51.100.20:50000"));
  const AnnouncementDecision decision = f.decide("PORT 198,51,100,20,195,80", dnat());
  expectAccepted(decision);
  EXPECT_EQ(decision.displaced, stale);
  EXPECT_EQ(decision.connector, ip("192.168.78.10"));
  EXPECT_EQ(decision.announced, ep("198.51.100.20:50000"));
  EXPECT_FALSE(decision.natTo);
  EXPECT_FALSE(decision.replacement);
  const AnnouncementDecision own = f.decide("PORT 198,51,100,20,195,80", dnat(), 100, std::nullopt, stale);
  expectAccepted(own);
  EXPECT_FALSE(own.displaced) << "the session's own pinhole is replaced by the engine, not displaced";
}

// --- replacement text ----------------------------------------------------------------------------

TEST(AnnouncementReplacement, PortSpanIsReplacedAtItsStreamOffset) {
  Fixture f;
  const AnnouncementDecision decision = f.decide("PORT 192,168,77,10,195,80", snat(), 1000);
  expectAccepted(decision);
  ASSERT_TRUE(decision.replacement);
  EXPECT_EQ(decision.replacement->offset, 1005);
  EXPECT_EQ(decision.replacement->original, "192,168,77,10,195,80");
  EXPECT_EQ(decision.replacement->replacement, "203,0,113,1,195,80");
  EXPECT_EQ(decision.replacement->lineAfter, "PORT 203,0,113,1,195,80");
}

TEST(AnnouncementReplacement, EprtKeepsItsDelimiter) {
  Fixture f;
  const AnnouncementDecision decision = f.decide("EPRT !1!192.168.77.10!50000!", snat(), 0);
  expectAccepted(decision);
  ASSERT_TRUE(decision.replacement);
  EXPECT_EQ(decision.replacement->offset, 5);
  EXPECT_EQ(decision.replacement->lineAfter, "EPRT !1!203.0.113.1!50000!");
}

TEST(AnnouncementReplacement, Reply227TupleIsReplacedAndTheRestKept) {
  Fixture f;
  const AnnouncementDecision decision =
      f.decide("227 Entering Passive Mode (192,168,78,10,195,80).", dnat(), 50);
  expectAccepted(decision);
  ASSERT_TRUE(decision.replacement);
  EXPECT_EQ(decision.replacement->offset, 50 + 27);
  EXPECT_EQ(decision.replacement->original, "192,168,78,10,195,80");
  EXPECT_EQ(decision.replacement->lineAfter, "227 Entering Passive Mode (203,0,113,1,195,80).");
  EXPECT_EQ(decision.connector, ip("198.51.100.20"));
}

TEST(AnnouncementReplacement, Reply229ChangesOnlyWhenThePublicPortDoes) {
  Fixture f;
  const AnnouncementDecision same = f.decide("229 Entering Extended Passive Mode (|||50000|)", dnat());
  expectAccepted(same);
  EXPECT_FALSE(same.replacement) << "229 carries no address; the port is free";
  f.otherSessionsPinhole(ip("198.51.100.20"), ep("203.0.113.1:50000"));
  const AnnouncementDecision moved = f.decide("229 Entering Extended Passive Mode (|||50000|)", dnat());
  expectAccepted(moved);
  EXPECT_EQ(moved.announced, ep("203.0.113.1:50001"));
  EXPECT_EQ(moved.natTo, ep("192.168.78.10:50000"));
  ASSERT_TRUE(moved.replacement);
  EXPECT_EQ(moved.replacement->replacement, "50001");
  EXPECT_EQ(moved.replacement->lineAfter, "229 Entering Extended Passive Mode (|||50001|)");
}

TEST(AnnouncementReplacement, NoNatNoRewrite) {
  Fixture f;
  const NatMapping plain{ep("198.51.100.20:40001"), ep("198.51.100.20:40001"), ep("203.0.113.10:21"),
                         ep("203.0.113.10:21")};
  const AnnouncementDecision decision = f.decide("PORT 198,51,100,20,195,80", plain);
  expectAccepted(decision);
  EXPECT_FALSE(decision.replacement);
  EXPECT_FALSE(decision.natTo);
  EXPECT_EQ(decision.announced, ep("198.51.100.20:50000"));
}

}  // namespace
}  // namespace ftpalg
