// Small text helpers shared by the JSON-lines and text decision logs.
#pragma once

#include <string>
#include <string_view>

#include "ftpalg/core/time.hpp"

namespace ftpalg::log {

// Seconds with exactly six decimals (microseconds, truncated toward minus infinity):
// 1700000000.000123. Never uses floating point, so it is exact for any 64-bit nanosecond count.
std::string formatSeconds(Timestamp ts);

// Appends `text` as a JSON string literal (with the surrounding quotes, RFC 8259 §7): '"' and
// '\\' are backslash-escaped, bytes below 0x20 become \n, \r, \t or \u00XX, and bytes 0x7F and
// above become \u00XX (read as Latin-1), so the output is always valid 7-bit ASCII JSON whatever
// bytes an attacker put into an FTP line.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace ftpalg::log
