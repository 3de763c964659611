// Exit statuses: the values scripts and systemd see (docs/replay.md "Exit status and errors",
// docs/admin-guide.md) and the help paragraph built from the list.
#include "app/exit_code.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace ftpalg::app {
namespace {

TEST(ExitCode, ValuesAreTheDocumentedStatuses) {
  EXPECT_EQ(exitStatus(ExitCode::Success), 0);
  EXPECT_EQ(exitStatus(ExitCode::Failed), 1);
  EXPECT_EQ(exitStatus(ExitCode::BadOptions), 2);
}

TEST(ExitCode, HelpParagraphIsTheOneFtpalgHelpHasAlwaysPrinted) {
  EXPECT_EQ(exitStatusHelp(),
            "Exit status: 0 success, 1 processing failed or stopped early, 2 bad options or config, or\n"
            "an input/output/log file that cannot be opened (nothing processed).\n");
}

TEST(ExitCode, HelpParagraphWrapsAtTheGivenWidthWithoutLosingAWord) {
  const std::string narrow = exitStatusHelp(30);
  std::istringstream lines(narrow);
  std::string joined;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size(), 30u) << line;
    EXPECT_FALSE(line.empty());
    joined += (joined.empty() ? "" : " ") + line;
  }
  std::string oneLine = exitStatusHelp(1000);
  ASSERT_EQ(oneLine.back(), '\n');
  oneLine.pop_back();
  EXPECT_EQ(oneLine.find('\n'), std::string::npos);
  EXPECT_EQ(joined, oneLine);
}

}  // namespace
}  // namespace ftpalg::app
