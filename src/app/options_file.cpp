// The --config file reader (see options_file.hpp).
#include "options_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "options_table.hpp"

namespace ftpalg::app::cli {

namespace {

// Refuses files others could have written: options decide what the firewall admits.
void checkConfigFileSafety(const Value& path) {
  struct stat info {};
  if (::stat(path.text.c_str(), &info) != 0) fail(path, std::string("cannot read: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) fail(path, "not a regular file");
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    fail(path, std::string("writable by group or others (mode ") + mode + "); refusing it (chmod go-w)");
  }
  if (info.st_uid != 0 && info.st_uid != ::geteuid()) {
    fail(path, "owned by uid " + std::to_string(info.st_uid) + ", neither root nor the user running ftpalg");
  }
}

std::string_view trimmed(std::string_view text) {
  constexpr std::string_view blanks = " \t\r";
  const std::size_t first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

// A comment runs from a '#' at the start of the line or after a blank to the end of the line; a
// '#' inside a word (a path "/var/log/a#b") is kept.
std::string_view withoutComment(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return line.substr(0, i);
  }
  return line;
}

}  // namespace

Given readConfigFile(const Value& path, Command command) {
  checkConfigFileSafety(path);
  std::ifstream file(path.text);
  if (!file) fail(path, std::string("cannot read: ") + std::strerror(errno));
  Given values;
  std::string line;
  for (std::size_t number = 1; std::getline(file, line); ++number) {
    const Origin origin{path.text, number};
    const std::string_view content = trimmed(withoutComment(line));
    if (content.empty()) continue;
    const std::size_t equals = content.find('=');
    const std::string_view name = trimmed(content.substr(0, equals));
    if (equals == std::string_view::npos || name.empty()) {
      throw UsageError(path.text + ":" + std::to_string(number) + ": \"" + std::string(content) +
                       "\": expected \"name = value\"");
    }
    const Option* option = findOption(name);
    if (option == nullptr) {
      const bool dashed = name.starts_with("--") && findOption(name.substr(2)) != nullptr;
      throw UsageError(optionAt(origin, name) + ": unknown option" +
                       (dashed ? "; write the name without \"--\""
                               : " (see ftpalg " + std::string(commandName(command)) + " --help)"));
    }
    if (option->commandLineOnly)
      throw UsageError(optionAt(origin, name) + ": allowed on the command line only");
    if (!option->appliesTo(command)) continue;
    Value value{option->name, std::string(trimmed(content.substr(equals + 1))), origin};
    std::vector<Value>& earlier = values[option->name];
    if (!earlier.empty() && option->arity != Arity::Repeated) {
      fail(value,
           "a second value (the first is at line " + std::to_string(earlier.front().origin.line) + ")");
    }
    earlier.push_back(std::move(value));
  }
  if (file.bad()) fail(path, std::string("read error: ") + std::strerror(errno));
  return values;
}

}  // namespace ftpalg::app::cli
