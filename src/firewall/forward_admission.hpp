// Would the admin's firewall let ftpalg's data connections through? (`ftpalg check`; standard
// library only, unit-tested on captured `nft -j list ruleset` text.)
//
// The question is about the FIRST packet of a data connection that a pinhole admits, at the
// forward hook, where the admin's filter chains decide (an accept in ftpalg's own table cannot
// override their drop: docs/design.md#pinhole-mechanisms):
//   - engine-owned mode (nft pinholes): a NEW TCP SYN whose conntrack mark carries the pinhole
//     bit (set by ftpalg's pre_dnat chain), possibly DNATed; the admin needs an accept of the mark
//     (pinhole_rules.hpp) before any drop;
//   - conntrack-owned mode (expectations): a RELATED TCP SYN (ct status expected), whose mark
//     carries the control bit (inherited from its control connection) and maybe the verified bit;
//     the admin needs `ct state established,related accept` before any drop.
// Everything else about the packet (interfaces, addresses, ports above the data-port floor) is
// unknown: a rule that tests it may or may not match.
//
// Evaluation: every base chain of type filter at hook forward of the packet's family (ip or ip6,
// and inet), in priority order (an accept ends one base chain; the next still sees the packet);
// in each chain, the rules in order, following jump/goto/return and verdict maps. Each match is
// true, false or unknown; a verdict behind an unknown match may or may not happen. The answer:
// Accepted (every chain surely accepts), Dropped (a chain that is surely reached surely drops or
// rejects), or Uncertain (a drop may happen: the rule that may drop is named).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ruleset_json.hpp"

namespace ftpalg::firewall {

enum class PacketFamily : std::uint8_t { V4, V6 };

// What is known about the first packet of a data connection ftpalg admits.
struct DataConnectionPacket {
  PacketFamily family = PacketFamily::V4;
  std::string ctState = "new";         // "new" (engine-owned) or "related" (conntrack-owned)
  bool expected = false;               // ct status expected (an expectation's connection)
  std::uint32_t markKnownBits = 0;     // the ct mark bits whose value is known
  std::uint32_t markValue = 0;         // their values
  std::uint16_t dataPortFloor = 1024;  // tcp dport >= this (--data-port-floor)
};

// The engine-owned mode's data connection: NEW, the mark 0 but for the pinhole bit.
DataConnectionPacket engineOwnedDataPacket(PacketFamily family, std::uint32_t pinholeMark,
                                           std::uint16_t dataPortFloor);
// The conntrack-owned mode's: RELATED, expected, the control bit set (the verified bit unknown).
DataConnectionPacket conntrackOwnedDataPacket(PacketFamily family, std::uint32_t controlMark,
                                              std::uint16_t dataPortFloor);

enum class Admission : std::uint8_t { Accepted, Dropped, Uncertain };

struct AdmissionResult {
  Admission admission = Admission::Accepted;
  // Accepted: the rules that accept it, one per base chain ("table inet filter chain forward:
  // ct state established,related accept", or a chain's accept policy). Dropped: the rule or
  // policy that drops it. Uncertain: the first rule or policy that may drop it.
  std::vector<std::string> decidedBy;
  std::size_t baseChains = 0;  // base chains at hook forward for this family
  // Dropped, Uncertain: the base chain in which it is (maybe) dropped, where the fix goes.
  NftName chain;
};

AdmissionResult evaluateForward(const NftRuleset& ruleset, const DataConnectionPacket& packet,
                                const RuleTexts& texts);

}  // namespace ftpalg::firewall
