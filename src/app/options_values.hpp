// Internals of ftpalg_options (see options.hpp): an option value as written, where it came from,
// the error every bad value raises, and the parsers that validate one value. Each parser either
// returns the value or throws UsageError naming the option (for a config file also the file and
// line), quoting the value and saying what is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app_config.hpp"

namespace ftpalg::app::cli {

// The first validation error, turned into Err by parseCommandLine.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The command line (empty file) or one line of the --config file.
struct Origin {
  std::string file;
  std::size_t line = 0;
};

// How errors name an option: "--queue" on the command line, "FILE:LINE: queue" in a file.
std::string optionAt(const Origin& origin, std::string_view option);

// How a message mentions another option in the same place: "--queue" or "queue".
std::string spelled(const Origin& origin, std::string_view option);

// One value of one option, as written.
struct Value {
  std::string_view option;  // the table's name
  std::string text;
  Origin origin;
};

// The values each given option has in one source (or, after merging, the values stored), by name.
using Given = std::map<std::string_view, std::vector<Value>>;

// Throws UsageError: `option at origin: "text": reason`.
[[noreturn]] void fail(const Value& value, std::string_view reason);

// Strict decimal: digits only (no sign, no spaces, no hex), within [min, max].
std::uint64_t parseNumber(const Value& value, std::uint64_t min, std::uint64_t max);

// A switch's value in a config file: the words Boost.Program_options accepts, in any case; an
// empty value means true.
bool parseBool(const Value& value);

// One of the named choices, by its exact name.
template <typename Enum>
using Choices = std::vector<std::pair<std::string_view, Enum>>;

template <typename Enum>
Enum parseChoice(const Value& value, const Choices<Enum>& choices) {
  std::string names;
  for (const auto& [name, choice] : choices) {
    if (value.text == name) return choice;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  fail(value, "expected one of: " + names);
}

// --snat CIDR=ADDRESS: a prefix and an address of one IP version, the address specified.
SnatRule parseSnat(const Value& value);

// --dnat ADDRESS:PORT=ADDRESS:PORT: two endpoints of one IP version, ports 1-65535.
DnatRule parseDnat(const Value& value);

}  // namespace ftpalg::app::cli
