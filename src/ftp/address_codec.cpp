// Address codec: see include/ftpalg/ftp/address_codec.hpp for the contract.
//
// Every parser works on the caller's string_view only: no allocation, no exception, no locale.
// Numbers go through std::from_chars after the digit count has been bounded, so from_chars can
// never overflow and a value is range-checked before it is narrowed.
#include "ftpalg/ftp/address_codec.hpp"

#include <array>
#include <charconv>
#include <system_error>

#include "ftpalg/core/ascii.hpp"

namespace ftpalg {

namespace {

constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }

constexpr bool isAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// NUL and the other C0 controls, DEL, and every byte >= 0x80 (which includes Telnet IAC 0xFF and
// the Telnet command bytes 0xF0-0xFE that follow it, RFC 854).
constexpr bool isNonPrintable(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte >= 0x7F;
}

constexpr bool isSign(char c) { return c == '+' || c == '-'; }

constexpr bool isHexLetter(char c) { return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// RFC 2428 §2: the delimiter is a printable ASCII character in 33-126; docs/adversarial-cases.md case S3
// further excludes the characters that can occur inside the address or port fields (digits, hex letters,
// '.', ':'), so a delimiter can never be confused with field content.
constexpr bool isValidDelimiter(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 33 && byte <= 126 && !isDigit(c) && !isHexLetter(c) && c != '.' && c != ':';
}

bool containsNonPrintable(std::string_view text) {
  for (const char c : text) {
    if (isNonPrintable(c)) return true;
  }
  return false;
}

// The line with trailing spaces removed (some clients pad commands; RFC 959 grammar has none).
std::string_view trimTrailingSpaces(std::string_view text) {
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// Parses one decimal field under explicit bounds. Checks, in this order: empty, non-printable
// bytes, sign, any other non-digit, digit count, value range. Leading zeros are decimal.
std::optional<AddressSyntaxError> parseBoundedNumber(std::string_view field, std::size_t maxDigits,
                                                     std::uint32_t minValue, std::uint32_t maxValue,
                                                     AddressSyntaxError rangeError, std::uint32_t& value) {
  if (field.empty()) return AddressSyntaxError::EmptyField;
  // Fast path, one pass: 1..maxDigits plain digits (every well-formed number). maxDigits <= 5,
  // so the value cannot overflow.
  if (field.size() <= maxDigits) {
    std::uint32_t digitsValue = 0;
    bool allDigits = true;
    for (const char c : field) {
      if (!isDigit(c)) {
        allDigits = false;
        break;
      }
      digitsValue = digitsValue * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (allDigits) {
      if (digitsValue < minValue || digitsValue > maxValue) return rangeError;
      value = digitsValue;
      return std::nullopt;
    }
  }
  // Anything else: the errors in their documented precedence.
  if (containsNonPrintable(field)) return AddressSyntaxError::NonPrintable;
  for (const char c : field) {
    if (isSign(c)) return AddressSyntaxError::SignedNumber;
  }
  for (const char c : field) {
    if (!isDigit(c)) return AddressSyntaxError::BadSyntax;
  }
  if (field.size() > maxDigits) return AddressSyntaxError::TooManyDigits;
  std::uint32_t parsed = 0;
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), parsed);
  if (error != std::errc{} || end != field.data() + field.size()) return AddressSyntaxError::BadSyntax;
  if (parsed < minValue || parsed > maxValue) return rangeError;
  value = parsed;
  return std::nullopt;
}

std::optional<AddressSyntaxError> parseOctet(std::string_view field, std::uint8_t& octet) {
  std::uint32_t value = 0;
  if (auto error = parseBoundedNumber(field, 3, 0, 255, AddressSyntaxError::OctetOutOfRange, value)) {
    return error;
  }
  octet = static_cast<std::uint8_t>(value);
  return std::nullopt;
}

// EPRT / 229 port: 1-5 digits, 1..65535 (RFC 2428: a TCP port number; 0 names no port).
std::optional<AddressSyntaxError> parseTcpPort(std::string_view field, std::uint16_t& port) {
  std::uint32_t value = 0;
  if (auto error = parseBoundedNumber(field, 5, 1, 65535, AddressSyntaxError::PortOutOfRange, value)) {
    return error;
  }
  port = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

// "h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2 host-port). `tuple` holds only tuple characters (digits,
// commas, signs) and possibly non-printable bytes. Field contents are checked left to right, the
// field count last, so "1,2,3,,5,6" is an empty field and "1,2,3,4,5" a wrong count.
ParseResult parseHostPortTuple(std::string_view tuple, AddressVerb verb, std::size_t spanBegin) {
  if (containsNonPrintable(tuple)) return AddressSyntaxError::NonPrintable;
  std::array<std::uint8_t, 6> numbers{};
  std::size_t fieldCount = 0;
  std::size_t fieldStart = 0;
  while (true) {
    const std::size_t comma = tuple.find(',', fieldStart);
    const std::size_t fieldEnd = comma == std::string_view::npos ? tuple.size() : comma;
    std::uint8_t octet = 0;
    if (auto error = parseOctet(tuple.substr(fieldStart, fieldEnd - fieldStart), octet)) return *error;
    if (fieldCount < numbers.size()) numbers[fieldCount] = octet;
    ++fieldCount;
    if (comma == std::string_view::npos) break;
    fieldStart = comma + 1;
  }
  if (fieldCount != numbers.size()) return AddressSyntaxError::FieldCount;
  ParsedAddress parsed;
  parsed.verb = verb;
  parsed.address = IpAddress::fromV4Octets({numbers[0], numbers[1], numbers[2], numbers[3]});
  parsed.port = static_cast<std::uint16_t>(numbers[4] * 256U + numbers[5]);
  parsed.spanBegin = spanBegin;
  parsed.spanEnd = spanBegin + tuple.size();
  return parsed;
}

constexpr bool isTupleChar(char c) { return isDigit(c) || c == ',' || isSign(c); }

// A character that ended an EPRT/229 field where a delimiter was due.
AddressSyntaxError misplacedDelimiterError(char found, char delimiter) {
  return (found != delimiter && isValidDelimiter(found)) ? AddressSyntaxError::DelimiterMismatch
                                                         : AddressSyntaxError::BadSyntax;
}

// Where an EPRT argument does not split into exactly four `delimiter`s ending the argument, tells a
// command that uses different delimiters ("|1|a.b.c.d!port|") from one with a wrong field count:
// it locates the three later delimiter positions by field shape (family digits after the first,
// port digits before the last) and reports DelimiterMismatch when all of them hold a valid
// delimiter and one differs.
AddressSyntaxError diagnoseEprtSplit(std::string_view argument, char delimiter) {
  const auto isFieldDigit = [delimiter](char c) { return isDigit(c) || (isSign(c) && c != delimiter); };
  std::size_t afterFamily = 1;
  while (afterFamily < argument.size() && isFieldDigit(argument[afterFamily])) ++afterFamily;
  if (argument.size() < 2 || afterFamily >= argument.size() - 1) return AddressSyntaxError::FieldCount;
  std::size_t beforePort = argument.size() - 1;  // index of the last character
  while (beforePort > afterFamily && isFieldDigit(argument[beforePort - 1])) --beforePort;
  if (beforePort <= afterFamily + 1) return AddressSyntaxError::FieldCount;
  const char second = argument[afterFamily];
  const char third = argument[beforePort - 1];
  const char fourth = argument.back();
  const bool shapeFits = isValidDelimiter(second) && isValidDelimiter(third) && isValidDelimiter(fourth);
  if (shapeFits && (second != delimiter || third != delimiter || fourth != delimiter)) {
    return AddressSyntaxError::DelimiterMismatch;
  }
  return AddressSyntaxError::FieldCount;
}

}  // namespace

std::string_view verbName(AddressVerb verb) {
  switch (verb) {
    case AddressVerb::Port: return "PORT";
    case AddressVerb::Eprt: return "EPRT";
    case AddressVerb::Reply227: return "227";
    case AddressVerb::Reply229: return "229";
    case AddressVerb::Lprt: return "LPRT";
    case AddressVerb::Lpsv: return "LPSV";
    case AddressVerb::Reply228: return "228";
  }
  return "unknown";
}

std::string_view syntaxErrorName(AddressSyntaxError error) {
  switch (error) {
#define FTPALG_X(name, text) \
  case AddressSyntaxError::name: return text;
    FTPALG_ADDRESS_SYNTAX_ERRORS(FTPALG_X)
#undef FTPALG_X
  }
  return "unknown";
}

std::optional<CommandWord> commandWord(std::string_view line) {
  CommandWord word;
  std::size_t letters = 0;
  while (letters < line.size() && isAsciiLetter(line[letters])) {
    if (letters == 4) return std::nullopt;  // five or more letters: not an RFC 959 keyword
    word.upper[letters] = asciiUpper(line[letters]);
    ++letters;
  }
  if (letters < 3) return std::nullopt;
  if (letters < line.size() && line[letters] != ' ') return std::nullopt;
  word.length = letters;
  return word;
}

std::optional<CommandWord> obscuredCommandWord(std::string_view line) {
  const std::size_t tokenEnd = line.find(' ');
  const std::string_view token = line.substr(0, tokenEnd);
  CommandWord word;
  std::size_t letters = 0;
  bool sawNonPrintable = false;
  for (const char c : token) {
    if (isNonPrintable(c)) {
      sawNonPrintable = true;
    } else if (isAsciiLetter(c)) {
      if (letters == 4) return std::nullopt;
      word.upper[letters++] = asciiUpper(c);
    } else {
      return std::nullopt;  // a digit or punctuation: not a disguised keyword
    }
  }
  if (!sawNonPrintable || letters < 3) return std::nullopt;
  word.length = letters;
  return word;
}

std::optional<ReplyCode> replyCode(std::string_view line) {
  if (line.size() < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2])) return std::nullopt;
  ReplyCode reply;
  reply.code = static_cast<std::uint16_t>((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
  if (line.size() == 3) return reply;  // a bare code: a one-line reply without text
  if (line[3] == ' ') return reply;
  if (line[3] == '-') {
    reply.multiLineStart = true;
    return reply;
  }
  return std::nullopt;
}

ParseResult parsePort(std::string_view line) {
  constexpr std::size_t kArgumentStart = 5;  // "PORT "
  if (line.size() < kArgumentStart || line[kArgumentStart - 1] != ' ') return AddressSyntaxError::BadSyntax;
  const std::string_view argument = trimTrailingSpaces(line.substr(kArgumentStart));
  if (argument.empty()) return AddressSyntaxError::EmptyField;
  if (containsNonPrintable(argument)) return AddressSyntaxError::NonPrintable;
  for (const char c : argument) {
    if (!isTupleChar(c)) return AddressSyntaxError::BadSyntax;
  }
  return parseHostPortTuple(argument, AddressVerb::Port, kArgumentStart);
}

ParseResult parseEprt(std::string_view line) {
  constexpr std::size_t kArgumentStart = 5;  // "EPRT "
  if (line.size() <= kArgumentStart || line[kArgumentStart - 1] != ' ') return AddressSyntaxError::BadSyntax;
  const std::string_view argument = trimTrailingSpaces(line.substr(kArgumentStart));
  if (argument.empty()) return AddressSyntaxError::BadSyntax;
  if (containsNonPrintable(argument)) return AddressSyntaxError::NonPrintable;
  const char delimiter = argument[0];
  if (!isValidDelimiter(delimiter)) return AddressSyntaxError::BadDelimiter;

  // <d><net-prt><d><net-addr><d><tcp-port><d>: exactly four delimiters, the last one ending it.
  std::array<std::size_t, 4> at{};
  std::size_t found = 0;
  for (std::size_t i = 0; i < argument.size(); ++i) {
    if (argument[i] != delimiter) continue;
    if (found == at.size()) return diagnoseEprtSplit(argument, delimiter);
    at[found++] = i;
  }
  if (found != at.size() || at[3] != argument.size() - 1) return diagnoseEprtSplit(argument, delimiter);

  const std::string_view familyField = argument.substr(at[0] + 1, at[1] - at[0] - 1);
  const std::string_view addressField = argument.substr(at[1] + 1, at[2] - at[1] - 1);
  const std::string_view portField = argument.substr(at[2] + 1, at[3] - at[2] - 1);

  std::uint32_t familyNumber = 0;
  if (familyField.empty()) return AddressSyntaxError::EmptyField;
  for (const char c : familyField) {
    if (isSign(c)) return AddressSyntaxError::SignedNumber;
  }
  if (parseBoundedNumber(familyField, 3, 1, 2, AddressSyntaxError::UnknownFamily, familyNumber)) {
    return AddressSyntaxError::UnknownFamily;
  }
  const IpFamily family = familyNumber == 1 ? IpFamily::V4 : IpFamily::V6;

  if (addressField.empty()) return AddressSyntaxError::EmptyField;
  if (addressField.find('%') != std::string_view::npos) return AddressSyntaxError::ZoneId;
  const std::optional<IpAddress> address = IpAddress::parse(addressField);
  if (!address || address->family() != family) return AddressSyntaxError::BadAddress;

  std::uint16_t port = 0;
  if (auto error = parseTcpPort(portField, port)) return *error;

  ParsedAddress parsed;
  parsed.verb = AddressVerb::Eprt;
  parsed.address = address;
  parsed.port = port;
  parsed.spanBegin = kArgumentStart;
  parsed.spanEnd = kArgumentStart + argument.size();
  parsed.delimiter = delimiter;
  return parsed;
}

ParseResult parse227(std::string_view line) {
  // RFC 1123 §4.1.2.6: the text before the numbers is not standardised, so scan the whole reply
  // text for the first run of tuple characters (digits, commas, signs) that holds a digit and a
  // comma. That first run decides: it is either the host-port tuple or the reason for refusal.
  // Non-printable bytes between tuple characters belong to the run (and make it fail); at its
  // edges they are text (a UTF-8 reply may put a non-breaking space right before the numbers).
  constexpr std::size_t kTextStart = 4;  // "227 " or "227-"
  std::size_t i = kTextStart;
  while (i < line.size()) {
    if (!isTupleChar(line[i])) {
      ++i;
      continue;
    }
    const std::size_t runBegin = i;
    std::size_t runEnd = i;  // one past the last tuple character
    bool hasDigit = false;
    bool hasComma = false;
    std::size_t j = i;
    while (j < line.size() && (isTupleChar(line[j]) || isNonPrintable(line[j]))) {
      if (isTupleChar(line[j])) {
        runEnd = j + 1;
        hasDigit = hasDigit || isDigit(line[j]);
        hasComma = hasComma || line[j] == ',';
      }
      ++j;
    }
    if (hasDigit && hasComma) {
      return parseHostPortTuple(line.substr(runBegin, runEnd - runBegin), AddressVerb::Reply227, runBegin);
    }
    i = j;
  }
  return AddressSyntaxError::NoNumbers;
}

ParseResult parse229(std::string_view line) {
  // RFC 2428 §3: "229 <text> (<d><d><d><tcp-port><d>)". The tuple starts at the first '('
  // followed by three identical valid delimiters, so a parenthesis in the text before it does not
  // matter. Failing that, the first '(' followed by a valid delimiter is taken as a malformed
  // tuple (to name its defect); a reply with neither carries no port (NoNumbers).
  constexpr std::size_t kTextStart = 4;
  const auto findOpen = [line](auto&& accept) {
    std::size_t at = line.find('(', kTextStart < line.size() ? kTextStart : line.size());
    while (at != std::string_view::npos && !accept(at)) at = line.find('(', at + 1);
    return at;
  };
  std::size_t open = findOpen([line](std::size_t at) {
    return at + 3 < line.size() && isValidDelimiter(line[at + 1]) && line[at + 2] == line[at + 1] &&
           line[at + 3] == line[at + 1];
  });
  if (open == std::string_view::npos) {
    open =
        findOpen([line](std::size_t at) { return at + 1 < line.size() && isValidDelimiter(line[at + 1]); });
  }
  if (open == std::string_view::npos) return AddressSyntaxError::NoNumbers;
  const char delimiter = line[open + 1];
  for (std::size_t k = open + 2; k <= open + 3; ++k) {
    if (k >= line.size()) return AddressSyntaxError::BadSyntax;
    if (line[k] != delimiter) return misplacedDelimiterError(line[k], delimiter);
  }
  const std::size_t portBegin = open + 4;
  std::size_t portEnd = portBegin;
  while (portEnd < line.size() && (isDigit(line[portEnd]) || isNonPrintable(line[portEnd]) ||
                                   (isSign(line[portEnd]) && line[portEnd] != delimiter))) {
    ++portEnd;
  }
  if (portEnd >= line.size()) return AddressSyntaxError::BadSyntax;
  if (line[portEnd] != delimiter) {
    return line[portEnd] == ')' ? AddressSyntaxError::BadSyntax
                                : misplacedDelimiterError(line[portEnd], delimiter);
  }
  if (portEnd + 1 >= line.size() || line[portEnd + 1] != ')') return AddressSyntaxError::BadSyntax;
  std::uint16_t port = 0;
  if (auto error = parseTcpPort(line.substr(portBegin, portEnd - portBegin), port)) return *error;

  ParsedAddress parsed;
  parsed.verb = AddressVerb::Reply229;
  parsed.port = port;
  parsed.spanBegin = portBegin;
  parsed.spanEnd = portEnd;
  parsed.delimiter = delimiter;
  return parsed;
}

std::string formatPortArgument(const Endpoint& endpoint) {
  if (!endpoint.address.isV4()) return {};
  const auto octets = endpoint.address.v4Octets();
  // "h1,h2,h3,h4,p1,p2": 6 numbers of at most 3 digits (each < 256) and 5 commas: 23 bytes.
  const std::array<unsigned, 6> numbers{octets[0],
                                        octets[1],
                                        octets[2],
                                        octets[3],
                                        static_cast<unsigned>(endpoint.port >> 8),
                                        static_cast<unsigned>(endpoint.port & 0xFF)};
  std::array<char, 23> text{};
  std::size_t length = 0;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const unsigned value = numbers[i];
    if (i != 0) text[length++] = ',';
    if (value >= 100) text[length++] = static_cast<char>('0' + value / 100);
    if (value >= 10) text[length++] = static_cast<char>('0' + value / 10 % 10);
    text[length++] = static_cast<char>('0' + value % 10);
  }
  return std::string(text.data(), length);
}

std::string formatEprtArgument(const Endpoint& endpoint, char delimiter) {
  std::string text;
  text += delimiter;
  text += endpoint.address.isV4() ? '1' : '2';
  text += delimiter;
  text += endpoint.address.toString();
  text += delimiter;
  text += std::to_string(endpoint.port);
  text += delimiter;
  return text;
}

std::string format227Tuple(const Endpoint& endpoint) { return formatPortArgument(endpoint); }

std::string format229Port(std::uint16_t port) {
  std::array<char, 8> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), port);
  return std::string(buffer.data(), result.ptr);
}

}  // namespace ftpalg
