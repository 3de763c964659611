// Address codec: parses the address-bearing FTP lines and formats their replacements.
//
//   PORT h1,h2,h3,h4,p1,p2            RFC 959 §4.1.2
//   EPRT <d>1<d>a.b.c.d<d>port<d>     RFC 2428 §2 (also <d>2<d>ipv6<d>port<d>)
//   227 ... h1,h2,h3,h4,p1,p2 ...     RFC 959 §4.2 / RFC 1123 §4.1.2.6 (scan for the six numbers)
//   229 ... (<d><d><d>port<d>)        RFC 2428 §3
//   LPRT / LPSV / 228                 RFC 1639: recognised, never translated
//
// Contract: every parser takes one complete line WITHOUT its terminator, never allocates, never
// throws, and returns either the value plus the exact byte span [spanBegin, spanEnd) of `line`
// that a rewrite replaces, or an AddressSyntaxError. Numbers are decimal (leading zeros are
// decimal, never octal), parsed with std::from_chars under explicit bounds: an octet has 1-3
// digits and is <= 255; p1/p2 likewise; an EPRT/229 port has 1-5 digits and is 1-65535. Signs,
// empty fields, wrong field counts, NUL, bytes >= 0x80 and Telnet IAC (0xFF) inside the parsed
// part are errors. Policy checks (port floor, anti-bounce) are NOT done here; port 0 is reported
// as a value for PORT/227 (p1=p2=0) so the policy can name it, but an EPRT/229 port of 0 is
// out of range (1-65535) and therefore a syntax error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "ftpalg/core/ip_address.hpp"

namespace ftpalg {

// The verb of an address-bearing line; its log name is verbName().
enum class AddressVerb : std::uint8_t { Port, Eprt, Reply227, Reply229, Lprt, Lpsv, Reply228 };
std::string_view verbName(AddressVerb verb);  // "PORT", "EPRT", "227", "229", "LPRT", "LPSV", "228"

#define FTPALG_ADDRESS_SYNTAX_ERRORS(X)                                                                    \
  X(BadSyntax, "bad_syntax")   /* shape wrong: missing separators, stray text */                           \
  X(FieldCount, "field_count") /* not exactly six numbers / four EPRT fields */                            \
  X(EmptyField, "empty_field")                                                                             \
  X(SignedNumber, "signed_number") /* '+' or '-' before a number */                                        \
  X(TooManyDigits, "too_many_digits")                                                                      \
  X(OctetOutOfRange, "octet_out_of_range") /* h or p field > 255 */                                        \
  X(PortOutOfRange, "port_out_of_range")   /* EPRT/229 port 0 or > 65535 */                                \
  X(BadDelimiter, "bad_delimiter") /* RFC 2428 delimiter not in 33-126 or a digit, hex letter, '.', ':' */ \
  X(DelimiterMismatch, "delimiter_mismatch") /* the four delimiters differ */                              \
  X(UnknownFamily, "unknown_family")         /* EPRT net-prt not 1 or 2 */                                 \
  X(BadAddress, "bad_address")               /* EPRT address text not valid for its family */              \
  X(ZoneId, "zone_id")                       /* IPv6 scope "%eth0" */                                      \
  X(NonPrintable, "nonprintable_bytes")      /* NUL, 8-bit or IAC in keyword or numbers */                 \
  X(NoNumbers, "no_numbers")                 /* a 227 without a six-number tuple ("227 Logout.") */

enum class AddressSyntaxError : std::uint8_t {
#define FTPALG_X(name, text) name,
  FTPALG_ADDRESS_SYNTAX_ERRORS(FTPALG_X)
#undef FTPALG_X
};
std::string_view syntaxErrorName(AddressSyntaxError error);

struct ParsedAddress {
  AddressVerb verb = AddressVerb::Port;
  // PORT, EPRT, 227: the announced address. 229: unset (always the control peer's address).
  std::optional<IpAddress> address;
  std::uint16_t port = 0;  // host order; may be 0 for PORT/227 (policy rejects it)
  // Byte range [spanBegin, spanEnd) of `line` that a rewrite replaces:
  //   PORT: "h1,...,p2" (first digit through last digit); 227: the six-number tuple likewise;
  //   EPRT: the whole argument from the first delimiter through the last ("|1|a.b.c.d|port|");
  //   229: the port digits only.
  std::size_t spanBegin = 0;
  std::size_t spanEnd = 0;
  char delimiter = 0;  // EPRT/229 delimiter; 0 otherwise
};

using ParseResult = std::variant<ParsedAddress, AddressSyntaxError>;

// Command keyword classification for client lines: the first token, which must start the line.
// Returns the keyword upper-cased in `upper` (up to 4 letters, RFC 959 §5.3.1) or std::nullopt if
// the line does not start with 3-4 ASCII letters followed by end of line or a space.
struct CommandWord {
  char upper[5] = {};
  std::size_t length = 0;
  std::string_view view() const { return {upper, length}; }
};
std::optional<CommandWord> commandWord(std::string_view line);

// A keyword disguised with bytes a server may drop or a middlebox may mangle (docs/adversarial-cases.md
// case 8): the first token (up to the first space) holds at least one NUL, C0 control, DEL or
// byte >= 0x80 (Telnet IAC 0xFF and its command bytes included, RFC 854) and otherwise only
// ASCII letters, 3-4 of them. Returns those letters upper-cased ("P\xFF\xF4ORT" -> "PORT") so
// the caller can refuse a PORT/EPRT as nonprintable_bytes; nullopt for anything else, including
// every line commandWord() accepts.
std::optional<CommandWord> obscuredCommandWord(std::string_view line);

// Reply classification for server lines (RFC 959 §4.2): three digits followed by ' ' (last or only
// line) or '-' (first line of a multi-line reply). A line of exactly three digits is accepted as
// a one-line reply without text (seen from some servers). nullopt when the line does not start
// that way. The code is not range-checked (RFC 2228 uses 6yz); callers judge the first digit.
struct ReplyCode {
  std::uint16_t code = 0;
  bool multiLineStart = false;  // "xyz-"
};
std::optional<ReplyCode> replyCode(std::string_view line);

// Each parser takes the whole line (keyword or code included) and reports spans relative to it.
// Preconditions: commandWord(line) is PORT / EPRT (resp. replyCode(line)->code is 227 / 229).
ParseResult parsePort(std::string_view line);
ParseResult parseEprt(std::string_view line);
ParseResult parse227(std::string_view line);  // span: the six-number tuple
ParseResult parse229(std::string_view line);  // span: the port digits

// Canonical replacement text for the span.
std::string formatPortArgument(const Endpoint& endpoint);                  // "h1,h2,h3,h4,p1,p2" (IPv4 only)
std::string formatEprtArgument(const Endpoint& endpoint, char delimiter);  // "|1|a.b.c.d|port|"
std::string format227Tuple(const Endpoint& endpoint);                      // same form as PORT
std::string format229Port(std::uint16_t port);                             // "6446"

}  // namespace ftpalg
