// --dry-run's copy rules: see copy_rules.hpp.
#include "copy_rules.hpp"

namespace ftpalg::firewall {

std::string nftCopyTableScript(const CopyRuleSpec& spec, std::string_view owner) {
  std::string ports;
  for (const auto port : spec.controlPorts) ports += (ports.empty() ? "" : ", ") + std::to_string(port);
  const std::string group = std::to_string(spec.group);
  return "table inet " + spec.table + " {\n" + "  comment \"ftpalg pid=" + std::string(owner) + "\"\n" +
         "  chain c2s {\n" + "    type filter hook forward priority mangle; policy accept;\n" +
         "    tcp dport { " + ports + " } log group " + group + "\n" + "  }\n" + "  chain s2c {\n" +
         "    type filter hook prerouting priority raw; policy accept;\n" + "    tcp sport { " + ports +
         " } log group " + group + "\n" + "  }\n" + "}\n";
}

}  // namespace ftpalg::firewall
