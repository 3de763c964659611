// The decisions a fixture's author states, independently of the engine, and the check of a
// decision log against them (golden_test: the reviewed expected.jsonl and a fresh replay;
// golden_check: the proposal of scripts/update-golden.sh before it is written).
//
// pcap-fixtures/<case>/decisions.jsonl holds flat JSON objects, one per line, of two kinds:
//
// Explicit events (generated cases; written by pcap-fixtures/generators/decisions.py from the
// case definition): {"event":E, key:value...} for E one of rewrite (dir, verb, before, after),
// pinhole (from, to, nat_to), pinhole_close (from, to, reason), reject (dir, verb, reason, line),
// anomaly (dir, reason, inspection_stopped), opaque (reason), session_close (reason), each with an
// optional "flow"; and at most one {"event":"stats", counter:value...}.
//   Every logged event but session_open and stats is a decision. The log's decisions must be the
//   stated ones, one for one and in order; each key a statement names must carry the same value
//   (keys it leaves out, e.g. ts, mode, timeout_s, are not compared). The stats statement pins
//   only the counters it names; the rest of the stats line is not compared.
//
// One rule (real captures; written by scripts/capture-fixtures.sh from the lab's topology):
//   {"rule":"each_announcement","dir":D,"verb":V,"count":N,"from":A,"to":B,"nat_to":C|null
//    [,"replace":X,"with":Y]}
// expands, from the input capture reassembled here, into explicit events per control connection:
// the announcements are the lines of direction D whose first word is V (PORT, EPRT, 227, 229;
// case-insensitive), N of them over the whole capture. Each announcement announcing port P
// (PORT/227: the last two numbers as P1*256+P2; EPRT/229: the last number) is
//   - rewritten, if "replace" is given: the line with the first X replaced by Y (X must occur);
//   - after the connection's first: a pinhole_close {A, B:P', replaced} of the previous one (P');
//   - a pinhole {from A, to B:P, nat_to C:P or null} (an IPv6 address as [B]:P);
// and the connection ends with a pinhole_close {A, B:P, session_closed} of its last pinhole and a
// session_close: rst when the input connection carries an RST, else fin when both directions
// sent a FIN, else shutdown. The log's decisions are compared per flow, in order.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "golden_support.hpp"

namespace ftpalg::golden {

struct StatedDecisions {
  std::vector<FlatObject> events;  // explicit events, in order
  std::optional<FlatObject> stats;
  std::optional<FlatObject> rule;  // each_announcement
};

// Reads and validates <caseDir>/decisions.jsonl; on error, `problems` names the file and line.
std::optional<StatedDecisions> loadStatedDecisions(const fs::path& caseDir,
                                                   std::vector<std::string>& problems);

struct LogCheck {
  // expected.jsonl holds no stats line (isStatsLine): false there. A fresh replay log must carry
  // the stats line when the case pins counters.
  bool statsLineRequired = true;
};

// Problems of `logLines` against the statement (empty: it agrees). `input` is the case's input
// capture (for rules).
std::vector<std::string> checkDecisions(const StatedDecisions& stated,
                                        const std::vector<std::string>& logLines,
                                        const CaptureContents& input, const LogCheck& options);

}  // namespace ftpalg::golden
