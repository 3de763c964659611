// Other users of ftpalg's conntrack mark bits (`ftpalg check`; standard library only). ftpalg
// sets its bits (ct_marks.hpp) and reads them back: a rule elsewhere that writes one of them
// (admitting connections as if ftpalg had, or erasing ftpalg's), or that reads one (and so acts
// on ftpalg's connections), is named.
//
// nft: from the JSON listing (ruleset_json.hpp): `ct mark set EXPR` statements, whose effect on
// each bit is worked out from EXPR (`ct mark or C`, `ct mark and C`, a constant ...), and matches
// that read the mark (`ct mark and M == V`, `ct mark V`, a verdict map on it). ftpalg's own tables
// are skipped. iptables (including iptables-nft, whose extensions nft's JSON does not show):
// `-j CONNMARK --set-xmark V/M` / `--save-mark` and `-m connmark --mark V/M` in iptables-save
// text; ftpalg's own chains (ftpalg-*) are skipped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ruleset_json.hpp"

namespace ftpalg::firewall {

struct MarkUse {
  enum class Kind : std::uint8_t {
    Sets,     // sets the bits to 1 on the connections it matches
    Clears,   // sets them to 0 (e.g. `ct mark set 0x5` overwrites the whole mark)
    Changes,  // changes them in a way that depends on something else (`ct mark set meta mark`, XOR)
    Reads,    // a match on them
  };
  Kind kind = Kind::Reads;
  std::uint32_t bits = 0;  // which of the bits asked about
  std::string where;       // the rule
  // Reads only: the rule is exactly `ct mark and B == B accept` (or iptables `-m connmark --mark
  // B/B -j ACCEPT`): the accept rule ftpalg asks the admin to add for its pinhole bit B.
  bool acceptsBit = false;
};

// The nft rules outside ftpalg's own tables (`ownTables`, family inet) that write or read `bits`.
std::vector<MarkUse> markUsersFromNft(const NftRuleset& ruleset, const RuleTexts& texts, std::uint32_t bits,
                                      const std::vector<std::string>& ownTables);

// The same from `iptables-save` text (all tables); `tool` names the program in MarkUse::where.
std::vector<MarkUse> markUsersFromIptablesSave(std::string_view dump, std::string_view tool,
                                               std::uint32_t bits);

}  // namespace ftpalg::firewall
