// The daemon's message lines (src/log/diagnostics.hpp): the level on every line, in the form the
// reader needs: "ftpalg: LEVEL: " on a terminal or file, the "<N>" priority prefix of sd-daemon(3)
// when standard error is the journal. The priorities are RFC 5424's: error 3, warning 4,
// notice 5, info 6, debug 7.
#include "log/diagnostics.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace ftpalg::log {
namespace {

TEST(Diagnostics, PlainLinesNameProgramAndLevel) {
  EXPECT_EQ(formatDiagnostic(StderrStyle::Plain, Severity::Warning, "queue 0: overrun"),
            "ftpalg: warning: queue 0: overrun\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Plain, Severity::Info, "running"), "ftpalg: info: running\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Plain, Severity::Error, "x"), "ftpalg: error: x\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Plain, Severity::Notice, "x"), "ftpalg: notice: x\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Plain, Severity::Debug, "x"), "ftpalg: debug: x\n");
}

TEST(Diagnostics, JournalLinesCarryTheSyslogPriority) {
  EXPECT_EQ(formatDiagnostic(StderrStyle::Journal, Severity::Error, "run: bad"), "<3>run: bad\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Journal, Severity::Warning, "w"), "<4>w\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Journal, Severity::Notice, "n"), "<5>n\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Journal, Severity::Info, "i"), "<6>i\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Journal, Severity::Debug, "d"), "<7>d\n");
}

TEST(Diagnostics, EveryLineOfAMultiLineMessageHasItsLevel) {
  EXPECT_EQ(formatDiagnostic(StderrStyle::Journal, Severity::Warning, "first\nsecond"),
            "<4>first\n<4>second\n");
  EXPECT_EQ(formatDiagnostic(StderrStyle::Plain, Severity::Error, "a\nb\n"),
            "ftpalg: error: a\nftpalg: error: b\n");
}

// JOURNAL_STREAM names standard error's "device:inode" when systemd connected it to the journal;
// a value naming another file (inherited by a child whose stderr was redirected) does not count.
class JournalStream : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("JOURNAL_STREAM")) saved_ = old;
  }
  void TearDown() override {
    if (saved_) {
      ::setenv("JOURNAL_STREAM", saved_->c_str(), 1);
    } else {
      ::unsetenv("JOURNAL_STREAM");
    }
  }
  std::optional<std::string> saved_;
};

TEST_F(JournalStream, MatchingStandardErrorIsTheJournal) {
  struct stat info {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &info), 0);
  const std::string device = std::to_string(info.st_dev);
  const std::string inode = std::to_string(info.st_ino);
  ::setenv("JOURNAL_STREAM", (device + ":" + inode).c_str(), 1);
  EXPECT_EQ(detectStderrStyle(), StderrStyle::Journal);
  ::setenv("JOURNAL_STREAM", (device + ":" + std::to_string(info.st_ino + 1)).c_str(), 1);
  EXPECT_EQ(detectStderrStyle(), StderrStyle::Plain);
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_EQ(detectStderrStyle(), StderrStyle::Plain);
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_EQ(detectStderrStyle(), StderrStyle::Plain);
}

}  // namespace
}  // namespace ftpalg::log
