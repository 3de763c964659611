// Reason and counter names: the one list (include/ftpalg/engine/reasons.hpp) that the address
// codec's and the control channel's own lists are spliced into, and the list docs/log-schema.md
// gives to the people who match on these names.
#include "ftpalg/engine/reasons.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ftpalg {
namespace {

std::vector<std::string> reasonNames() {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < kReasonCount; ++i) names.emplace_back(reasonName(static_cast<Reason>(i)));
  return names;
}

std::vector<std::string> statNames() {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < static_cast<std::size_t>(Stat::Count_); ++i) {
    names.emplace_back(statName(static_cast<Stat>(i)));
  }
  return names;
}

std::string readSourceFile(const std::string& relative) {
  std::ifstream in(std::string(FTPALG_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(in.good()) << relative;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The lines of the section under `heading` (a whole "### ..." line) up to the next heading.
std::vector<std::string> sectionLines(const std::string& document, const std::string& heading) {
  std::istringstream in(document);
  std::vector<std::string> lines;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("#")) {
      if (inside) break;
      inside = line == heading;
      continue;
    }
    if (inside) lines.push_back(line);
  }
  EXPECT_TRUE(inside || !lines.empty()) << "no section " << heading;
  return lines;
}

// `code` spans of `text` that are names (snake_case), outside parentheses, in order.
std::vector<std::string> namesIn(const std::string& text) {
  std::string outside;
  int depth = 0;
  for (const char ch : text) {
    if (ch == '(') ++depth;
    if (depth == 0) outside.push_back(ch);
    if (ch == ')' && depth > 0) --depth;
  }
  std::vector<std::string> names;
  static const std::regex kName("`([a-z0-9_]+)`");
  for (auto it = std::sregex_iterator(outside.begin(), outside.end(), kName); it != std::sregex_iterator();
       ++it) {
    names.push_back((*it)[1]);
  }
  return names;
}

void expectSnakeCaseAndUnique(const std::vector<std::string>& names) {
  static const std::regex kSnake("[a-z][a-z0-9]*(_[a-z0-9]+)*");
  std::set<std::string> seen;
  for (const std::string& name : names) {
    EXPECT_TRUE(std::regex_match(name, kSnake)) << name;
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(seen.insert(name).second) << name << " is listed twice";
  }
}

TEST(Reasons, NamesAreSnakeCaseAndUnique) {
  EXPECT_EQ(reasonNames().size(), kReasonCount);
  expectSnakeCaseAndUnique(reasonNames());
  expectSnakeCaseAndUnique(statNames());
}

TEST(Reasons, EverySyntaxErrorIsLoggedUnderTheCodecsName) {
  const AddressSyntaxError all[] = {
#define FTPALG_X(name, text) AddressSyntaxError::name,
      FTPALG_ADDRESS_SYNTAX_ERRORS(FTPALG_X)
#undef FTPALG_X
  };
  for (const AddressSyntaxError error : all) {
    EXPECT_EQ(reasonName(reasonFromSyntax(error)), syntaxErrorName(error));
    LineMeaning meaning;
    meaning.kind = LineMeaning::Kind::Refused;
    meaning.refusal = ChannelRefusal::Syntax;
    meaning.syntaxError = error;
    EXPECT_EQ(reasonName(reasonFromRefusal(meaning)), syntaxErrorName(error));
  }
  EXPECT_EQ(reasonFromSyntax(AddressSyntaxError::NoNumbers), Reason::NoNumbers);
}

TEST(Reasons, EveryChannelRefusalIsLoggedUnderTheChannelsName) {
  const ChannelRefusal own[] = {
#define FTPALG_X(name, text) ChannelRefusal::name,
      FTPALG_CHANNEL_OWN_REFUSALS(FTPALG_X)
#undef FTPALG_X
  };
  for (const ChannelRefusal refusal : own) {
    LineMeaning meaning;
    meaning.kind = LineMeaning::Kind::Refused;
    meaning.refusal = refusal;
    EXPECT_EQ(reasonName(reasonFromRefusal(meaning)), channelRefusalName(refusal));
  }
  LineMeaning meaning;
  meaning.refusal = ChannelRefusal::NotTranslated;
  EXPECT_EQ(reasonFromRefusal(meaning), Reason::NotTranslated);
  // A syntax refusal that does not say which error it was is logged as bad_syntax.
  meaning.refusal = ChannelRefusal::Syntax;
  EXPECT_EQ(reasonFromRefusal(meaning), Reason::BadSyntax);
}

TEST(LogSchemaDoc, ReasonNamesListEveryReasonOnceInTheEnumsOrder) {
  const std::string schema = readSourceFile("docs/log-schema.md");
  // One bullet per event ("- `reject`: `bad_syntax`, ..."), continued on indented lines.
  std::vector<std::string> bullets;
  for (const std::string& line : sectionLines(schema, "### Reason names")) {
    if (line.starts_with("- ")) {
      bullets.push_back(line);
    } else if (line.starts_with("  ") && !bullets.empty()) {
      bullets.back() += " " + line;
    }
  }
  ASSERT_FALSE(bullets.empty());
  std::vector<std::string> documented;
  for (const std::string& bullet : bullets) {
    const auto colon = bullet.find("`:");
    ASSERT_NE(colon, std::string::npos) << bullet;
    for (const std::string& name : namesIn(bullet.substr(colon + 2))) {
      // A reason shared by two events (shutdown) is listed under each; it counts once.
      if (std::find(documented.begin(), documented.end(), name) == documented.end())
        documented.push_back(name);
    }
  }
  EXPECT_EQ(documented, reasonNames());
}

TEST(LogSchemaDoc, CountersListEveryCounterInTheStatsLinesOrder) {
  const std::string schema = readSourceFile("docs/log-schema.md");
  std::string paragraph;
  for (const std::string& line : sectionLines(schema, "### Counters (`stats`)")) {
    if (line.empty() && !paragraph.empty()) break;
    paragraph += line + " ";
  }
  // "From `FTPALG_STATS` in `reasons.hpp`, each a non-negative integer: `packets_seen`, ... ."
  const auto from = paragraph.find("integer:");
  ASSERT_NE(from, std::string::npos) << paragraph;
  const auto end = paragraph.find('.', from);
  EXPECT_EQ(namesIn(paragraph.substr(from, end - from)), statNames());
}

TEST(LogSchemaDoc, TheExampleIsTheFixtureItNames) {
  const std::string schema = readSourceFile("docs/log-schema.md");
  static const std::regex kExample("Example \\(`([^`]+)`\\):\n\n```json\n([^`]*)```");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(schema, match, kExample));
  EXPECT_EQ(match[2].str(), readSourceFile(match[1].str()))
      << "docs/log-schema.md's example differs from " << match[1];
}

}  // namespace
}  // namespace ftpalg
