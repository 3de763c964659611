// `ftpalg check`: the verdicts on what the firewall holds, as report lines (standard library
// only; unit-tested on hand-written `nft -j list ruleset` fixtures). The shell
// (src/app/check_command.cpp) reads the system (kernel modules, sysctls, the ruleset through
// libnftables, iptables-save) and adds its own lines; nothing here or there changes anything.
//
// Each line is one check: its level, a short name, what was found, and for a failure or a
// warning the fix (a command to run or a rule to add). `check` exits 1 when a line is Fail.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ct_marks.hpp"
#include "forward_admission.hpp"
#include "helper_detection.hpp"
#include "mark_users.hpp"
#include "ruleset_json.hpp"

namespace ftpalg::firewall {

struct CheckLine {
  // Ok: ftpalg works as far as this check goes. Warn: it works, with a limit the admin should
  // know. Fail: `run` would refuse to start or FTP would not work. Skip: not applicable with
  // these options (the reason is the detail).
  enum class Level : std::uint8_t { Ok, Warn, Fail, Skip };
  Level level = Level::Ok;
  std::string name;    // "ip-forwarding", "forward-chain ipv4", ...
  std::string detail;  // what was found
  std::string fix;     // Warn/Fail: what to do; "" when there is nothing to do
};

// "ok    NAME: DETAIL", "FAIL  NAME: DETAIL; fix: FIX" (one line; FIX is printed when not empty).
std::string formatCheckLine(const CheckLine& line);

// How ftpalg's data connections look to the admin's forward chain, per the options of `run`.
enum class DataPath : std::uint8_t {
  NftPinholes,   // --pinhole-backend nft: NEW, the pinhole mark set by ftpalg's pre_dnat chain
  Expectations,  // --pinhole-backend conntrack: RELATED (expected), the control mark inherited
  None,          // --dry-run, --pinhole-backend none: no data connection is admitted by ftpalg
};

struct RulesetCheckSpec {
  DataPath dataPath = DataPath::NftPinholes;
  std::uint32_t pinholeMark = kDefaultPinholeMark;
  std::uint32_t controlMark = kDefaultControlMark;
  std::uint32_t verifiedMark = kDefaultVerifiedMark;
  bool conntrackOwned = false;  // --seq-owner kernel (after the anchor probe): control/verified marks used
  std::uint16_t dataPortFloor = 1024;
  std::vector<std::string> ownTables;  // ftpalg's nft tables (family inet), skipped by the mark check
};

// Would the first packet of a data connection pass the forward hook (forward_admission.hpp), for
// `family`? Dropped: Fail, with the rule that drops it and the accept rule to insert in that
// chain. Uncertain: Warn, naming the rule that may drop it. Accepted: Ok, naming the accepting
// rules.
CheckLine forwardAdmissionCheck(const NftRuleset& ruleset, const RuleTexts& texts,
                                const RulesetCheckSpec& spec, PacketFamily family);

// The kernel ftp helper on a control port (kernel_helper.hpp found `conflicts`): Fail, naming
// each assignment.
CheckLine kernelHelperCheck(const std::vector<HelperAssignment>& conflicts,
                            const std::vector<std::uint16_t>& controlPorts);

// The bits ftpalg uses with these options (pinhole mark with nft pinholes, control and verified
// marks in the conntrack-owned mode).
std::uint32_t markBitsInUse(const RulesetCheckSpec& spec);

// Other users of those bits (mark_users.hpp found `uses`): a rule that sets, clears or changes
// one is Fail (it admits connections as if ftpalg had, or erases ftpalg's marks); one that reads
// one is Warn (it acts on ftpalg's connections), except the accept rule ftpalg asks for: one
// that accepts exactly `pinholeMark` (0: none is asked for).
CheckLine markUsersCheck(const std::vector<MarkUse>& uses, std::uint32_t bits, std::uint32_t pinholeMark);

}  // namespace ftpalg::firewall
