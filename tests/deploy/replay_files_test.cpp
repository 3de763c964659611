// `ftpalg replay` and its files, through the built binary: an --out or --log that is the capture
// itself (by another name, a symbolic or hard link, or standard input) is refused with exit
// status 2 before anything is written, and the capture is left intact; a decision log that
// cannot be written makes replay exit with status 1 (not 0) and say why.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class ReplayFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ftpalg-replay-files-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    fs::create_directory(dir_ / "w");
    fs::copy_file(fs::path(FTPALG_SOURCE_DIR) / "pcap-fixtures/nat-active-port-snat/input.pcap", capture());
    original_ = readFile(capture());
    ASSERT_GT(original_.size(), 100u);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path capture() const { return dir_ / "w" / "in.pcap"; }

  // Runs `ftpalg replay ARGS` in the scratch directory (shell redirections allowed in `args`);
  // returns the exit status, standard error in stderr_.
  int replay(const std::string& args) {
    const std::string command = "cd " + quote(dir_.string()) + " && " + quote(FTPALG_BINARY) +
                                " replay --snat 192.168.77.0/24=203.0.113.1 " + args + " 2>" +
                                quote((dir_ / "stderr.txt").string());
    const int status = std::system(command.c_str());
    stderr_ = readFile(dir_ / "stderr.txt");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void expectRefused(const std::string& args, const std::string& option) {
    SCOPED_TRACE(args);
    EXPECT_EQ(replay(args), 2) << stderr_;
    EXPECT_NE(stderr_.find("ftpalg: error: " + option + ": "), std::string::npos) << stderr_;
    EXPECT_NE(stderr_.find("is the same file as --in"), std::string::npos) << stderr_;
    EXPECT_EQ(readFile(capture()), original_) << "the capture was changed";
  }

  fs::path dir_;
  std::string original_;
  std::string stderr_;
};

TEST_F(ReplayFiles, AnotherNameOfTheCaptureIsRefused) {
  expectRefused("--in w/in.pcap --out /dev/null --log ./w/in.pcap", "--log");
  expectRefused("--in w/in.pcap --out ./w/../w/in.pcap --log /dev/null", "--out");
}

TEST_F(ReplayFiles, LinksToTheCaptureAreRefused) {
  fs::create_symlink("in.pcap", dir_ / "w" / "symlink.pcap");
  fs::create_hard_link(capture(), dir_ / "w" / "hardlink.pcap");
  expectRefused("--in w/in.pcap --out /dev/null --log w/symlink.pcap", "--log");
  expectRefused("--in w/in.pcap --out w/hardlink.pcap --log /dev/null", "--out");
  expectRefused("--in w/symlink.pcap --out /dev/null --log w/hardlink.pcap", "--log");
}

TEST_F(ReplayFiles, TheCaptureOnStandardInputIsRecognised) {
  expectRefused("--in - --out /dev/null --log w/in.pcap < w/in.pcap", "--log");
}

TEST_F(ReplayFiles, OutAndLogNamingOneNewFileAreRefused) {
  EXPECT_EQ(replay("--in w/in.pcap --out w/new.pcap --log ./w/new.pcap"), 2) << stderr_;
  EXPECT_NE(stderr_.find("--log: \"./w/new.pcap\" is the same file as --out"), std::string::npos) << stderr_;
}

TEST_F(ReplayFiles, DistinctFilesStillWork) {
  EXPECT_EQ(replay("--in w/in.pcap --out w/out.pcap --log w/log.jsonl"), 0) << stderr_;
  EXPECT_NE(readFile(dir_ / "w" / "log.jsonl").find("\"event\":\"rewrite\""), std::string::npos);
  EXPECT_EQ(readFile(capture()), original_);
}

TEST_F(ReplayFiles, AnUnwritableLogIsAFailure) {
  EXPECT_EQ(replay("--in w/in.pcap --out /dev/null --log /dev/full"), 1) << stderr_;
  EXPECT_NE(stderr_.find("ftpalg: error: --log: write error on \"/dev/full\": No space left on device"),
            std::string::npos)
      << stderr_;
  // Standard output that cannot be written: the same.
  EXPECT_EQ(replay("--in w/in.pcap --out w/out.pcap --log - >/dev/full"), 1) << stderr_;
  EXPECT_NE(stderr_.find("write error on \"-\": No space left on device"), std::string::npos) << stderr_;
}

}  // namespace
