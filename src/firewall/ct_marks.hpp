// The conntrack mark bits ftpalg uses, all in one place (docs/admin-guide.md lists them for the
// admin: nothing else on the router may use them), and how nft and iptables print a mark.
// Header-only: src/app/options.cpp validates --control-mark/--verified-mark with it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace ftpalg::firewall {

// Set by a pinhole of the nft backend on the data connection it admits; the admin's firewall
// accepts it (pinhole_rules.hpp). Not used by the conntrack-expectation backend (--pinhole-mark).
inline constexpr std::uint32_t kDefaultPinholeMark = 0x00010000;
// Conntrack-owned mode (anchor_rules.hpp). Set by the anchor on every new control connection
// (--control-mark).
inline constexpr std::uint32_t kDefaultControlMark = 0x00020000;
// Conntrack-owned mode. Set once ftpalg verified a connection's FTP dialog (--verified-mark), so
// that an instance taking the connection over knows it.
inline constexpr std::uint32_t kDefaultVerifiedMark = 0x00040000;

// "0x00020000": a mark as nft prints it.
inline std::string nftMarkText(std::uint32_t mark) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", mark);
  return text;
}
// "0x20000": as iptables prints it.
inline std::string iptablesMarkText(std::uint32_t mark) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%x", mark);
  return text;
}

// Why `controlMark`, `verifiedMark` and `pinholeMark` cannot be used together (each one bit, all
// three distinct), or nullopt.
inline std::optional<std::string> markBitsProblem(std::uint32_t controlMark, std::uint32_t verifiedMark,
                                                  std::uint32_t pinholeMark) {
  if (std::popcount(controlMark) != 1)
    return "the control mark " + nftMarkText(controlMark) + " is not one bit";
  if (std::popcount(verifiedMark) != 1)
    return "the verified mark " + nftMarkText(verifiedMark) + " is not one bit";
  if (std::popcount(pinholeMark) != 1)
    return "the pinhole mark " + nftMarkText(pinholeMark) + " is not one bit";
  if (controlMark == verifiedMark) return std::string("the control and verified marks are the same bit");
  if (controlMark == pinholeMark || verifiedMark == pinholeMark)
    return "the pinhole mark " + nftMarkText(pinholeMark) + " is taken (nft pinholes set it)";
  return std::nullopt;
}

}  // namespace ftpalg::firewall
