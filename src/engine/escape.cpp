#include "ftpalg/engine/escape.hpp"

#include <cctype>

namespace ftpalg {

namespace {

bool startsWithPass(std::string_view line) {
  if (line.size() < 4) return false;
  for (std::size_t i = 0; i < 4; ++i) {
    const char expected = "PASS"[i];
    if (std::toupper(static_cast<unsigned char>(line[i])) != expected) return false;
  }
  return line.size() == 4 || line[4] == ' ';
}

}  // namespace

std::string escapeLine(std::string_view line, std::size_t maxBytes) {
  if (startsWithPass(line)) {
    return line.size() > 4 ? std::string(line.substr(0, 4)) + " ****" : std::string(line);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(line.size() < maxBytes ? line.size() : maxBytes);
  for (const char ch : line) {
    const auto byte = static_cast<unsigned char>(ch);
    char piece[4];
    std::size_t pieceLength = 0;
    if (byte == '\\') {
      piece[0] = '\\';
      piece[1] = '\\';
      pieceLength = 2;
    } else if (byte >= 0x20 && byte <= 0x7e) {
      piece[0] = ch;
      pieceLength = 1;
    } else {
      piece[0] = '\\';
      piece[1] = 'x';
      piece[2] = kHex[byte >> 4];
      piece[3] = kHex[byte & 0x0f];
      pieceLength = 4;
    }
    if (out.size() + pieceLength > maxBytes) {
      out.append("...");
      return out;
    }
    out.append(piece, pieceLength);
  }
  return out;
}

}  // namespace ftpalg
