// The pinhole table script and the accept rule: see pinhole_rules.hpp.
#include "pinhole_rules.hpp"

#include <charconv>
#include <sstream>

namespace ftpalg::firewall {

std::string nftTableScript(const NftTableSpec& spec, std::string_view owner) {
  const std::string mark = nftMarkText(spec.mark);
  const std::string size = std::to_string(spec.armedSetSize);
  std::ostringstream out;
  out << "table inet " << spec.table << " {\n"
      << "  comment \"ftpalg pid=" << owner << "\"\n";
  if (spec.anchor) out << nftAnchorDefinitions(*spec.anchor);
  if (!spec.pinholeMaps) {
    out << "}\n";
    return out.str();
  }
  out << "  map pinholes4 { type ipv4_addr . ipv4_addr . inet_service : ipv4_addr . inet_service; "
         "flags timeout; }\n"
      << "  set armed4 { type ipv4_addr . ipv4_addr . inet_service; size " << size
      << "; flags dynamic,timeout; }\n"
      << "  map pinholes6 { type ipv6_addr . ipv6_addr . inet_service : ipv6_addr . inet_service; "
         "flags timeout; }\n"
      << "  set armed6 { type ipv6_addr . ipv6_addr . inet_service; size " << size
      << "; flags dynamic,timeout; }\n"
      << "  chain pre_dnat { type nat hook prerouting priority dstnat - 1; policy accept;\n"
      << "    meta l4proto tcp ip saddr . ip daddr . tcp dport @armed4 delete @armed4 { ip saddr . "
         "ip daddr . tcp dport } ct mark set ct mark or "
      << mark << "\n"
      << "    meta l4proto tcp ip6 saddr . ip6 daddr . tcp dport @armed6 delete @armed6 { ip6 "
         "saddr . ip6 daddr . tcp dport } ct mark set ct mark or "
      << mark << "\n"
      << "    ct mark and " << mark << " == " << mark
      << " meta nfproto ipv4 dnat ip to ip saddr . ip daddr . tcp dport map @pinholes4\n"
      << "    ct mark and " << mark << " == " << mark
      << " meta nfproto ipv6 dnat ip6 to ip6 saddr . ip6 daddr . tcp dport map @pinholes6\n"
      << "  }\n";
  out << "}\n";
  return out.str();
}

std::optional<int> tableOwnerPid(std::string_view listing) {
  constexpr std::string_view kTag = "comment \"ftpalg pid=";
  const auto at = listing.find(kTag);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = listing.data() + at + kTag.size();
  int pid = 0;
  const auto [end, ec] = std::from_chars(begin, listing.data() + listing.size(), pid);
  if (ec != std::errc() || end == begin || pid <= 0) return std::nullopt;
  return pid;
}

std::string nftAcceptRule(std::uint32_t mark) {
  const std::string hex = nftMarkText(mark);
  return "ct mark and " + hex + " == " + hex + " accept";
}

std::string iptablesAcceptRule(std::string_view program, std::uint32_t mark) {
  const std::string hex = iptablesMarkText(mark);
  return std::string(program) + " -A FORWARD -m connmark --mark " + hex + "/" + hex + " -j ACCEPT";
}

}  // namespace ftpalg::firewall
