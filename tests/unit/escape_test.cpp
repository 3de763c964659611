// Log hygiene: attacker-controlled lines are escaped, capped, and PASS arguments never appear.
#include "ftpalg/engine/escape.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "ftpalg/engine/engine.hpp"
#include "packet_builder.hpp"
#include "session_sim.hpp"

namespace ftpalg {
namespace {

TEST(EscapeLine, PrintableAsciiIsCopied) { EXPECT_EQ(escapeLine("PORT 1,2,3,4,5,6"), "PORT 1,2,3,4,5,6"); }

TEST(EscapeLine, ControlAndEightBitBytesBecomeHexEscapes) {
  EXPECT_EQ(escapeLine(std::string("PO\0RT\r\x1b[2J\xff\xf4", 12)), "PO\\x00RT\\x0d\\x1b[2J\\xff\\xf4");
}

TEST(EscapeLine, BackslashIsDoubledSoEscapesAreUnambiguous) { EXPECT_EQ(escapeLine("a\\x41"), "a\\\\x41"); }

TEST(EscapeLine, LongLinesAreCappedWithAnEllipsis) {
  const std::string escaped = escapeLine(std::string(10000, 'A'), 256);
  EXPECT_LE(escaped.size(), 259u);
  EXPECT_EQ(escaped.substr(escaped.size() - 3), "...");
}

TEST(EscapeLine, CapNeverSplitsAnEscapeSequence) {
  const std::string escaped = escapeLine(std::string(100, '\x01'), 10);
  EXPECT_EQ(escaped, "\\x01\\x01...");
}

TEST(EscapeLine, PassArgumentIsNeverShownInAnyCase) {
  EXPECT_EQ(escapeLine("PASS hunter2"), "PASS ****");
  EXPECT_EQ(escapeLine("pass hunter2"), "pass ****");
  EXPECT_EQ(escapeLine("PaSs  hunter2 with spaces"), "PaSs ****");
  EXPECT_EQ(escapeLine("PASS"), "PASS");
  EXPECT_EQ(escapeLine("PASSWORD x"), "PASSWORD x") << "only the PASS command is masked";
}

TEST(EngineLogHygiene, PassLineNeverAppearsInAnyObservation) {
  const FlowKey key{testing::ep("192.168.77.10:40000"), testing::ep("203.0.113.10:21")};
  const NatMapping nat{key.client, testing::ep("203.0.113.1:40000"), key.server, key.server};
  testing::FixedFlowResolver resolver(key, nat);
  EngineConfig config;
  config.limits.maxLineLength = 64;
  Engine engine(config);
  testing::SessionSim sim(engine, resolver, key.client, key.server, 1000, 2000);
  sim.handshake();
  sim.serverSends("220 hi\r\n");
  sim.clientSends("USER u\r\n");
  sim.serverSends("331 pw\r\n");
  sim.clientSends("PASS s3cr3t-" + std::string(100, 'x') + "\r\n");  // over-long: an anomaly
  ASSERT_FALSE(sim.observations().empty());
  for (const std::string& line : testing::describe(sim.observations())) {
    EXPECT_EQ(line.find("s3cr3t"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace ftpalg
