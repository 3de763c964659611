// Support for the end-to-end scenario tests: runs tests/e2e/run-scenario.sh (real namespaces,
// real servers and clients, optionally `ftpalg run` on the router) and parses its result line.
//
//   RESULT pass|fail|skip reason=R topo=T ... rewrites=N pinholes=N ... dir=WORKDIR
//   DECISION <normalised decision>     (scripts/lab/logsum.py --decisions)
//
// Tests skip (GTEST_SKIP) when not root; as root, a missing `ftpalg run` and a scenario that
// reports "skip" fail (no_skip_under_root.hpp).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "no_skip_under_root.hpp"

namespace ftpalg::e2e {

inline std::string sourceDir() {
#ifdef FTPALG_SOURCE_DIR
  return FTPALG_SOURCE_DIR;
#else
  return ".";
#endif
}

// The binary under test: $FTPALG_BIN, else the one this build produced.
inline std::string ftpalgBin() {
  if (const char* env = std::getenv("FTPALG_BIN"); env != nullptr && *env != '\0') return env;
#ifdef FTPALG_BIN_PATH
  return FTPALG_BIN_PATH;
#else
  return "";
#endif
}

inline bool isRoot() { return ::geteuid() == 0; }

inline int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

inline bool ftpalgRunAvailable() {
  const std::string bin = ftpalgBin();
  if (bin.empty() || ::access(bin.c_str(), X_OK) != 0) return false;
  return shell("timeout 5 " + quote(bin) + " run --help >/dev/null 2>&1") == 0;
}

struct ScenarioResult {
  int exitCode = -1;
  std::string status;                         // pass | fail | skip | "" (no RESULT line)
  std::map<std::string, std::string> fields;  // reason, rewrites, pinholes, residue, dir, ...
  std::vector<std::string> decisions;         // DECISION lines, in order
  std::vector<std::string> checks;            // CHECK lines (scenario-pinhole.sh, check-lib.sh, ...)
  std::string output;                         // everything the runner printed

  std::string get(const std::string& key) const {
    const auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second;
  }
  int num(const std::string& key) const {
    const std::string v = get(key);
    return v.empty() ? -1 : std::atoi(v.c_str());
  }
};

inline ScenarioResult parseScenarioOutput(const std::string& output, int exitCode) {
  ScenarioResult r;
  r.exitCode = exitCode;
  r.output = output;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("CHECK ", 0) == 0) {
      r.checks.push_back(line.substr(6));
    } else if (line.rfind("DECISION ", 0) == 0) {
      r.decisions.push_back(line.substr(9));
    } else if (line.rfind("RESULT ", 0) == 0) {
      std::istringstream words(line.substr(7));
      words >> r.status;
      std::string kv;
      while (words >> kv) {
        const auto eq = kv.find('=');
        if (eq != std::string::npos) r.fields[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    }
  }
  return r;
}

// Runs tests/e2e/SCRIPT ARGUMENTS, bounded by `timeout 90` on top of the script's own watchdog
// (55-58 s), and parses its output.
inline ScenarioResult runScript(const std::string& script, const std::string& arguments,
                                const std::string& env = "") {
  const std::string command = "FTPALG_BIN=" + quote(ftpalgBin()) + " " + env + " timeout -k 5 90 " +
                              quote(sourceDir() + "/tests/e2e/" + script) + " " + arguments + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = ::pclose(pipe);
  const int code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  ScenarioResult result = parseScenarioOutput(output, code);
  // The scripts skip only for want of root or of `ftpalg run`, or when a client cannot force the
  // mode: the tests call them as root with the built binary, where each of those is a defect.
  if (result.status == "skip") {
    ADD_FAILURE() << script << " " << arguments << " skipped (" << result.get("reason")
                  << "): run as root, a scenario must pass or fail\n"
                  << output;
  }
  return result;
}

// One scenario: "TOPOLOGY SERVER CLIENT MODE [options]" (see run-scenario.sh).
inline ScenarioResult runScenario(const std::string& arguments, const std::string& env = "") {
  return runScript("run-scenario.sh", arguments, env);
}

inline std::string describe(const ScenarioResult& r) { return "runner output:\n" + r.output; }

// A CHECK-style script (tests/e2e/check-lib.sh): every CHECK line must say ok, there must be at
// least `minimum` of them, and the script must pass.
inline void expectAllChecksOk(const ScenarioResult& r, std::size_t minimum) {
  EXPECT_GE(r.checks.size(), minimum) << describe(r);
  for (const auto& c : r.checks) EXPECT_NE(c.find(" ok"), std::string::npos) << c;
  EXPECT_EQ(r.status, "pass") << describe(r);
  EXPECT_EQ(r.exitCode, 0) << describe(r);
}

// Test-name suffix for a string parameter ("pure-ftpd" -> "pure_ftpd").
inline std::string paramName(const ::testing::TestParamInfo<const char*>& param) {
  std::string n = param.param;
  for (auto& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

}  // namespace ftpalg::e2e

#define FTPALG_E2E_REQUIRE_ROOT() FTPALG_E2E_SKIP_UNLESS_ROOT("end-to-end scenarios build namespaces")

// As root, a binary without a working `run` is a failure, not a skip.
#define FTPALG_E2E_REQUIRE_FTPALG_RUN()                                            \
  do {                                                                             \
    FTPALG_E2E_REQUIRE_ROOT();                                                     \
    ASSERT_TRUE(::ftpalg::e2e::ftpalgRunAvailable())                               \
        << "`ftpalg run` is not available (" << ::ftpalg::e2e::ftpalgBin() << ")"; \
  } while (0)
