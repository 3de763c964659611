#include "ftpalg/engine/escape.hpp"

#include "ftpalg/core/ascii.hpp"

namespace ftpalg {

namespace {

bool startsWithPass(std::string_view line) {
  if (line.size() < 4) return false;
  for (std::size_t i = 0; i < 4; ++i) {
    const char expected = "PASS"[i];
    if (asciiUpper(line[i]) != expected) return false;
  }
  return line.size() == 4 || line[4] == ' ';
}

}  // namespace

std::string escapeLine(std::string_view line, std::size_t maxBytes) {
  if (startsWithPass(line)) {
    return line.size() > 4 ? std::string(line.substr(0, 4)) + " ****" : std::string(line);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  const auto passesVerbatim = [](char ch) {
    const auto byte = static_cast<unsigned char>(ch);
    return byte >= 0x20 && byte <= 0x7e && byte != '\\';
  };
  std::string out;
  out.reserve(line.size() < maxBytes ? line.size() : maxBytes);
  std::size_t at = 0;
  while (at < line.size()) {
    // A run of bytes that pass verbatim is appended at once (the common case: the whole line).
    std::size_t runEnd = at;
    while (runEnd < line.size() && passesVerbatim(line[runEnd])) ++runEnd;
    if (runEnd > at) {
      const std::size_t room = maxBytes - out.size();  // out.size() <= maxBytes throughout
      if (runEnd - at > room) {
        out.append(line.substr(at, room));
        out.append("...");
        return out;
      }
      out.append(line.substr(at, runEnd - at));
      at = runEnd;
      if (at == line.size()) break;
    }
    const auto byte = static_cast<unsigned char>(line[at]);
    char piece[4] = {'\\', '\\', 0, 0};
    std::size_t pieceLength = 2;
    if (byte != '\\') {
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
    ++at;
  }
  return out;
}

}  // namespace ftpalg
