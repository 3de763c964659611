#include "log_text.hpp"

#include <cinttypes>
#include <cstdint>
#include <cstdio>

namespace ftpalg::log {

std::string formatSeconds(Timestamp ts) {
  std::int64_t micros = ts.nanos / 1000;
  if (ts.nanos % 1000 < 0) --micros;  // floor for times before the epoch
  const bool negative = micros < 0;
  const std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(micros) : static_cast<std::uint64_t>(micros);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%s%" PRIu64 ".%06" PRIu64, negative ? "-" : "", magnitude / 1'000'000,
                magnitude % 1'000'000);
  return buffer;
}

void appendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    switch (byte) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (byte < 0x20 || byte >= 0x7f) {
          out.append("\\u00");
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0x0f]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

}  // namespace ftpalg::log
