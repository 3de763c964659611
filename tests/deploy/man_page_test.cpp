// The documentation an admin reads against the code it describes, so they cannot drift:
//  - ftpalg.conf(5) (docs/man/ftpalg.conf.5) has one entry per config-file option of the option
//    table (src/app/options*.cpp), with the same commands, range and default;
//  - ftpalg(8) lists the exit statuses of src/app/exit_code.hpp;
//  - the sample /etc/ftpalg/ftpalg.conf (packaging/ftpalg.conf) is read by
//    `ftpalg run --config FILE --print-config`, and each "#name = value" line in it (an option
//    shown at its default) holds the real default, for every option of `run` that has one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "app/exit_code.hpp"
#include "app/options.hpp"

namespace ftpalg::app {
namespace {

const std::string kSource = FTPALG_SOURCE_DIR;

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// roff's "\-" is a plain hyphen-minus in the text.
std::string unescape(std::string text) {
  for (std::size_t at = text.find("\\-"); at != std::string::npos; at = text.find("\\-", at))
    text.erase(at, 1);
  return text;
}

struct ManEntry {
  std::vector<std::string> commands;
  std::string range;
  std::vector<std::string> defaults;
  int defaultLines = 0;
};

// The OPTIONS section's entries: ".TP", then `.BI "NAME = " VALUE`, then the "Commands:",
// "Range:" and "Default:" lines (docs/man/ftpalg.conf.5 says so in its header comment).
std::map<std::string, ManEntry> manEntries() {
  const auto lines = readLines(kSource + "/docs/man/ftpalg.conf.5");
  static const std::regex kHeader(R"re(^\.BI "([a-z\\-]+) = " )re");
  static const std::regex kBold(R"(\\fB(.*?)\\fR)");
  std::map<std::string, ManEntry> entries;
  bool inOptions = false;
  ManEntry* current = nullptr;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.starts_with(".SH")) inOptions = line == ".SH OPTIONS";
    if (!inOptions) continue;
    if (line.starts_with(".SS") || line == ".TP") current = nullptr;
    std::smatch match;
    if (i > 0 && lines[i - 1] == ".TP" && std::regex_search(line, match, kHeader)) {
      const std::string name = unescape(match[1]);
      EXPECT_EQ(entries.count(name), 0u) << "a second entry for " << name;
      current = &entries[name];
      continue;
    }
    if (current == nullptr) continue;
    if (line.starts_with("Commands: ") && line.ends_with(".")) {
      const std::string list = line.substr(10, line.size() - 11);
      for (std::size_t start = 0; start <= list.size();) {
        const std::size_t comma = list.find(", ", start);
        current->commands.push_back(list.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 2;
      }
    } else if (line.starts_with("Range: ") && line.ends_with(".")) {
      current->range = unescape(line.substr(7, line.size() - 8));
    } else if (line.starts_with("Default: ")) {
      ++current->defaultLines;
      if (line == "Default: none.") continue;
      for (auto it = std::sregex_iterator(line.begin(), line.end(), kBold); it != std::sregex_iterator();
           ++it) {
        current->defaults.push_back(unescape((*it)[1]));
      }
      EXPECT_FALSE(current->defaults.empty()) << "unreadable default: " << line;
    }
  }
  return entries;
}

TEST(ConfManPage, ListsExactlyTheConfigFileOptionsWithTheirDefaults) {
  const auto entries = manEntries();
  std::set<std::string> tableNames;
  for (const OptionDescription& option : describeOptions()) {
    if (option.commandLineOnly) continue;
    tableNames.insert(option.name);
    const auto found = entries.find(option.name);
    if (found == entries.end()) {
      ADD_FAILURE() << "ftpalg.conf(5) has no entry for option " << option.name;
      continue;
    }
    const ManEntry& entry = found->second;
    EXPECT_EQ(entry.commands, option.commands) << option.name;
    EXPECT_EQ(entry.range, option.range) << option.name;
    EXPECT_EQ(entry.defaultLines, 1) << option.name;
    EXPECT_EQ(entry.defaults, option.defaults) << option.name;
  }
  for (const auto& [name, entry] : entries) {
    EXPECT_EQ(tableNames.count(name), 1u) << "ftpalg.conf(5) describes " << name << ", which is no option";
  }
  EXPECT_GT(entries.size(), 20u);
}

// Both pages as groff reads them: no warning (the installed, gzip'd pages are checked again by
// package_test).
TEST(ManPages, RenderWithoutWarnings) {
  if (std::system("command -v man >/dev/null 2>&1") != 0) {
    // scripts/install-deps.sh installs man-db. As root (scripts/test.sh, CI) a missing tool is a
    // failure, so no run goes green by skipping; a user's plain `ctest` may skip.
    if (::geteuid() == 0) FAIL() << "man (man-db) is not installed: run scripts/install-deps.sh";
    GTEST_SKIP() << "man (man-db) is not installed";
  }
  for (const std::string page : {"ftpalg.8", "ftpalg.conf.5"}) {
    const std::string output = kSource + "/docs/man/" + page;
    const std::string command = "{ man --warnings -l '" + output + "' >/dev/null; } 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string warnings;
    char buffer[1024];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) warnings.append(buffer, n);
    EXPECT_EQ(::pclose(pipe), 0) << page;
    EXPECT_EQ(warnings, "") << page;
  }
}

TEST(CommandManPage, ListsEveryExitStatus) {
  const auto lines = readLines(kSource + "/docs/man/ftpalg.8");
  std::vector<int> documented;
  bool inExitStatus = false;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].starts_with(".SH")) inExitStatus = lines[i] == ".SH EXIT STATUS";
    if (inExitStatus && lines[i] == ".TP" && lines[i + 1].starts_with(".B ")) {
      documented.push_back(std::stoi(lines[i + 1].substr(3)));
    }
  }
  std::vector<int> coded;
#define FTPALG_X(name, status, meaning) coded.push_back(status);
  FTPALG_EXIT_CODES(FTPALG_X)
#undef FTPALG_X
  EXPECT_EQ(documented, coded);
}

// The sample config, copied to a private 0644 file (a checkout may be group-writable, which
// --config refuses), read as `ftpalg run --config FILE --print-config` reads it.
class SampleConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ftpalg-sample-conf-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "ftpalg.conf").string();
    std::filesystem::copy_file(kSource + "/packaging/ftpalg.conf", path_);
    ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SampleConfig, IsReadByRunAndItsCommentedDefaultsAreTheDefaults) {
  const char* argv[] = {"ftpalg", "run", "--config", path_.c_str(), "--print-config"};
  const auto parsed = parseCommandLine(5, argv);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_TRUE(parsed->printConfig);
  EXPECT_FALSE(formatConfig(parsed.value()).empty());

  // "#name = value": an option shown at its default ("# " starts prose).
  static const std::regex kShownDefault(R"(^#([a-z-]+) = (.*)$)");
  static const std::regex kSetting(R"(^([a-z-]+) = (.*)$)");
  std::map<std::string, std::vector<std::string>> shown;
  std::set<std::string> set;
  for (const std::string& line : readLines(path_)) {
    std::smatch match;
    if (std::regex_match(line, match, kShownDefault)) shown[match[1]].push_back(match[2]);
    if (std::regex_match(line, match, kSetting)) set.insert(match[1]);
  }
  std::map<std::string, const OptionDescription*> byName;
  const auto options = describeOptions();
  for (const OptionDescription& option : options) byName[option.name] = &option;
  for (const auto& [name, values] : shown) {
    const auto found = byName.find(name);
    ASSERT_NE(found, byName.end()) << "the sample shows " << name << ", which is no option";
    EXPECT_EQ(values, found->second->defaults) << "the sample's default of " << name;
  }
  // Complete: every option of run with a default is shown (or set, as the log's path is).
  for (const OptionDescription& option : options) {
    const bool ofRun =
        std::find(option.commands.begin(), option.commands.end(), "run") != option.commands.end();
    if (option.commandLineOnly || !ofRun || option.defaults.empty()) continue;
    // fail-closed is the other spelling of fail-open, which the sample shows.
    if (option.name == "fail-closed") continue;
    EXPECT_TRUE(shown.count(option.name) != 0 || set.count(option.name) != 0)
        << "the sample does not mention " << option.name;
  }
  EXPECT_EQ(parsed->logPath, "/var/log/ftpalg/decisions.jsonl");
}

}  // namespace
}  // namespace ftpalg::app
