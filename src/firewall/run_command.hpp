// Running the firewall programs (iptables-save, iptables-restore, ...): fork/execve with an
// argument vector, never a shell, at start-up and shutdown only, never on the packet path.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ftpalg::firewall {

using Argv = std::vector<std::string>;

struct CommandResult {
  int exitStatus = -1;     // -1: could not run; 128 + N: killed by signal N
  std::string output;      // stdout + stderr, trimmed
  bool truncated = false;  // the output exceeded the kept maximum (16 MiB); `output` is its start
};

// fork/execve(program, args) with a clean environment (PATH, LC_ALL=C); `input` is the child's
// standard input (empty: /dev/null). Waits at most `timeoutSeconds`, then kills the child.
CommandResult runCommand(const std::string& program, const Argv& args, std::string_view input = {},
                         int timeoutSeconds = 15);

// The first executable `name` among the usual sbin and bin directories, e.g.
// findProgram("iptables-restore") -> "/usr/sbin/iptables-restore".
std::optional<std::string> findProgram(std::string_view name);

}  // namespace ftpalg::firewall
