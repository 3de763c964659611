// Fuzz target: the address codec (include/ftpalg/ftp/address_codec.hpp) and log escaping
// (include/ftpalg/engine/escape.hpp) on arbitrary lines.
//
// Invariants, for every input line:
//  - no parser crashes, reads out of bounds or trips UBSan, whatever the line (preconditions on
//    the keyword are not honoured on purpose: a parser must be safe on any line);
//  - a successful parse reports a non-empty span inside the line; for PORT/227 the span is the
//    six decimal numbers and decodes (independently) to the reported address and port; for 229
//    it is the port digits; for EPRT it runs from the first delimiter through the last;
//  - round trip: formatting the value and substituting it for the span gives a line that the same
//    parser accepts with the same value, with the span exactly around the replacement;
//  - escapeLine output is printable ASCII, capped, never shows a PASS argument, and (when not
//    cut) unescapes to the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "ftpalg/engine/escape.hpp"
#include "ftpalg/ftp/address_codec.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace ftpalg;

using Parser = ParseResult (*)(std::string_view);

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Independent decode of a PORT/227 span: exactly six comma-separated decimal numbers <= 255.
void checkTupleSpan(std::string_view span, const ParsedAddress& parsed) {
  unsigned numbers[6] = {};
  std::size_t field = 0;
  std::size_t digits = 0;
  for (const char c : span) {
    if (c == ',') {
      FUZZ_CHECK(digits > 0);
      ++field;
      FUZZ_CHECK(field < 6);
      digits = 0;
      continue;
    }
    FUZZ_CHECK_MSG(isDigit(c), "byte 0x%02x in a tuple span", static_cast<unsigned char>(c));
    ++digits;
    FUZZ_CHECK(digits <= 3);
    numbers[field] = numbers[field] * 10 + static_cast<unsigned>(c - '0');
  }
  FUZZ_CHECK(field == 5 && digits > 0);
  for (const unsigned n : numbers) FUZZ_CHECK(n <= 255);
  FUZZ_CHECK(parsed.address.has_value() && parsed.address->isV4());
  const auto octets = parsed.address->v4Octets();
  for (int i = 0; i < 4; ++i) FUZZ_CHECK(octets[static_cast<std::size_t>(i)] == numbers[i]);
  FUZZ_CHECK(parsed.port == numbers[4] * 256 + numbers[5]);
}

void checkSpanContent(std::string_view line, const ParsedAddress& parsed) {
  const std::string_view span = line.substr(parsed.spanBegin, parsed.spanEnd - parsed.spanBegin);
  switch (parsed.verb) {
    case AddressVerb::Port:
    case AddressVerb::Reply227: checkTupleSpan(span, parsed); break;
    case AddressVerb::Reply229: {
      FUZZ_CHECK(!parsed.address.has_value());
      FUZZ_CHECK(span.size() <= 5);
      unsigned port = 0;
      for (const char c : span) {
        FUZZ_CHECK(isDigit(c));
        port = port * 10 + static_cast<unsigned>(c - '0');
      }
      FUZZ_CHECK(port == parsed.port && port >= 1 && port <= 65535);
      FUZZ_CHECK(parsed.spanBegin >= 4 && line[parsed.spanBegin - 1] == parsed.delimiter);
      FUZZ_CHECK(parsed.spanEnd < line.size() && line[parsed.spanEnd] == parsed.delimiter);
      break;
    }
    case AddressVerb::Eprt:
      FUZZ_CHECK(parsed.address.has_value());
      FUZZ_CHECK(parsed.port >= 1);
      FUZZ_CHECK(span.size() >= 7 && span.front() == parsed.delimiter && span.back() == parsed.delimiter);
      FUZZ_CHECK(span[1] == (parsed.address->isV4() ? '1' : '2') || isDigit(span[1]));
      break;
    default: FUZZ_CHECK_MSG(false, "unexpected verb %d", static_cast<int>(parsed.verb));
  }
}

std::string format(const ParsedAddress& parsed) {
  switch (parsed.verb) {
    case AddressVerb::Port: return formatPortArgument(Endpoint{*parsed.address, parsed.port});
    case AddressVerb::Reply227: return format227Tuple(Endpoint{*parsed.address, parsed.port});
    case AddressVerb::Eprt:
      return formatEprtArgument(Endpoint{*parsed.address, parsed.port}, parsed.delimiter);
    case AddressVerb::Reply229: return format229Port(parsed.port);
    default: return {};
  }
}

void checkParser(Parser parser, AddressVerb verb, std::string_view line) {
  const ParseResult result = parser(line);
  const auto* parsed = std::get_if<ParsedAddress>(&result);
  if (parsed == nullptr) {
    // Every error has a stable name.
    FUZZ_CHECK(!syntaxErrorName(std::get<AddressSyntaxError>(result)).empty());
    FUZZ_CHECK(syntaxErrorName(std::get<AddressSyntaxError>(result)) != "unknown");
    return;
  }
  FUZZ_CHECK(parsed->verb == verb);
  FUZZ_CHECK_MSG(parsed->spanBegin < parsed->spanEnd && parsed->spanEnd <= line.size(),
                 "span [%zu, %zu) in a line of %zu bytes", parsed->spanBegin, parsed->spanEnd, line.size());
  checkSpanContent(line, *parsed);

  // Round trip: canonical text in place of the span parses to the same value.
  const std::string replacement = format(*parsed);
  FUZZ_CHECK(!replacement.empty());
  std::string rewritten(line.substr(0, parsed->spanBegin));
  rewritten += replacement;
  rewritten += line.substr(parsed->spanEnd);
  const ParseResult again = parser(rewritten);
  const auto* reparsed = std::get_if<ParsedAddress>(&again);
  FUZZ_CHECK_MSG(reparsed != nullptr, "rewritten line no longer parses (error %s)",
                 std::string(syntaxErrorName(std::get<AddressSyntaxError>(again))).c_str());
  FUZZ_CHECK(reparsed->verb == parsed->verb);
  FUZZ_CHECK(reparsed->address == parsed->address);
  FUZZ_CHECK(reparsed->port == parsed->port);
  FUZZ_CHECK(reparsed->delimiter == parsed->delimiter);
  FUZZ_CHECK_MSG(
      reparsed->spanBegin == parsed->spanBegin && reparsed->spanEnd == parsed->spanBegin + replacement.size(),
      "span moved: [%zu, %zu) -> [%zu, %zu) for a replacement of %zu bytes", parsed->spanBegin,
      parsed->spanEnd, reparsed->spanBegin, reparsed->spanEnd, replacement.size());
  // The canonical form is a fixed point.
  FUZZ_CHECK(format(*reparsed) == replacement);
}

// Reverses escapeLine's encoding ("\\\\" and "\\xHH").
std::string unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    FUZZ_CHECK(i + 1 < text.size());
    if (text[i + 1] == '\\') {
      out += '\\';
      ++i;
      continue;
    }
    FUZZ_CHECK(text[i + 1] == 'x' && i + 3 < text.size());
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      FUZZ_CHECK_MSG(false, "bad hex digit %c", c);
      return 0;
    };
    out += static_cast<char>(hex(text[i + 2]) * 16 + hex(text[i + 3]));
    i += 3;
  }
  return out;
}

bool startsWithPassCommand(std::string_view line) {
  if (line.size() < 4) return false;
  for (std::size_t i = 0; i < 4; ++i) {
    if ((line[i] & ~0x20) != "PASS"[i]) return false;
  }
  return line.size() == 4 || line[4] == ' ';
}

void checkEscape(std::string_view line, std::size_t cap) {
  const std::string escaped = escapeLine(line, cap);
  for (const char c : escaped) {
    const auto byte = static_cast<unsigned char>(c);
    FUZZ_CHECK_MSG(byte >= 0x20 && byte <= 0x7e, "byte 0x%02x in escaped output", byte);
  }
  FUZZ_CHECK_MSG(escaped.size() <= cap + 3 || startsWithPassCommand(line),
                 "escaped %zu bytes for a cap of %zu", escaped.size(), cap);
  if (startsWithPassCommand(line)) {
    FUZZ_CHECK(escaped.size() <= 9);  // "PASS ****"
    if (line.size() > 4) FUZZ_CHECK(escaped.substr(4) == " ****");
    return;
  }
  const bool cut = escaped.size() >= 3 && escaped.compare(escaped.size() - 3, 3, "...") == 0 &&
                   unescape(std::string_view(escaped).substr(0, escaped.size() - 3)) != line;
  if (cut) {
    const std::string shown = unescape(std::string_view(escaped).substr(0, escaped.size() - 3));
    FUZZ_CHECK(line.substr(0, shown.size()) == shown);
  } else {
    FUZZ_CHECK(unescape(escaped) == line);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);

  if (const auto word = commandWord(line)) {
    FUZZ_CHECK(word->length >= 3 && word->length <= 4);
    for (std::size_t i = 0; i < word->length; ++i) FUZZ_CHECK(word->upper[i] >= 'A' && word->upper[i] <= 'Z');
    FUZZ_CHECK(!obscuredCommandWord(line).has_value());
  }
  if (const auto word = obscuredCommandWord(line)) {
    FUZZ_CHECK(word->length >= 3 && word->length <= 4);
  }
  if (const auto reply = replyCode(line)) {
    FUZZ_CHECK(reply->code < 1000);
    FUZZ_CHECK(line.size() >= 3);
  }

  checkParser(parsePort, AddressVerb::Port, line);
  checkParser(parseEprt, AddressVerb::Eprt, line);
  checkParser(parse227, AddressVerb::Reply227, line);
  checkParser(parse229, AddressVerb::Reply229, line);

  checkEscape(line, 256);
  checkEscape(line, size > 0 ? data[0] % 64 : 0);
  return 0;
}
