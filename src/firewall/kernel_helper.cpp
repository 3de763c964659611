// Kernel ftp helper check: see kernel_helper.hpp.
#include "kernel_helper.hpp"

#include <string>

#include "helper_detection.hpp"
#include "nft_script.hpp"
#include "run_command.hpp"

namespace ftpalg::firewall {

Status<> checkKernelHelper(const std::vector<std::uint16_t>& controlPorts) {
  std::vector<HelperAssignment> all;
  std::string ruleset;
  // nft list ruleset
  if (runNftScript("list ruleset", &ruleset)) {
    for (auto& found : helperAssignmentsFromNft(ruleset)) all.push_back(std::move(found));
  }
  for (const char* tool : {"iptables-save", "ip6tables-save"}) {
    if (const auto program = findProgram(tool)) {
      const CommandResult dump = runCommand(*program, {"-t", "raw"});
      if (dump.exitStatus == 0) {
        for (auto& found : helperAssignmentsFromIptablesSave(dump.output, tool))
          all.push_back(std::move(found));
      }
    }
  }
  const auto conflicts = conflictingHelpers(all, controlPorts);
  if (conflicts.empty()) return okStatus();
  std::string message =
      "the kernel's ftp conntrack helper is assigned to a control port ftpalg serves; both would rewrite "
      "the same connections (docs/admin-guide.md, \"The kernel ftp helper\"). Remove the assignment, or "
      "serve other --control-port values:";
  for (const auto& conflict : conflicts) message += "\n  " + conflict.where;
  return Err(message);
}

}  // namespace ftpalg::firewall
