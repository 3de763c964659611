// ASCII-only character helpers for protocol text (RFC 959 keywords are ASCII). Unlike
// std::toupper they ignore the C locale and never consult a table behind a function call.
#pragma once

namespace ftpalg {

// 'a'..'z' -> 'A'..'Z'; every other byte (including 8-bit bytes) unchanged.
constexpr char asciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace ftpalg
