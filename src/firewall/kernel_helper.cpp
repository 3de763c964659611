// Kernel ftp helper check: see kernel_helper.hpp.
#include "kernel_helper.hpp"

#include <string>

#include "nft_script.hpp"
#include "run_command.hpp"

namespace ftpalg::firewall {

Result<std::vector<HelperAssignment>> kernelHelperConflicts(const std::vector<std::uint16_t>& controlPorts) {
  std::vector<HelperAssignment> all;
  auto kernel = readKernelRuleset();
  if (!kernel) return Err("reading the nft ruleset: " + kernel.error());
  for (auto& found : helperAssignmentsFromNft(kernel->ruleset, kernel->texts))
    all.push_back(std::move(found));
  for (const char* tool : {"iptables-save", "ip6tables-save"}) {
    if (const auto program = findProgram(tool)) {
      const CommandResult dump = runCommand(*program, {"-t", "raw"});
      if (dump.exitStatus == 0) {
        for (auto& found : helperAssignmentsFromIptablesSave(dump.output, tool))
          all.push_back(std::move(found));
      }
    }
  }
  return conflictingHelpers(all, controlPorts);
}

std::string kernelHelperConflictMessage(const std::vector<HelperAssignment>& conflicts) {
  std::string message =
      "the kernel's ftp conntrack helper is assigned to a control port ftpalg serves; both would rewrite "
      "the same connections (docs/admin-guide.md, \"The kernel ftp helper\"). Remove the assignment, or "
      "serve other --control-port values:";
  for (const auto& conflict : conflicts) message += "\n  " + conflict.where;
  return message;
}

Status<> checkKernelHelper(const std::vector<std::uint16_t>& controlPorts) {
  auto conflicts = kernelHelperConflicts(controlPorts);
  if (!conflicts) return Err(conflicts.error());
  if (conflicts->empty()) return okStatus();
  return Err(kernelHelperConflictMessage(*conflicts));
}

}  // namespace ftpalg::firewall
