// The anchor as text: see anchor_rules.hpp.
#include "anchor_rules.hpp"

#include <sstream>

namespace ftpalg::firewall {

namespace {

std::string helperObject(std::string_view name) {
  return "ct helper " + std::string(name) + " { type \"" + std::string(kAnchorHelperType) +
         "\" protocol tcp; l3proto inet; }";
}

}  // namespace

std::string nftAnchorDefinitions(const AnchorSpec& spec) {
  std::string ports;
  for (const std::uint16_t port : spec.controlPorts)
    ports += (ports.empty() ? "" : ", ") + std::to_string(port);
  std::ostringstream out;
  // nft 1.0.6 needs the chain's closing brace on a line of its own after a rule.
  out << "  " << helperObject(kAnchorHelperObject) << "\n"
      << "  chain " << kAnchorChain << " { type filter hook prerouting priority mangle; policy accept;\n"
      << "    tcp dport { " << ports << " } ct state new ct helper set \"" << kAnchorHelperObject
      << "\" ct mark set ct mark or " << nftMarkText(spec.controlMark) << "\n"
      << "  }\n";
  return out.str();
}

std::string nftAnchorProbeScript() {
  return "table inet ftpalg_probe {\n  " + helperObject("probe") + "\n}\n";
}

}  // namespace ftpalg::firewall
