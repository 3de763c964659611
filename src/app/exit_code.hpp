// The exit status of every ftpalg command, listed once: main() and the runners return an
// ExitCode, and `ftpalg --help` prints its "Exit status" paragraph from this list
// (docs/replay.md and docs/admin-guide.md say which errors lead to which status).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ftpalg::app {

// X(name, status, meaning): meaning as the help text says it.
#define FTPALG_EXIT_CODES(X)                         \
  X(Success, 0, "success")                           \
  X(Failed, 1, "processing failed or stopped early") \
  X(BadOptions, 2,                                   \
    "bad options or config, or an input/output/log file that cannot be opened (nothing processed)")

enum class ExitCode : int {
#define FTPALG_X(name, status, meaning) name = (status),
  FTPALG_EXIT_CODES(FTPALG_X)
#undef FTPALG_X
};

// The status main() returns for `code`.
constexpr int exitStatus(ExitCode code) { return static_cast<int>(code); }

// "Exit status: 0 success, 1 ..., 2 ...." wrapped at `width` columns (the help's width), every
// line ending in '\n'.
inline std::string exitStatusHelp(std::size_t width = 90) {
  std::string sentence = "Exit status:";
  std::string_view separator = " ";
#define FTPALG_X(name, status, meaning)                                                  \
  sentence.append(separator).append(std::to_string(status)).append(" ").append(meaning); \
  separator = ", ";
  FTPALG_EXIT_CODES(FTPALG_X)
#undef FTPALG_X
  sentence.push_back('.');

  // Greedy: as many words on a line as fit in `width`.
  std::string text;
  std::size_t lineLength = 0;
  std::size_t at = 0;
  while (at < sentence.size()) {
    std::size_t end = sentence.find(' ', at);
    if (end == std::string::npos) end = sentence.size();
    const std::string_view word(sentence.data() + at, end - at);
    if (lineLength > 0 && lineLength + 1 + word.size() > width) {
      text.push_back('\n');
      lineLength = 0;
    } else if (lineLength > 0) {
      text.push_back(' ');
      ++lineLength;
    }
    text.append(word);
    lineLength += word.size();
    at = end + 1;
  }
  text.push_back('\n');
  return text;
}

}  // namespace ftpalg::app
