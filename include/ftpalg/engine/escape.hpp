// Log-safe rendering of attacker-controlled FTP lines (docs/design.md#escape-before-logging).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ftpalg {

// Printable ASCII (0x20-0x7E) except '\\' is copied; '\\' becomes "\\\\"; every other byte
// becomes "\\xHH". Output is capped at maxBytes of escaped text, ending in "..." when cut.
// A "PASS" command (any case) keeps only its keyword: "PASS ****".
std::string escapeLine(std::string_view line, std::size_t maxBytes = 256);

}  // namespace ftpalg
