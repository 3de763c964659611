// golden_check CASE_DIR LOG: checks a replay decision log of a fixture case against the decisions
// the case states (CASE_DIR/decisions.jsonl, see stated_decisions.hpp). scripts/update-golden.sh
// runs it on every proposal and refuses to write an expected.jsonl that contradicts them.
//
// Exit status: 0 the log agrees; 1 it contradicts the statement (each problem on stderr); 2 usage
// error, or the statement or the case's input capture cannot be read.
#include <iostream>

#include "golden_support.hpp"
#include "stated_decisions.hpp"

int main(int argc, char** argv) {
  using namespace ftpalg::golden;
  if (argc != 3) {
    std::cerr << "usage: golden_check CASE_DIR LOG\n";
    return 2;
  }
  const fs::path caseDir = argv[1];
  const fs::path logPath = argv[2];
  if (!fs::is_regular_file(logPath)) {
    std::cerr << "golden_check: " << logPath.string() << ": no such file\n";
    return 2;
  }
  std::vector<std::string> problems;
  const auto stated = loadStatedDecisions(caseDir, problems);
  if (!stated) {
    for (const std::string& problem : problems) std::cerr << "golden_check: " << problem << "\n";
    return 2;
  }
  const CaptureContents input = readCapture(caseDir / "input.pcap", controlPortsOf(caseFlags(caseDir)));
  if (!input.error.empty()) {
    std::cerr << "golden_check: " << (caseDir / "input.pcap").string() << ": " << input.error << "\n";
    return 2;
  }
  problems = checkDecisions(*stated, readLines(logPath), input, LogCheck{.statsLineRequired = true});
  for (const std::string& problem : problems) {
    std::cerr << "golden_check: " << caseDir.filename().string() << ": " << problem << "\n";
  }
  return problems.empty() ? 0 : 1;
}
