// Golden replay tests (label "golden").
//
// The fixture set: pcap-fixtures/cases.list names every case (the generators' registry and the
// real captures, written by scripts/make-fixtures.sh); a case missing from the directory or a
// directory missing from the list fails (a wrong fixtures path finds no case and fails too).
//
// For every case, the decisions its author stated (decisions.jsonl: in the generator's case
// definition, or from the lab topology for a real capture; stated_decisions.hpp) are checked
// against the reviewed expected.jsonl and against a fresh replay, so neither is only the blessed
// output of the code under test. The replay (`ftpalg replay --in input.pcap --out OUT --log LOG
// <flags>`, the built binary) must exit 0 and then:
//
//  1. LOG must agree with the stated decisions, including the stats counters the case pins;
//  2. LOG without its `stats` line must equal expected.jsonl line by line (no field is volatile:
//     "ts" is the capture time, and nothing else depends on the run; the stats line is not pinned
//     whole, only the counters a case is about, by its statement);
//  3. OUT must be a capture of the same link type in which every complete TCP packet has valid
//     IPv4 header and TCP checksums (unless the identical packet was already invalid in the
//     input, e.g. a real capture with checksum offload);
//  4. each direction of each control connection (a TCP port from --control-port flags, default
//     21), reassembled from OUT, must equal the same direction reassembled from the input with
//     only the rewrites the log announces applied: each rewrite event's "before" line, at a line
//     start, replaced by its "after" line, in order;
//     and no retransmitted byte in OUT may differ from its first copy (first-seen bytes win,
//     docs/design.md#stream-not-packets), even where the input's retransmissions conflict.
//     Packets whose checksums fail are left out of both (their receiver drops them), except a
//     TCP checksum that is the pseudo-header sum a sending host's NIC completes;
//  5. OUT has as many packets as the input minus the engine's packets_dropped.
//
// Every case is also replayed with --kernel-seqadj (the conntrack-owned mode: the engine leaves
// sequence numbers to a model of conntrack's one-correction-point adjustment, docs/replay.md):
// its output capture must equal the engine-owned replay's packet for packet, byte for byte, with
// two stated exceptions: a packet the kernel mode dropped (its log's packets_dropped; live, the
// sender retransmits it) is missing, and a TCP segment that carries no stream byte (no payload,
// no SYN, no FIN: an ACK or RST) may differ in its sequence number, which conntrack takes from
// the segment's raw number while the engine-owned mode clamps it to its own view of the stream.
//
// A case whose directory holds a `known-issue` file (what the engine gets wrong, reported to the
// engine's owner) skips its replay instead of blessing a wrong expectation; delete the file with
// the fix. Its statement is still checked against expected.jsonl.
//
// Plus command-line behaviour that needs the binary: a corrupt capture names the packet and
// exits 1; a bad option exits 2.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ftpalg/packet/packet_rewriter.hpp"
#include "ftpalg/packet/packet_view.hpp"
#include "golden_support.hpp"
#include "io/pcap_source.hpp"
#include "packet_builder.hpp"
#include "stated_decisions.hpp"

extern char** environ;

namespace ftpalg::golden {
namespace {

const fs::path kFixtures = FTPALG_FIXTURES_DIR;
const std::string kBinary = FTPALG_BINARY;
const std::string kGoldenCheck = FTPALG_GOLDEN_CHECK;

// ---- helpers: files, processes --------------------------------------------------------------

struct ProcessResult {
  int exitStatus = -1;
  std::string standardError;
};

ProcessResult runProgram(const std::string& program, const std::vector<std::string>& arguments,
                         const fs::path& scratch) {
  const fs::path stdoutPath = scratch / "stdout.txt";
  const fs::path stderrPath = scratch / "stderr.txt";
  std::vector<std::string> argvStorage{program};
  argvStorage.insert(argvStorage.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& argument : argvStorage) argv.push_back(argument.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  ProcessResult result;
  const int spawnError = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawnError != 0) {
    result.standardError = "posix_spawn failed: " + std::to_string(spawnError);
    return result;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.standardError = readFile(stderrPath);
  return result;
}

ProcessResult runBinary(const std::vector<std::string>& arguments, const fs::path& scratch) {
  return runProgram(kBinary, arguments, scratch);
}

class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (fs::temp_directory_path() / "ftpalg-golden-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDirectory() {
    if (!keep_ && !path_.empty()) {
      std::error_code ignored;
      fs::remove_all(path_, ignored);
    }
  }
  const fs::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

// ---- helpers: captures --------------------------------------------------------------------------

// Applies the log's rewrites to the input streams: each "before" line, found at a line start
// after the previous rewrite of the same direction, becomes "after".
std::map<DirectionKey, std::string> expectedStreams(const CaptureContents& input,
                                                    const std::vector<std::string>& logLines,
                                                    std::vector<std::string>& problems) {
  std::map<DirectionKey, std::string> streams;
  for (const auto& [key, assembler] : input.controlStreams) streams[key] = assembler.text();
  std::map<DirectionKey, std::size_t> cursors;
  for (const std::string& line : logLines) {
    const auto object = parseFlatJson(line);
    if (!object) {
      problems.push_back("log line is not a flat JSON object: " + line);
      continue;
    }
    if (textOf(*object, "event") != "rewrite") continue;
    const auto flow = parseFlow(textOf(*object, "flow"));
    if (!flow) {
      problems.push_back("rewrite event without a valid flow: " + line);
      continue;
    }
    const bool clientToServer = textOf(*object, "dir") == "c2s";
    const DirectionKey key =
        clientToServer ? DirectionKey{flow->client, flow->server} : DirectionKey{flow->server, flow->client};
    const std::string before = unescapeLine(textOf(*object, "before"));
    const std::string after = unescapeLine(textOf(*object, "after"));
    auto stream = streams.find(key);
    if (stream == streams.end()) {
      problems.push_back("rewrite event for a direction absent from the input: " + line);
      continue;
    }
    std::size_t& cursor = cursors[key];
    std::size_t at = cursor;
    for (;;) {
      at = stream->second.find(before, at);
      if (at == std::string::npos) break;
      const bool lineStart = at == 0 || stream->second[at - 1] == '\n';
      const std::size_t end = at + before.size();
      const bool lineEnd =
          end < stream->second.size() && (stream->second[end] == '\r' || stream->second[end] == '\n');
      if (lineStart && lineEnd) break;
      ++at;
    }
    if (at == std::string::npos) {
      problems.push_back("rewrite event's \"before\" line not found in the input stream: " + line);
      continue;
    }
    stream->second.replace(at, before.size(), after);
    cursor = at + after.size();
  }
  return streams;
}

std::string describe(const DirectionKey& key) {
  return key.first.toString() + " -> " + key.second.toString();
}

// First position where two strings differ, with some context, for readable failures.
std::string firstDifference(const std::string& expected, const std::string& actual) {
  std::size_t at = 0;
  while (at < expected.size() && at < actual.size() && expected[at] == actual[at]) ++at;
  const std::size_t from = at > 40 ? at - 40 : 0;
  auto show = [&](const std::string& text) {
    std::string shown;
    for (const char c : text.substr(from, 100)) {
      if (c == '\r') {
        shown += "\\r";
      } else if (c == '\n') {
        shown += "\\n";
      } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        shown += '.';
      } else {
        shown += c;
      }
    }
    return shown;
  };
  return "at byte " + std::to_string(at) + " (expected length " + std::to_string(expected.size()) +
         ", actual " + std::to_string(actual.size()) + ")\n  expected: ..." + show(expected) +
         "\n  actual:   ..." + show(actual);
}

// ---- the fixture set ----------------------------------------------------------------------------

// Every case the list names and every directory there is: a case missing on either side gets a
// test that fails (and FixtureSet says which side).
std::vector<std::string> fixtureCases() {
  std::set<std::string> cases;
  if (const auto listed = listedCases(kFixtures)) cases.insert(listed->begin(), listed->end());
  for (const std::string& directory : caseDirectories(kFixtures)) cases.insert(directory);
  return {cases.begin(), cases.end()};
}

TEST(FixtureSet, TheCaseListNamesExactlyTheFixtureDirectories) {
  const auto listed = listedCases(kFixtures);
  ASSERT_TRUE(listed.has_value())
      << (kFixtures / "cases.list")
      << " is missing: a wrong fixtures directory, or run scripts/make-fixtures.sh";
  ASSERT_FALSE(listed->empty()) << (kFixtures / "cases.list") << " names no case";
  const std::set<std::string> listedSet(listed->begin(), listed->end());
  EXPECT_EQ(listedSet.size(), listed->size()) << "cases.list names a case twice";
  const std::vector<std::string> directories = caseDirectories(kFixtures);
  const std::set<std::string> directorySet(directories.begin(), directories.end());
  for (const std::string& name : listedSet) {
    EXPECT_TRUE(directorySet.count(name) != 0)
        << "case " << name << " (cases.list) has no directory under " << kFixtures;
  }
  for (const std::string& name : directorySet) {
    EXPECT_TRUE(listedSet.count(name) != 0)
        << kFixtures / name << " is not a listed case: declare it in a generator (or the real-capture "
        << "list of scripts/capture-fixtures.sh) and run scripts/make-fixtures.sh";
  }
  for (const std::string& name : listedSet) {
    for (const char* file : {"input.pcap", "README.md", "decisions.jsonl", "expected.jsonl"}) {
      EXPECT_TRUE(fs::is_regular_file(kFixtures / name / file)) << kFixtures / name / file << " is missing";
    }
  }
}

std::string testName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// The statement, or a failure naming why it cannot be read.
std::optional<StatedDecisions> statementOf(const fs::path& caseDir) {
  std::vector<std::string> problems;
  auto stated = loadStatedDecisions(caseDir, problems);
  for (const std::string& problem : problems) ADD_FAILURE() << problem;
  return stated;
}

class ReviewedExpectation : public ::testing::TestWithParam<std::string> {};

TEST_P(ReviewedExpectation, AgreesWithTheStatedDecisions) {
  const fs::path caseDir = kFixtures / GetParam();
  const auto stated = statementOf(caseDir);
  ASSERT_TRUE(stated.has_value());
  const fs::path expectedPath = caseDir / "expected.jsonl";
  ASSERT_TRUE(fs::is_regular_file(expectedPath))
      << expectedPath << " is missing: run scripts/update-golden.sh and review it";
  const std::vector<std::string> expectedLines = readLines(expectedPath);
  for (const std::string& line : expectedLines) {
    EXPECT_FALSE(isStatsLine(line))
        << expectedPath << " pins the whole stats line; pin the counters the case "
        << "is about in its statement (stats(...)) and run scripts/update-golden.sh";
  }
  const CaptureContents input = readCapture(caseDir / "input.pcap", controlPortsOf(caseFlags(caseDir)));
  ASSERT_TRUE(input.error.empty()) << input.error;
  for (const std::string& problem :
       checkDecisions(*stated, expectedLines, input, LogCheck{.statsLineRequired = false})) {
    ADD_FAILURE() << expectedPath << " contradicts decisions.jsonl: " << problem;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReviewedExpectation, ::testing::ValuesIn(fixtureCases()), testName);

class GoldenReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenReplay, LogMatchesExpectationAndOutputCarriesOnlyAnnouncedRewrites) {
  const fs::path caseDir = kFixtures / GetParam();
  ASSERT_TRUE(fs::is_regular_file(caseDir / "input.pcap")) << caseDir / "input.pcap"
                                                           << " is missing";
  if (fs::exists(caseDir / "known-issue")) {
    // The engine disagrees with the case's README; the file says how (reported, not blessed).
    GTEST_SKIP() << "known issue: " << readFile(caseDir / "known-issue");
  }
  ScratchDirectory scratch;
  ASSERT_FALSE(scratch.path().empty()) << "cannot create a scratch directory";
  const fs::path outPath = scratch.path() / "out.pcap";
  const fs::path logPath = scratch.path() / "log.jsonl";

  std::vector<std::string> arguments{"replay",        "--in",           (caseDir / "input.pcap").string(),
                                     "--out",         outPath.string(), "--log",
                                     logPath.string()};
  const std::vector<std::string> flags = caseFlags(caseDir);
  arguments.insert(arguments.end(), flags.begin(), flags.end());
  const std::set<std::uint16_t> controlPorts = controlPortsOf(flags);

  const ProcessResult run = runBinary(arguments, scratch.path());
  ASSERT_EQ(run.exitStatus, 0) << "ftpalg replay failed for " << GetParam() << ":\n" << run.standardError;

  const std::vector<std::string> logLines = readLines(logPath);
  const CaptureContents input = readCapture(caseDir / "input.pcap", controlPorts);
  ASSERT_TRUE(input.error.empty()) << input.error;

  // 1. The decision log agrees with the stated decisions (and the counters they pin).
  if (const auto stated = statementOf(caseDir)) {
    for (const std::string& problem :
         checkDecisions(*stated, logLines, input, LogCheck{.statsLineRequired = true})) {
      ADD_FAILURE() << "the replay log contradicts decisions.jsonl: " << problem;
    }
  }

  // 2. The decision log, but for its stats line, equals the reviewed expectation.
  std::vector<std::string> pinnedLines;
  std::copy_if(logLines.begin(), logLines.end(), std::back_inserter(pinnedLines),
               [](const std::string& line) { return !isStatsLine(line); });
  const fs::path expectedPath = caseDir / "expected.jsonl";
  ASSERT_TRUE(fs::exists(expectedPath))
      << expectedPath << " is missing: run scripts/update-golden.sh and review it";
  const std::vector<std::string> expectedLines = readLines(expectedPath);
  for (std::size_t i = 0; i < std::max(pinnedLines.size(), expectedLines.size()); ++i) {
    const std::string actual = i < pinnedLines.size() ? pinnedLines[i] : "<no line>";
    const std::string expected = i < expectedLines.size() ? expectedLines[i] : "<no line>";
    EXPECT_EQ(actual, expected) << "decision log line " << (i + 1) << " of " << GetParam()
                                << " (stats line excluded)";
  }

  // 3./4. The output capture.
  const CaptureContents output = readCapture(outPath, controlPorts);
  ASSERT_TRUE(output.error.empty()) << output.error;
  EXPECT_EQ(output.linkType, input.linkType);
  const std::multiset<std::string> badInInput(input.badChecksumPackets.begin(),
                                              input.badChecksumPackets.end());
  for (const std::string& packet : output.badChecksumPackets) {
    EXPECT_TRUE(badInInput.count(packet) != 0)
        << "an output packet has an invalid IPv4 header or TCP checksum (" << packet.size() << " bytes)";
  }
  std::vector<std::string> problems;
  const auto expected = expectedStreams(input, logLines, problems);
  for (const std::string& problem : problems) ADD_FAILURE() << problem;
  for (const auto& [key, stream] : expected) {
    const auto actual = output.controlStreams.find(key);
    if (actual == output.controlStreams.end()) {
      ADD_FAILURE() << "control direction " << describe(key) << " is missing from the output";
      continue;
    }
    // A retransmission is rewritten identically, and a conflicting one carries the first-seen
    // bytes: the output never contradicts itself, even where the input did.
    EXPECT_EQ(actual->second.conflictingBytes(), 0u)
        << "output direction " << describe(key) << " retransmits bytes that differ from their first copy";
    const std::string actualStream = actual->second.text();
    EXPECT_TRUE(actualStream == stream)
        << "output stream " << describe(key) << " differs from input + announced rewrites "
        << firstDifference(stream, actualStream);
  }
  EXPECT_EQ(output.controlStreams.size(), expected.size())
      << "the output has control directions the input lacks";

  // 5. Packet count: nothing lost, nothing invented.
  std::uint64_t dropped = 0;
  for (const std::string& line : logLines) {
    const auto object = parseFlatJson(line);
    if (object && textOf(*object, "event") == "stats" && object->count("packets_dropped") != 0) {
      dropped = std::stoull(textOf(*object, "packets_dropped"));
    }
  }
  EXPECT_EQ(output.records + dropped, input.records) << "output packets + dropped != input packets";

  if (HasFailure()) {
    scratch.keep();
    std::cerr << "kept " << scratch.path() << " (out.pcap, log.jsonl, stderr.txt) for inspection\n";
  }
}

// No GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST: with no case at all, GoogleTest's
// UninstantiatedParameterizedTestSuite check fails too.
INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenReplay, ::testing::ValuesIn(fixtureCases()), testName);

// ---- the statement check itself ----------------------------------------------------------------

// Lines of a log, each a decision in the log's own notation.
std::vector<std::string> logOf(std::initializer_list<const char*> lines) {
  return {lines.begin(), lines.end()};
}

const char* const kRewrite =
    R"({"ts":1.0,"event":"rewrite","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay","dir":"c2s",)"
    R"("verb":"PORT","before":"PORT 192,168,77,10,195,80","after":"PORT 203,0,113,1,195,80"})";
const char* const kPinhole =
    R"({"ts":1.0,"event":"pinhole","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay",)"
    R"("from":"203.0.113.10","to":"203.0.113.1:50000","nat_to":"192.168.77.10:50000","timeout_s":30})";
const char* const kClose =
    R"({"ts":2.0,"event":"session_close","flow":"192.168.77.10:40000-203.0.113.10:21","mode":"replay",)"
    R"("reason":"fin"})";
const char* const kStats =
    R"({"ts":2.0,"event":"stats","flow":null,"mode":"replay","rewrites":1,"rejects":0})";

StatedDecisions statementOf(std::initializer_list<const char*> lines) {
  StatedDecisions stated;
  for (const char* line : lines) {
    const auto object = parseFlatJson(line);
    EXPECT_TRUE(object.has_value()) << line;
    if (!object) continue;
    if (textOf(*object, "event") == "stats") {
      stated.stats = *object;
    } else {
      stated.events.push_back(*object);
    }
  }
  return stated;
}

const StatedDecisions kStated = statementOf({
    R"({"event":"rewrite","dir":"c2s","verb":"PORT","before":"PORT 192,168,77,10,195,80",)"
    R"("after":"PORT 203,0,113,1,195,80"})",
    R"({"event":"pinhole","from":"203.0.113.10","to":"203.0.113.1:50000","nat_to":"192.168.77.10:50000"})",
    R"({"event":"session_close","reason":"fin"})",
    R"({"event":"stats","rewrites":1})",
});

std::vector<std::string> check(const std::vector<std::string>& log, bool statsRequired = true) {
  return checkDecisions(kStated, log, CaptureContents{}, LogCheck{.statsLineRequired = statsRequired});
}

// ---- the independent reassembly ---------------------------------------------------------------

std::vector<std::uint8_t> clientSegment(std::uint32_t seq, std::uint8_t flags, std::string payload = "") {
  testing::TcpPacketSpec spec;
  spec.src = testing::ep("192.168.77.10:40000");
  spec.dst = testing::ep("203.0.113.10:21");
  spec.seq = seq;
  spec.flags = flags;
  spec.payload = std::move(payload);
  return testing::buildTcpPacket(spec);
}

void add(StreamAssembler& stream, const std::vector<std::uint8_t>& packet) {
  const auto view = PacketView::parse(packet);
  ASSERT_TRUE(view);
  stream.add(*view);
}

TEST(StreamAssembler, ANewHandshakeOnTheSameEndpointsFollowsTheOldConnectionNotItsSequenceSpace) {
  // A reused client port: the new ISN lies 2^30 bytes past the old one. Its bytes must follow the
  // old connection's (not 2^30 bytes of holes later); a retransmitted SYN starts nothing.
  StreamAssembler stream;
  add(stream, clientSegment(1000, tcp_flags::kSyn));
  add(stream, clientSegment(1001, tcp_flags::kAck, "USER a\r\n"));
  add(stream, clientSegment(1000, tcp_flags::kSyn));
  add(stream, clientSegment(0x4000'03E8, tcp_flags::kSyn));
  add(stream, clientSegment(0x4000'03E8, tcp_flags::kSyn));
  add(stream, clientSegment(0x4000'03E9 + 5, tcp_flags::kAck, "\n"));
  add(stream, clientSegment(0x4000'03E9, tcp_flags::kAck, "NOOP\r"));
  EXPECT_EQ(stream.text(), "USER a\r\n" + std::string(StreamAssembler::kNewConnection) + "NOOP\r\n");
  EXPECT_EQ(stream.conflictingBytes(), 0u);
}

TEST(StatedDecisionsCheck, AgreesWhenEveryDecisionIsStatedInOrderAndIgnoresUnstatedKeys) {
  // session_open is no decision; ts, flow, mode, timeout_s and the other counters are not stated.
  const char* open = R"({"ts":0.5,"event":"session_open","flow":"192.168.77.10:40000-203.0.113.10:21"})";
  EXPECT_TRUE(check(logOf({open, kRewrite, kPinhole, kClose, kStats})).empty());
}

TEST(StatedDecisionsCheck, AnUnstatedMissingOrReorderedDecisionIsAProblem) {
  const char* reject =
      R"({"ts":1.5,"event":"reject","flow":"f","mode":"replay","dir":"c2s","verb":"PORT","reason":"port_zero",)"
      R"("line":"PORT 0"})";
  EXPECT_EQ(check(logOf({kRewrite, kPinhole, reject, kClose, kStats})).size(), 1u);
  EXPECT_EQ(check(logOf({kRewrite, kClose, kStats})).size(), 1u);
  EXPECT_EQ(check(logOf({kPinhole, kRewrite, kClose, kStats})).size(), 1u);
}

TEST(StatedDecisionsCheck, AStatedValueThatDiffersInTextOrTypeIsAProblem) {
  std::string otherTarget = kPinhole;
  otherTarget.replace(otherTarget.find("192.168.77.10:50000"), 19, "192.168.77.10:50001");
  EXPECT_EQ(check({kRewrite, otherTarget, kClose, kStats}).size(), 1u);
  std::string noNat = kPinhole;
  noNat.replace(noNat.find(R"("192.168.77.10:50000")"), 21, "null");
  EXPECT_EQ(check({kRewrite, noNat, kClose, kStats}).size(), 1u);
}

TEST(StatedDecisionsCheck, OnlyTheStatedCountersArePinned) {
  EXPECT_TRUE(check(logOf({kRewrite, kPinhole, kClose,
                           R"({"event":"stats","flow":null,"rewrites":1,"rejects":7,"packets_seen":99})"}))
                  .empty());
  EXPECT_EQ(
      check(logOf({kRewrite, kPinhole, kClose, R"({"event":"stats","flow":null,"rewrites":2})"})).size(), 1u);
  // expected.jsonl has no stats line: not required there, required in a fresh replay log.
  EXPECT_TRUE(check(logOf({kRewrite, kPinhole, kClose}), /*statsRequired=*/false).empty());
  EXPECT_EQ(check(logOf({kRewrite, kPinhole, kClose})).size(), 1u);
}

TEST(StatedDecisionsCheck, AStatementLackingARequiredKeyOrNamingAnUnknownOneIsRefused) {
  ScratchDirectory scratch;
  const auto refusedStatement = [&](const std::string& line) {
    std::ofstream(scratch.path() / "decisions.jsonl") << line << "\n";
    std::vector<std::string> problems;
    const bool loaded = loadStatedDecisions(scratch.path(), problems).has_value();
    return !loaded && !problems.empty();
  };
  EXPECT_FALSE(refusedStatement(R"({"event":"session_close","reason":"fin"})"));
  EXPECT_TRUE(refusedStatement(R"({"event":"pinhole","from":"a","to":"b"})"));
  EXPECT_TRUE(refusedStatement(R"({"event":"session_close","reason":"fin","why":"x"})"));
  EXPECT_TRUE(refusedStatement(R"({"event":"no_such_event"})"));
  EXPECT_TRUE(refusedStatement(R"({"rule":"each_announcement","dir":"c2s","verb":"PORT","count":2})"));
  std::error_code ignored;
  fs::remove(scratch.path() / "decisions.jsonl", ignored);
  std::vector<std::string> problems;
  EXPECT_FALSE(loadStatedDecisions(scratch.path(), problems).has_value());
  EXPECT_EQ(problems.size(), 1u);
}

TEST(StatedDecisionsCheck, ARuleCountsTheAnnouncementsOfTheInputCapture) {
  // real-vsftpd-curl-port: curl sends two PORTs (LIST, RETR); the rule must find exactly those.
  const fs::path caseDir = kFixtures / "real-vsftpd-curl-port";
  std::vector<std::string> problems;
  auto stated = loadStatedDecisions(caseDir, problems);
  ASSERT_TRUE(stated.has_value()) << (problems.empty() ? "" : problems.front());
  ASSERT_TRUE(stated->rule.has_value());
  const CaptureContents input = readCapture(caseDir / "input.pcap", {21});
  const std::vector<std::string> expected = readLines(caseDir / "expected.jsonl");
  EXPECT_TRUE(checkDecisions(*stated, expected, input, LogCheck{.statsLineRequired = false}).empty());
  stated->rule->at("count").text = "3";
  EXPECT_EQ(checkDecisions(*stated, expected, input, LogCheck{.statsLineRequired = false}).size(), 1u);
}

// scripts/update-golden.sh's gate: golden_check exits 0 for a log that agrees with the case's
// statement and 1 (naming the problem) for one that contradicts it.
TEST(GoldenCheckTool, ExitsOneForALogThatContradictsTheStatement) {
  ScratchDirectory scratch;
  const fs::path caseDir = kFixtures / "refuse-port-below-floor";
  std::string log = readFile(caseDir / "expected.jsonl");
  const fs::path agreeing = scratch.path() / "agreeing.jsonl";
  std::ofstream(agreeing) << log;
  EXPECT_EQ(runProgram(kGoldenCheck, {caseDir.string(), agreeing.string()}, scratch.path()).exitStatus, 0);
  const std::size_t at = log.find("port_below_floor");
  ASSERT_NE(at, std::string::npos);
  log.replace(at, std::string("port_below_floor").size(), "port_zero");
  const fs::path contradicting = scratch.path() / "contradicting.jsonl";
  std::ofstream(contradicting) << log;
  const ProcessResult run =
      runProgram(kGoldenCheck, {caseDir.string(), contradicting.string()}, scratch.path());
  EXPECT_EQ(run.exitStatus, 1);
  EXPECT_NE(run.standardError.find("port_zero"), std::string::npos) << run.standardError;
}

class GoldenKernelModel : public ::testing::TestWithParam<std::string> {};

// Every record's IP packet (empty for a record that is not IP).
std::vector<std::vector<std::uint8_t>> readPackets(const fs::path& path) {
  std::vector<std::vector<std::uint8_t>> packets;
  auto source = io::PcapSource::open(path.string());
  if (!source) return packets;
  for (;;) {
    auto next = source.value()->next();
    if (!next || !next.value()) return packets;
    packets.emplace_back(next.value()->ipPacket.begin(), next.value()->ipPacket.end());
  }
}

// Equal, or both segments without stream bytes that differ only in seq.
bool equivalent(const std::vector<std::uint8_t>& engine, const std::vector<std::uint8_t>& kernel) {
  if (engine == kernel) return true;
  const auto a = PacketView::parse(engine);
  const auto b = PacketView::parse(kernel);
  if (!a || !b) return false;
  const auto carriesStream = [](const PacketView& p) {
    return !p.payload().empty() || p.hasFlag(tcp_flags::kSyn) || p.hasFlag(tcp_flags::kFin);
  };
  if (carriesStream(*a) || carriesStream(*b)) return false;
  PacketEdit edit;
  edit.seq = a->seq();
  return rewritePacket(*b, edit) == rewritePacket(*a, PacketEdit{});
}

std::uint64_t droppedIn(const fs::path& log) {
  std::uint64_t dropped = 0;
  for (const std::string& line : readLines(log)) {
    const auto object = parseFlatJson(line);
    if (object && textOf(*object, "event") == "stats" && object->count("packets_dropped") != 0) {
      dropped = std::stoull(textOf(*object, "packets_dropped"));
    }
  }
  return dropped;
}

TEST_P(GoldenKernelModel, OutputEqualsTheEngineOwnedReplay) {
  const fs::path caseDir = kFixtures / GetParam();
  if (fs::exists(caseDir / "known-issue"))
    GTEST_SKIP() << "known issue: " << readFile(caseDir / "known-issue");
  ScratchDirectory scratch;
  ASSERT_FALSE(scratch.path().empty()) << "cannot create a scratch directory";
  const std::vector<std::string> flags = caseFlags(caseDir);
  std::vector<std::vector<std::uint8_t>> outputs[2];
  for (int kernel = 0; kernel < 2; ++kernel) {
    const std::string name = kernel ? "kernel" : "engine";
    const fs::path outPath = scratch.path() / (name + ".pcap");
    std::vector<std::string> arguments{"replay",
                                       "--in",
                                       (caseDir / "input.pcap").string(),
                                       "--out",
                                       outPath.string(),
                                       "--log",
                                       (scratch.path() / (name + ".jsonl")).string()};
    arguments.insert(arguments.end(), flags.begin(), flags.end());
    if (kernel) arguments.push_back("--kernel-seqadj");
    const ProcessResult run = runBinary(arguments, scratch.path());
    ASSERT_EQ(run.exitStatus, 0) << "ftpalg replay (" << name << ") failed for " << GetParam() << ":\n"
                                 << run.standardError;
    outputs[kernel] = readPackets(outPath);
  }
  const std::uint64_t dropped = droppedIn(scratch.path() / "kernel.jsonl");
  std::uint64_t skipped = 0;
  std::size_t e = 0, k = 0;
  while (e < outputs[0].size() && k < outputs[1].size()) {
    if (equivalent(outputs[0][e], outputs[1][k])) {
      ++e;
      ++k;
    } else if (skipped < dropped) {
      ++skipped;  // the engine-owned output's packet that the kernel mode dropped
      ++e;
    } else {
      break;
    }
  }
  skipped += outputs[0].size() - e;
  EXPECT_TRUE(k == outputs[1].size() && skipped == dropped)
      << GetParam() << ": the kernel-model output differs from the engine-owned one at its packet " << (k + 1)
      << " (engine-owned packet " << (e + 1) << "; " << dropped << " dropped by the kernel mode)";
  if (HasFailure()) {
    scratch.keep();
    std::cerr << "kept " << scratch.path() << " (engine.pcap, kernel.pcap, their logs) for inspection\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenKernelModel, ::testing::ValuesIn(fixtureCases()), testName);

// ---- command-line behaviour that needs the binary ---------------------------------------------

std::string anyFixtureInput() {
  const auto cases = caseDirectories(kFixtures);
  return cases.empty() ? std::string() : (kFixtures / cases.front() / "input.pcap").string();
}

TEST(ReplayCommandLine, TruncatedCaptureNamesThePacketAndExitsOne) {
  const std::string input = anyFixtureInput();
  ASSERT_FALSE(input.empty()) << "no fixture under " << kFixtures;
  ScratchDirectory scratch;
  const std::string bytes = readFile(input);
  ASSERT_GT(bytes.size(), 200u);
  const fs::path truncated = scratch.path() / "truncated.pcap";
  std::ofstream(truncated, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 7));
  const ProcessResult run =
      runBinary({"replay", "--in", truncated.string(), "--out", (scratch.path() / "out.pcap").string(),
                 "--log", (scratch.path() / "log.jsonl").string()},
                scratch.path());
  EXPECT_EQ(run.exitStatus, 1) << run.standardError;
  EXPECT_NE(run.standardError.find("packet "), std::string::npos) << run.standardError;
}

TEST(ReplayCommandLine, GarbageInsteadOfACaptureIsAnErrorNotACrash) {
  ScratchDirectory scratch;
  const fs::path garbage = scratch.path() / "garbage.pcap";
  std::ofstream(garbage, std::ios::binary) << std::string(1000, '\x5a');
  const ProcessResult run = runBinary(
      {"replay", "--in", garbage.string(), "--log", (scratch.path() / "log.jsonl").string()}, scratch.path());
  EXPECT_EQ(run.exitStatus, 2) << run.standardError;
  EXPECT_NE(run.standardError.find(garbage.string()), std::string::npos) << run.standardError;
}

TEST(ReplayCommandLine, BadOptionValueNamesOptionAndValueAndExitsTwo) {
  ScratchDirectory scratch;
  const ProcessResult run =
      runBinary({"replay", "--in", "x.pcap", "--snat", "192.168.77.0/33=203.0.113.1"}, scratch.path());
  EXPECT_EQ(run.exitStatus, 2);
  EXPECT_NE(run.standardError.find(
                "--snat: \"192.168.77.0/33=203.0.113.1\": prefix length 33 is out of range 0-32"),
            std::string::npos)
      << run.standardError;
}

TEST(ReplayCommandLine, UnknownOptionExitsTwo) {
  ScratchDirectory scratch;
  const ProcessResult run = runBinary({"replay", "--in", "x.pcap", "--no-such-option"}, scratch.path());
  EXPECT_EQ(run.exitStatus, 2);
  EXPECT_NE(run.standardError.find("--no-such-option"), std::string::npos) << run.standardError;
}

TEST(ReplayCommandLine, GroupWritableConfigFileIsRefused) {
  ScratchDirectory scratch;
  const fs::path config = scratch.path() / "ftpalg.conf";
  std::ofstream(config) << "data-port-floor = 2000\n";
  fs::permissions(config, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::group_write);
  const ProcessResult run =
      runBinary({"replay", "--in", "x.pcap", "--config", config.string()}, scratch.path());
  EXPECT_EQ(run.exitStatus, 2);
  EXPECT_NE(run.standardError.find("writable by group or others"), std::string::npos) << run.standardError;
}

TEST(ReplayCommandLine, ConfigFileValuesAreUsedAndCommandLineWins) {
  ScratchDirectory scratch;
  const fs::path config = scratch.path() / "ftpalg.conf";
  std::ofstream(config) << "data-port-floor = 2000\nsnat = 192.168.77.0/24=203.0.113.1\nanti-bounce = peer\n";
  fs::permissions(config, fs::perms::owner_read | fs::perms::owner_write);
  const ProcessResult run = runBinary(
      {"replay", "--in", "x.pcap", "--config", config.string(), "--anti-bounce", "strict", "--print-config"},
      scratch.path());
  ASSERT_EQ(run.exitStatus, 0) << run.standardError;
  const std::string printed = readFile(scratch.path() / "stdout.txt");
  EXPECT_NE(printed.find("data-port-floor = 2000\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("snat = 192.168.77.0/24=203.0.113.1\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("anti-bounce = strict\n"), std::string::npos) << printed;
}

TEST(ReplayCommandLine, HelpAndVersionExitZero) {
  ScratchDirectory scratch;
  EXPECT_EQ(runBinary({"--help"}, scratch.path()).exitStatus, 0);
  EXPECT_EQ(runBinary({"replay", "--help"}, scratch.path()).exitStatus, 0);
  EXPECT_NE(readFile(scratch.path() / "stdout.txt").find("--snat"), std::string::npos);
  EXPECT_EQ(runBinary({"--version"}, scratch.path()).exitStatus, 0);
  EXPECT_NE(readFile(scratch.path() / "stdout.txt").find("ftpalg "), std::string::npos);
}

}  // namespace
}  // namespace ftpalg::golden
