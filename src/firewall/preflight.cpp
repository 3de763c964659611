// `ftpalg check`'s ruleset verdicts: see preflight.hpp.
#include "preflight.hpp"

#include <algorithm>

#include "ct_marks.hpp"
#include "pinhole_rules.hpp"

namespace ftpalg::firewall {

namespace {

std::string levelText(CheckLine::Level level) {
  switch (level) {
    case CheckLine::Level::Ok: return "ok  ";
    case CheckLine::Level::Warn: return "WARN";
    case CheckLine::Level::Fail: return "FAIL";
    case CheckLine::Level::Skip: return "skip";
  }
  return "?   ";
}

std::string familyText(PacketFamily family) { return family == PacketFamily::V4 ? "ipv4" : "ipv6"; }

// The rule that admits ftpalg's data connections, inserted at the head of `chain` (so before
// whatever drops them): nft syntax, or iptables for iptables-nft's FORWARD chain (whose rules nft
// lists as opaque xtables expressions).
std::string admissionFix(const RulesetCheckSpec& spec, const NftName& chain) {
  const bool iptables = chain.name == "FORWARD" && (chain.family == "ip" || chain.family == "ip6");
  if (iptables) {
    const std::string program = chain.family == "ip" ? "iptables" : "ip6tables";
    if (spec.dataPath == DataPath::Expectations) {
      return program + " -I FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";
    }
    const std::string hex = iptablesMarkText(spec.pinholeMark);
    return program + " -I FORWARD -m connmark --mark " + hex + "/" + hex + " -j ACCEPT";
  }
  const std::string where = "nft insert rule " + chain.family + " " + chain.table + " " + chain.name + " ";
  if (spec.dataPath == DataPath::Expectations) return where + "ct state established,related accept";
  return where + nftAcceptRule(spec.pinholeMark);
}

std::string joined(const std::vector<std::string>& parts, const std::string& separator) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : separator) + part;
  return text;
}

std::string bitsText(std::uint32_t bits) {
  std::vector<std::string> names;
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1) {
    if (bits & bit) names.push_back(nftMarkText(bit));
  }
  return joined(names, ", ");
}

}  // namespace

std::string formatCheckLine(const CheckLine& line) {
  std::string text = levelText(line.level) + "  " + line.name + ": " + line.detail;
  if (!line.fix.empty()) text += "; fix: " + line.fix;
  return text;
}

CheckLine forwardAdmissionCheck(const NftRuleset& ruleset, const RuleTexts& texts,
                                const RulesetCheckSpec& spec, PacketFamily family) {
  CheckLine line;
  line.name = "forward-chain " + familyText(family);
  if (spec.dataPath == DataPath::None) {
    line.level = CheckLine::Level::Skip;
    line.detail = "ftpalg admits no data connection (--dry-run or --pinhole-backend none)";
    return line;
  }
  const DataConnectionPacket packet =
      spec.dataPath == DataPath::NftPinholes
          ? engineOwnedDataPacket(family, spec.pinholeMark, spec.dataPortFloor)
          : conntrackOwnedDataPacket(family, spec.controlMark, spec.dataPortFloor);
  const std::string what = spec.dataPath == DataPath::NftPinholes
                               ? "a data connection through an nft pinhole (ct state new, ct mark " +
                                     nftMarkText(spec.pinholeMark) + ")"
                               : "a data connection through a conntrack expectation (ct state related)";
  const AdmissionResult result = evaluateForward(ruleset, packet, texts);
  switch (result.admission) {
    case Admission::Accepted:
      line.level = CheckLine::Level::Ok;
      if (result.baseChains == 0) {
        line.detail = "no filter chain at hook forward: " + what + " passes";
      } else {
        line.detail = what + " is accepted by " + joined(result.decidedBy, " and ");
      }
      return line;
    case Admission::Dropped:
      line.level = CheckLine::Level::Fail;
      line.detail = what + " is dropped by " + joined(result.decidedBy, "; ");
      line.fix = admissionFix(spec, result.chain);
      return line;
    case Admission::Uncertain:
      line.level = CheckLine::Level::Warn;
      line.detail = what + " may be dropped by " + joined(result.decidedBy, "; ") +
                    " (the rule tests what is not known before the connection exists)";
      line.fix = "if it is dropped: " + admissionFix(spec, result.chain);
      return line;
  }
  return line;
}

CheckLine kernelHelperCheck(const std::vector<HelperAssignment>& conflicts,
                            const std::vector<std::uint16_t>& controlPorts) {
  CheckLine line;
  line.name = "kernel-ftp-helper";
  std::vector<std::string> ports;
  for (const std::uint16_t port : controlPorts) ports.push_back(std::to_string(port));
  if (conflicts.empty()) {
    line.detail = "no rule assigns the kernel's ftp helper to control port " + joined(ports, ",");
    return line;
  }
  line.level = CheckLine::Level::Fail;
  std::vector<std::string> where;
  for (const HelperAssignment& conflict : conflicts) where.push_back(conflict.where);
  line.detail = "the kernel's ftp helper is assigned to control port " + joined(ports, ",") + " by " +
                joined(where, " | ") + " (both would rewrite the same connections; run refuses to start)";
  line.fix =
      "remove that assignment (nft delete rule FAMILY TABLE CHAIN handle N; nft -a list ruleset shows "
      "the handle), or serve other --control-port values";
  return line;
}

std::uint32_t markBitsInUse(const RulesetCheckSpec& spec) {
  std::uint32_t bits = 0;
  if (spec.dataPath == DataPath::NftPinholes) bits |= spec.pinholeMark;
  if (spec.conntrackOwned) bits |= spec.controlMark | spec.verifiedMark;
  return bits;
}

CheckLine markUsersCheck(const std::vector<MarkUse>& uses, std::uint32_t bits, std::uint32_t pinholeMark) {
  CheckLine line;
  line.name = "mark-bits";
  if (bits == 0) {
    line.level = CheckLine::Level::Skip;
    line.detail = "ftpalg sets no conntrack mark bit with these options";
    return line;
  }
  std::vector<std::string> writers, readers;
  for (const MarkUse& use : uses) {
    switch (use.kind) {
      case MarkUse::Kind::Sets: writers.push_back("sets " + bitsText(use.bits) + ": " + use.where); break;
      case MarkUse::Kind::Clears: writers.push_back("clears " + bitsText(use.bits) + ": " + use.where); break;
      case MarkUse::Kind::Changes:
        writers.push_back("changes " + bitsText(use.bits) + ": " + use.where);
        break;
      case MarkUse::Kind::Reads:
        if (!(use.acceptsBit && pinholeMark != 0 && use.bits == pinholeMark))
          readers.push_back("reads " + bitsText(use.bits) + ": " + use.where);
        break;
    }
  }
  const std::string options = "--pinhole-mark, --control-mark, --verified-mark";
  if (!writers.empty()) {
    line.level = CheckLine::Level::Fail;
    line.detail = "ftpalg's ct mark bits (" + bitsText(bits) +
                  ") are written elsewhere: " + joined(writers, " | ") +
                  (readers.empty() ? "" : " | " + joined(readers, " | "));
    line.fix =
        "give ftpalg bits nobody else uses (" + options + "), or change those rules to leave them alone";
    return line;
  }
  if (!readers.empty()) {
    line.level = CheckLine::Level::Warn;
    line.detail =
        "ftpalg's ct mark bits (" + bitsText(bits) + ") are tested elsewhere: " + joined(readers, " | ");
    line.fix = "make sure these rules mean to act on ftpalg's connections, or give ftpalg other bits (" +
               options + ")";
    return line;
  }
  line.detail = "no other rule writes or tests ftpalg's ct mark bits (" + bitsText(bits) + ")";
  return line;
}

}  // namespace ftpalg::firewall
