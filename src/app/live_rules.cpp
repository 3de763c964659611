#include "live_rules.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <sstream>

#include "backend/nft_backend.hpp"

namespace ftpalg::app {

namespace {

// Byte range [lo, hi] of the last address byte that queue `index` of `count` serves.
std::pair<unsigned, unsigned> shareOf(unsigned index, unsigned count) {
  const unsigned lo = 256 * index / count;
  const unsigned hi = 256 * (index + 1) / count - 1;
  return {lo, hi};
}

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

QueueRuleSpec queueRuleSpec(const AppConfig& config) {
  QueueRuleSpec spec;
  spec.controlPorts = config.controlPorts;
  spec.queueNum = config.run.queueNum;
  spec.queueCount = std::max<std::uint16_t>(1, config.run.queueCount);
  spec.bypass = config.run.failOpen;
  return spec;
}

std::vector<Argv> iptablesInstallCommands(const QueueRuleSpec& spec, bool ipv6) {
  std::vector<Argv> commands;
  const std::string c2s(kChainC2s);
  const std::string s2c(kChainS2c);
  commands.push_back({"-w", "-t", "mangle", "-N", c2s});
  commands.push_back({"-w", "-t", "raw", "-N", s2c});
  // Offsets of the last 32-bit word of the destination / source address in the IP header.
  const std::string dstWord = ipv6 ? "36" : "16";
  const std::string srcWord = ipv6 ? "20" : "12";
  for (const std::uint16_t port : spec.controlPorts) {
    for (unsigned i = 0; i < spec.queueCount; ++i) {
      const std::uint16_t queue = static_cast<std::uint16_t>(spec.queueNum + i);
      for (const bool toServer : {true, false}) {
        Argv rule{"-w", "-t", toServer ? "mangle" : "raw", "-A", toServer ? c2s : s2c, "-p", "tcp",
                  toServer ? "--dport" : "--sport", std::to_string(port)};
        if (spec.queueCount > 1) {
          const auto [lo, hi] = shareOf(i, spec.queueCount);
          rule.insert(rule.end(), {"-m", "u32", "--u32",
                                   (toServer ? dstWord : srcWord) + "&0xFF=" + std::to_string(lo) + ":" +
                                       std::to_string(hi)});
        }
        rule.insert(rule.end(), {"-j", "NFQUEUE", "--queue-num", std::to_string(queue)});
        if (spec.bypass) rule.push_back("--queue-bypass");
        commands.push_back(std::move(rule));
      }
    }
  }
  commands.push_back({"-w", "-t", "mangle", "-I", "FORWARD", "1", "-j", c2s});
  commands.push_back({"-w", "-t", "raw", "-I", "PREROUTING", "1", "-j", s2c});
  return commands;
}

std::vector<Argv> iptablesRemoveCommands() {
  const std::string c2s(kChainC2s);
  const std::string s2c(kChainS2c);
  return {
      {"-w", "-t", "mangle", "-D", "FORWARD", "-j", c2s},
      {"-w", "-t", "raw", "-D", "PREROUTING", "-j", s2c},
      {"-w", "-t", "mangle", "-F", c2s},
      {"-w", "-t", "raw", "-F", s2c},
      {"-w", "-t", "mangle", "-X", c2s},
      {"-w", "-t", "raw", "-X", s2c},
  };
}

std::string nftAcceptRule() { return "ct mark and 0x00010000 == 0x00010000 accept"; }
std::string iptablesAcceptRule() {
  return "iptables -A FORWARD -m connmark --mark 0x10000/0x10000 -j ACCEPT";
}

// --- running commands ------------------------------------------------------------------------

std::optional<std::string> findProgram(std::string_view name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/", "/usr/local/sbin/"}) {
    std::string path = std::string(dir) + std::string(name);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

CommandResult runCommand(const std::string& program, const Argv& args, int timeoutSeconds) {
  CommandResult result;
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char locale[] = "LC_ALL=C";
  char* envp[] = {path, locale, nullptr};

  const pid_t pid = ::fork();
  if (pid < 0) {
    result.output = std::string("fork: ") + std::strerror(errno);
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    return result;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until execve.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(pipeFds[1], 1);
    ::dup2(pipeFds[1], 2);
    ::execve(program.c_str(), argv.data(), envp);
    ::_exit(127);
  }
  ::close(pipeFds[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);  // the child we started, by pid
      result.output += "\n(timed out after " + std::to_string(timeoutSeconds) + " s)";
      break;
    }
    pollfd waiter{pipeFds[0], POLLIN, 0};
    const int ready = ::poll(&waiter, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t got = ::read(pipeFds[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (result.output.size() < 1 << 20) result.output.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(pipeFds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  result.output = trim(result.output);
  return result;
}

// --- kernel ftp helper detection -------------------------------------------------------------

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
      if (line.rfind("ct helper ", 0) == 0 && line.find(" set ") == std::string::npos &&
          line.back() == '{') {
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

std::vector<HelperAssignment> helperAssignmentsFromIptablesSave(std::string_view dump, std::string_view tool) {
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

}  // namespace ftpalg::app
