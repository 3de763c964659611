// Kernel ftp helper detection as text: see helper_detection.hpp.
#include "helper_detection.hpp"

#include <cctype>
#include <charconv>
#include <sstream>

namespace ftpalg::firewall {

namespace {

std::vector<std::uint16_t> parsePortList(std::string_view text) {
  // "21", "21-22" (nft range), "21:22" (iptables range), "{ 21, 2121 }", "21,2121".
  std::vector<std::uint16_t> ports;
  std::size_t i = 0;
  auto number = [&](unsigned& value) {
    const char* begin = text.data() + i;
    const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value);
    if (ec != std::errc() || end == begin) return false;
    i += static_cast<std::size_t>(end - begin);
    return true;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      unsigned first = 0;
      unsigned last = 0;
      if (!number(first)) break;
      last = first;
      if (i < text.size() && (text[i] == '-' || text[i] == ':')) {
        ++i;
        if (!number(last)) last = first;
      }
      for (unsigned p = first; p <= last && p <= 65535 && ports.size() < 4096; ++p) {
        ports.push_back(static_cast<std::uint16_t>(p));
      }
      continue;
    }
    if (c == ' ' || c == ',' || c == '{' || c == '}' || c == '\t') {
      ++i;
      continue;
    }
    break;  // end of the port expression
  }
  return ports;
}

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

}  // namespace

std::vector<HelperAssignment> helperAssignmentsFromNft(std::string_view ruleset) {
  struct Helper {
    std::string table;
    std::string name;
  };
  std::vector<Helper> ftpHelpers;
  std::vector<std::pair<std::string, std::string>> lines;  // (table, line)
  {
    std::string table;
    std::string pendingHelper;  // inside `ct helper NAME {`
    std::istringstream in{std::string(ruleset)};
    std::string raw;
    while (std::getline(in, raw)) {
      const std::string line = trim(raw);
      if (line.rfind("table ", 0) == 0) {
        table = line.substr(6);
        if (const auto brace = table.find(" {"); brace != std::string::npos) table.resize(brace);
        continue;
      }
      if (line.rfind("ct helper ", 0) == 0 && line.find(" set ") == std::string::npos && line.back() == '{') {
        pendingHelper = trim(line.substr(10, line.size() - 11));
        continue;
      }
      if (!pendingHelper.empty()) {
        if (line.rfind("type ", 0) == 0) {
          if (line.find("\"ftp\"") != std::string::npos) ftpHelpers.push_back({table, pendingHelper});
        }
        if (line == "}") pendingHelper.clear();
        continue;
      }
      lines.emplace_back(table, line);
    }
  }
  std::vector<HelperAssignment> found;
  for (const auto& [table, line] : lines) {
    const auto set = line.find("ct helper set ");
    if (set == std::string::npos) continue;
    std::string name = line.substr(set + 14);
    if (const auto space = name.find(' '); space != std::string::npos) name.resize(space);
    if (!name.empty() && name.front() == '"') name = name.substr(1, name.find('"', 1) - 1);
    bool isFtp = false;
    for (const Helper& helper : ftpHelpers) {
      if (helper.table == table && helper.name == name) isFtp = true;
    }
    if (!isFtp) continue;
    HelperAssignment assignment;
    assignment.where = "nft table " + table + ", ct helper \"" + name + "\" assigned by rule: " + line;
    if (const auto dport = line.find("dport "); dport != std::string::npos && dport < set) {
      assignment.ports = parsePortList(std::string_view(line).substr(dport + 6));
    }
    found.push_back(std::move(assignment));
  }
  return found;
}

std::vector<HelperAssignment> helperAssignmentsFromIptablesSave(std::string_view dump,
                                                                std::string_view tool) {
  std::vector<HelperAssignment> found;
  std::istringstream in{std::string(dump)};
  std::string line;
  std::string table;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '*') table = line.substr(1);
    if (line.rfind("-A ", 0) != 0) continue;
    if (line.find("-j CT") == std::string::npos || line.find("--helper ftp") == std::string::npos) continue;
    HelperAssignment assignment;
    assignment.where = std::string(tool) + " -t " + table + ": " + line;
    for (const std::string_view option : {"--dport ", "--dports "}) {
      if (const auto at = line.find(option); at != std::string::npos) {
        assignment.ports = parsePortList(std::string_view(line).substr(at + option.size()));
      }
    }
    found.push_back(std::move(assignment));
  }
  return found;
}

std::vector<HelperAssignment> conflictingHelpers(const std::vector<HelperAssignment>& all,
                                                 const std::vector<std::uint16_t>& controlPorts) {
  std::vector<HelperAssignment> conflicts;
  for (const auto& assignment : all) {
    bool covers = assignment.ports.empty();
    for (const std::uint16_t port : assignment.ports) {
      for (const std::uint16_t control : controlPorts) covers = covers || port == control;
    }
    if (covers) conflicts.push_back(assignment);
  }
  return conflicts;
}

}  // namespace ftpalg::firewall
