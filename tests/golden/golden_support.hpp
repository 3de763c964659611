// What the golden tests (golden_test.cpp) and the golden_check tool share: the fixture files, the
// decision log's flat JSON, and captures reassembled independently of the engine (first-seen
// bytes win, by sequence number).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/seq_num.hpp"
#include "ftpalg/packet/packet_view.hpp"

namespace ftpalg::golden {

namespace fs = std::filesystem;

// ---- files ----------------------------------------------------------------------------------

std::vector<std::string> readLines(const fs::path& path);
std::string readFile(const fs::path& path);

// Extra replay options of a case: one option per line ("--snat=CIDR=ADDRESS" or
// "--snat CIDR=ADDRESS"), split at blanks into arguments (no quoting: no option value holds a
// blank); blank lines and '#' comments ignored. scripts/update-golden.sh reads them the same way.
std::vector<std::string> caseFlags(const fs::path& caseDir);

// The control ports a case's flags name (--control-port=N or --control-port N); default 21.
std::set<std::uint16_t> controlPortsOf(const std::vector<std::string>& flags);

// pcap-fixtures/cases.list: every case name, one per line ('#' comments), written by
// scripts/make-fixtures.sh from the generators' registry and the real-capture list. nullopt when
// the file is missing.
std::optional<std::vector<std::string>> listedCases(const fs::path& fixturesDir);

// The directories under the fixtures directory that are cases (all but generators/).
std::vector<std::string> caseDirectories(const fs::path& fixturesDir);

// ---- the decision log -----------------------------------------------------------------------

// One value of a flat JSON object: a decoded string, or the text of a number, null, true, false.
struct JsonValue {
  std::string text;
  bool isString = false;
  friend bool operator==(const JsonValue&, const JsonValue&) = default;
};
using FlatObject = std::map<std::string, JsonValue>;

// A flat JSON object as the JSON-lines log writes it (docs/log-schema.md); nullopt on anything
// else (nesting, arrays, bad escapes, trailing text).
std::optional<FlatObject> parseFlatJson(std::string_view text);

// The object's value for `key` as text ("" when absent).
std::string textOf(const FlatObject& object, const std::string& key);

// The object in JSON notation (keys sorted), for messages.
std::string describeObject(const FlatObject& object);

// The log's `stats` line is not pinned by expected.jsonl (the stated decisions pin the counters a
// case is about): true for that line.
bool isStatsLine(const std::string& line);

// Inverse of escapeLine (include/ftpalg/engine/escape.hpp): "\\\\" -> '\\', "\\xHH" -> byte.
std::string unescapeLine(std::string_view text);

std::optional<FlowKey> parseFlow(std::string_view text);

// ---- captures -------------------------------------------------------------------------------

// One direction of one TCP connection: source and destination endpoint.
using DirectionKey = std::pair<Endpoint, Endpoint>;

// Reassembles payload bytes by sequence number; the first-seen byte at each offset wins.
class StreamAssembler {
 public:
  void add(const PacketView& view);
  // Bytes that a retransmission or overlap sent differently from the first copy.
  std::size_t conflictingBytes() const { return conflictingBytes_; }
  // The stream; a hole (bytes never seen) is shown as "<hole>".
  std::string text() const;
  bool sawRst() const { return sawRst_; }
  bool sawFin() const { return sawFin_; }

 private:
  bool started_ = false;
  bool sawRst_ = false;
  bool sawFin_ = false;
  SeqUnwrapper unwrapper_;
  std::string bytes_;
  std::vector<bool> filled_;
  std::size_t conflictingBytes_ = 0;
};

struct CaptureContents {
  int linkType = -1;
  std::size_t records = 0;
  std::map<DirectionKey, StreamAssembler> controlStreams;
  std::vector<std::string> badChecksumPackets;  // complete TCP packets whose checksums fail
  std::set<std::uint16_t> controlPorts;
  std::string error;

  // The control connections: each client -> server direction (its destination port is a
  // control port), in endpoint order.
  std::vector<DirectionKey> connections() const;
};

CaptureContents readCapture(const fs::path& path, const std::set<std::uint16_t>& controlPorts);

// The lines of a stream (split at LF, a trailing CR removed; an unterminated tail is a line too).
std::vector<std::string> streamLines(const std::string& stream);

}  // namespace ftpalg::golden
