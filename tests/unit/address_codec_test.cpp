// Address codec: every accepted variant and every syntax refusal of docs/adversarial-cases.md
// (cases S1-S5 and 2, 3, 4, 8, 12), checked for value, exact span bytes and error name.
#include "ftpalg/ftp/address_codec.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ftpalg {
namespace {

using namespace std::string_literals;

enum class Parser { Port, Eprt, R227, R229 };

ParseResult runParser(Parser parser, std::string_view line) {
  switch (parser) {
    case Parser::Port: return parsePort(line);
    case Parser::Eprt: return parseEprt(line);
    case Parser::R227: return parse227(line);
    case Parser::R229: return parse229(line);
  }
  return AddressSyntaxError::BadSyntax;
}

// Test names come from the table rows.
template <typename Case>
std::string caseName(const ::testing::TestParamInfo<Case>& param) {
  return param.param.name;
}

std::string describe(const ParseResult& result) {
  if (const auto* error = std::get_if<AddressSyntaxError>(&result)) {
    return "error " + std::string(syntaxErrorName(*error));
  }
  return "parsed";
}

// ---------------------------------------------------------------------------------------------
// Accepted variants: value, span bytes, delimiter.

struct AcceptCase {
  const char* name;
  Parser parser;
  std::string line;
  const char* address;  // nullptr: no address (229)
  std::uint16_t port;
  const char* span;  // the exact bytes line[spanBegin, spanEnd)
  char delimiter;
};

void PrintTo(const AcceptCase& c, std::ostream* os) { *os << c.name; }

class AcceptedVariant : public ::testing::TestWithParam<AcceptCase> {};

TEST_P(AcceptedVariant, ParsesValueAndExactSpan) {
  const AcceptCase& c = GetParam();
  const ParseResult result = runParser(c.parser, c.line);
  ASSERT_TRUE(std::holds_alternative<ParsedAddress>(result)) << describe(result);
  const ParsedAddress& parsed = std::get<ParsedAddress>(result);
  if (c.address == nullptr) {
    EXPECT_FALSE(parsed.address.has_value());
  } else {
    ASSERT_TRUE(parsed.address.has_value());
    EXPECT_EQ(*parsed.address, IpAddress::parse(c.address).value());
  }
  EXPECT_EQ(parsed.port, c.port);
  ASSERT_LE(parsed.spanBegin, parsed.spanEnd);
  ASSERT_LE(parsed.spanEnd, c.line.size());
  EXPECT_EQ(c.line.substr(parsed.spanBegin, parsed.spanEnd - parsed.spanBegin), c.span);
  EXPECT_EQ(parsed.delimiter, c.delimiter);
}

const AcceptCase kAcceptCases[] = {
    // PORT (RFC 959 §4.1.2), keyword in any case, leading zeros decimal.
    {"port_upper", Parser::Port, "PORT 192,168,77,10,195,80", "192.168.77.10", 50000, "192,168,77,10,195,80",
     0},
    {"port_lower", Parser::Port, "port 192,168,77,10,195,80", "192.168.77.10", 50000, "192,168,77,10,195,80",
     0},
    {"port_mixed", Parser::Port, "Port 192,168,77,10,4,1", "192.168.77.10", 1025, "192,168,77,10,4,1", 0},
    {"port_leading_zeros_are_decimal", Parser::Port, "PORT 192,168,077,010,004,010", "192.168.77.10", 1034,
     "192,168,077,010,004,010", 0},
    {"port_zero_reported_as_value", Parser::Port, "PORT 192,168,77,10,0,0", "192.168.77.10", 0,
     "192,168,77,10,0,0", 0},
    {"port_max", Parser::Port, "PORT 255,255,255,255,255,255", "255.255.255.255", 65535,
     "255,255,255,255,255,255", 0},
    {"port_trailing_space_outside_span", Parser::Port, "PORT 192,168,77,10,195,80 ", "192.168.77.10", 50000,
     "192,168,77,10,195,80", 0},
    // EPRT (RFC 2428 §2).
    {"eprt_v4", Parser::Eprt, "EPRT |1|192.168.77.10|50000|", "192.168.77.10", 50000,
     "|1|192.168.77.10|50000|", '|'},
    {"eprt_lower", Parser::Eprt, "eprt |1|192.168.77.10|50000|", "192.168.77.10", 50000,
     "|1|192.168.77.10|50000|", '|'},
    {"eprt_mixed", Parser::Eprt, "Eprt |1|192.168.77.10|50000|", "192.168.77.10", 50000,
     "|1|192.168.77.10|50000|", '|'},
    {"eprt_v6", Parser::Eprt, "EPRT |2|2001:db8::10|50000|", "2001:db8::10", 50000, "|2|2001:db8::10|50000|",
     '|'},
    {"eprt_v6_full_form", Parser::Eprt, "EPRT |2|2001:0db8:0000:0000:0000:0000:0000:0010|1025|",
     "2001:db8::10", 1025, "|2|2001:0db8:0000:0000:0000:0000:0000:0010|1025|", '|'},
    {"eprt_v6_embedded_v4", Parser::Eprt, "EPRT |2|::ffff:192.0.2.7|1025|", "::ffff:192.0.2.7", 1025,
     "|2|::ffff:192.0.2.7|1025|", '|'},
    {"eprt_delimiter_bang", Parser::Eprt, "EPRT !1!192.168.77.10!50000!", "192.168.77.10", 50000,
     "!1!192.168.77.10!50000!", '!'},
    {"eprt_delimiter_percent", Parser::Eprt, "EPRT %1%192.168.77.10%50000%", "192.168.77.10", 50000,
     "%1%192.168.77.10%50000%", '%'},
    {"eprt_delimiter_minus", Parser::Eprt, "EPRT -1-192.168.77.10-50000-", "192.168.77.10", 50000,
     "-1-192.168.77.10-50000-", '-'},
    {"eprt_delimiter_plus", Parser::Eprt, "EPRT +2+2001:db8::10+50000+", "2001:db8::10", 50000,
     "+2+2001:db8::10+50000+", '+'},
    {"eprt_delimiter_non_hex_letter", Parser::Eprt, "EPRT z1z192.168.77.10z50000z", "192.168.77.10", 50000,
     "z1z192.168.77.10z50000z", 'z'},
    {"eprt_delimiter_tilde", Parser::Eprt, "EPRT ~1~192.168.77.10~50000~", "192.168.77.10", 50000,
     "~1~192.168.77.10~50000~", '~'},
    {"eprt_port_leading_zeros", Parser::Eprt, "EPRT |1|192.168.77.10|01025|", "192.168.77.10", 1025,
     "|1|192.168.77.10|01025|", '|'},
    {"eprt_port_max", Parser::Eprt, "EPRT |1|192.168.77.10|65535|", "192.168.77.10", 65535,
     "|1|192.168.77.10|65535|", '|'},
    {"eprt_trailing_space_outside_span", Parser::Eprt, "EPRT |1|192.168.77.10|50000| ", "192.168.77.10",
     50000, "|1|192.168.77.10|50000|", '|'},
    // 227 (RFC 959 §4.2, RFC 1123 §4.1.2.6).
    {"r227_parenthesised", Parser::R227, "227 Entering Passive Mode (203,0,113,10,195,80)", "203.0.113.10",
     50000, "203,0,113,10,195,80", 0},
    {"r227_trailing_dot", Parser::R227, "227 Entering Passive Mode (203,0,113,10,195,80).", "203.0.113.10",
     50000, "203,0,113,10,195,80", 0},
    {"r227_no_parentheses_after_dot", Parser::R227, "227 Entering passive mode. 203,0,113,10,195,80",
     "203.0.113.10", 50000, "203,0,113,10,195,80", 0},
    {"r227_equals_sign", Parser::R227, "227 =203,0,113,10,195,80", "203.0.113.10", 50000,
     "203,0,113,10,195,80", 0},
    {"r227_no_parentheses_trailing_dot", Parser::R227, "227 Entering Passive Mode 203,0,113,10,195,80.",
     "203.0.113.10", 50000, "203,0,113,10,195,80", 0},
    {"r227_upper_case_text", Parser::R227, "227 ENTERING PASSIVE MODE (203,0,113,10,195,80)", "203.0.113.10",
     50000, "203,0,113,10,195,80", 0},
    {"r227_lower_case_text", Parser::R227, "227 entering passive mode (203,0,113,10,195,80)", "203.0.113.10",
     50000, "203,0,113,10,195,80", 0},
    {"r227_parenthesis_in_text_before_tuple", Parser::R227,
     "227 Entering Passive Mode (see RFC 959) (203,0,113,10,195,80)", "203.0.113.10", 50000,
     "203,0,113,10,195,80", 0},
    {"r227_unclosed_parenthesis_before_tuple", Parser::R227, "227 Passive (ok (203,0,113,10,195,80)",
     "203.0.113.10", 50000, "203,0,113,10,195,80", 0},
    {"r227_multiline_first_line", Parser::R227, "227-Entering Passive Mode (203,0,113,10,195,80)",
     "203.0.113.10", 50000, "203,0,113,10,195,80", 0},
    {"r227_leading_zeros_are_decimal", Parser::R227, "227 Entering Passive Mode (203,000,113,010,004,010)",
     "203.0.113.10", 1034, "203,000,113,010,004,010", 0},
    {"r227_port_zero_reported_as_value", Parser::R227, "227 Entering Passive Mode (203,0,113,10,0,0)",
     "203.0.113.10", 0, "203,0,113,10,0,0", 0},
    {"r227_utf8_text_before_tuple", Parser::R227,
     "227 Entr\xC3\xA9"
     "e en mode passif:\xC2\xA0"
     "203,0,113,10,195,80",
     "203.0.113.10", 50000, "203,0,113,10,195,80", 0},
    {"r227_numbers_without_comma_before_tuple", Parser::R227, "227 Mode 2 of 3: (203,0,113,10,195,80)",
     "203.0.113.10", 50000, "203,0,113,10,195,80", 0},
    // 229 (RFC 2428 §3).
    {"r229_standard", Parser::R229, "229 Entering Extended Passive Mode (|||6446|)", nullptr, 6446, "6446",
     '|'},
    {"r229_other_delimiter", Parser::R229, "229 Entering Extended Passive Mode (!!!6446!)", nullptr, 6446,
     "6446", '!'},
    {"r229_minimal", Parser::R229, "229 (|||6446|)", nullptr, 6446, "6446", '|'},
    {"r229_trailing_dot", Parser::R229, "229 Entering Extended Passive Mode (|||6446|).", nullptr, 6446,
     "6446", '|'},
    {"r229_lower_case_text", Parser::R229, "229 entering extended passive mode (|||6446|)", nullptr, 6446,
     "6446", '|'},
    {"r229_leading_zeros", Parser::R229, "229 Entering Extended Passive Mode (|||06446|)", nullptr, 6446,
     "06446", '|'},
    {"r229_parenthesis_in_text_before_tuple", Parser::R229, "229 Extended Passive (ok) (|||6446|)", nullptr,
     6446, "6446", '|'},
    {"r229_multiline_first_line", Parser::R229, "229-Entering Extended Passive Mode (|||6446|)", nullptr,
     6446, "6446", '|'},
    {"r229_port_max", Parser::R229, "229 (|||65535|)", nullptr, 65535, "65535", '|'},
    {"r229_delimiter_minus", Parser::R229, "229 (---6446-)", nullptr, 6446, "6446", '-'},
};

INSTANTIATE_TEST_SUITE_P(AddressCodec, AcceptedVariant, ::testing::ValuesIn(kAcceptCases),
                         caseName<AcceptCase>);

// ---------------------------------------------------------------------------------------------
// Refusals: the exact error name.

struct RefuseCase {
  const char* name;
  Parser parser;
  std::string line;
  AddressSyntaxError expected;
};

void PrintTo(const RefuseCase& c, std::ostream* os) { *os << c.name; }

class RefusedSyntax : public ::testing::TestWithParam<RefuseCase> {};

TEST_P(RefusedSyntax, ReportsTheNamedError) {
  const RefuseCase& c = GetParam();
  const ParseResult result = runParser(c.parser, c.line);
  ASSERT_TRUE(std::holds_alternative<AddressSyntaxError>(result)) << "accepted: " << c.line;
  EXPECT_EQ(syntaxErrorName(std::get<AddressSyntaxError>(result)), syntaxErrorName(c.expected));
}

using E = AddressSyntaxError;

const RefuseCase kRefuseCases[] = {
    // Item 3: octet above 255, sign, too many digits, wrong field count, empty fields.
    {"port_host_octet_256", Parser::Port, "PORT 192,168,77,256,195,80", E::OctetOutOfRange},
    {"port_p1_256", Parser::Port, "PORT 192,168,77,10,256,22", E::OctetOutOfRange},
    {"port_p2_999", Parser::Port, "PORT 192,168,77,10,4,999", E::OctetOutOfRange},
    {"port_minus_sign", Parser::Port, "PORT 192,168,77,10,-1,80", E::SignedNumber},
    {"port_plus_sign", Parser::Port, "PORT 192,168,77,+4,195,80", E::SignedNumber},
    {"port_four_digits", Parser::Port, "PORT 192,168,77,0010,195,80", E::TooManyDigits},
    {"port_five_fields", Parser::Port, "PORT 192,168,77,10,195", E::FieldCount},
    {"port_seven_fields", Parser::Port, "PORT 192,168,77,10,195,80,1", E::FieldCount},
    {"port_one_field", Parser::Port, "PORT 192", E::FieldCount},
    {"port_empty_middle_field", Parser::Port, "PORT 192,168,,10,195,80", E::EmptyField},
    {"port_empty_last_field", Parser::Port, "PORT 192,168,77,10,195,", E::EmptyField},
    {"port_empty_first_field", Parser::Port, "PORT ,168,77,10,195,80", E::EmptyField},
    {"port_empty_argument", Parser::Port, "PORT ", E::EmptyField},
    {"port_no_argument", Parser::Port, "PORT", E::BadSyntax},
    {"port_parenthesised", Parser::Port, "PORT (192,168,77,10,195,80)", E::BadSyntax},
    {"port_space_inside", Parser::Port, "PORT 192, 168,77,10,195,80", E::BadSyntax},
    {"port_two_spaces_before", Parser::Port, "PORT  192,168,77,10,195,80", E::BadSyntax},
    {"port_dotted_address", Parser::Port, "PORT 192.168.77.10,195,80", E::BadSyntax},
    {"port_hex_number", Parser::Port, "PORT 0xC0,168,77,10,195,80", E::BadSyntax},
    {"port_trailing_text", Parser::Port, "PORT 192,168,77,10,195,80 x", E::BadSyntax},
    // Item 8: NUL, 8-bit, IAC inside a number.
    {"port_nul_in_number", Parser::Port,
     "PORT 192,16\0"
     "8,77,10,195,80"s,
     E::NonPrintable},
    {"port_iac_in_number", Parser::Port,
     "PORT 192,168,7\xFF\xF4"
     "7,10,195,80",
     E::NonPrintable},
    {"port_8bit_in_number", Parser::Port, "PORT 192,168,77,10,19\xB5,80", E::NonPrintable},
    {"port_cr_in_number", Parser::Port, "PORT 192,168,77,10,195,8\r0", E::NonPrintable},

    // EPRT: item 2 (port 0), item 3, item 4 (zone ids, delimiters), item 8.
    {"eprt_port_zero", Parser::Eprt, "EPRT |1|192.168.77.10|0|", E::PortOutOfRange},
    {"eprt_port_zeros", Parser::Eprt, "EPRT |1|192.168.77.10|00000|", E::PortOutOfRange},
    {"eprt_port_70000", Parser::Eprt, "EPRT |1|192.168.77.10|70000|", E::PortOutOfRange},
    {"eprt_port_65536", Parser::Eprt, "EPRT |1|192.168.77.10|65536|", E::PortOutOfRange},
    {"eprt_port_six_digits", Parser::Eprt, "EPRT |1|192.168.77.10|050000|", E::TooManyDigits},
    {"eprt_port_minus", Parser::Eprt, "EPRT |1|192.168.77.10|-1|", E::SignedNumber},
    {"eprt_port_plus", Parser::Eprt, "EPRT |1|192.168.77.10|+4|", E::SignedNumber},
    {"eprt_port_letters", Parser::Eprt, "EPRT |1|192.168.77.10|5x|", E::BadSyntax},
    {"eprt_family_signed", Parser::Eprt, "EPRT |+1|192.168.77.10|50000|", E::SignedNumber},
    {"eprt_family_3", Parser::Eprt, "EPRT |3|192.168.77.10|50000|", E::UnknownFamily},
    {"eprt_family_0", Parser::Eprt, "EPRT |0|192.168.77.10|50000|", E::UnknownFamily},
    {"eprt_family_text", Parser::Eprt, "EPRT |x|192.168.77.10|50000|", E::UnknownFamily},
    {"eprt_zone_id", Parser::Eprt, "EPRT |2|fe80::1%eth0|50000|", E::ZoneId},
    {"eprt_zone_id_numeric", Parser::Eprt, "EPRT |2|fe80::1%2|50000|", E::ZoneId},
    {"eprt_v4_octet_256", Parser::Eprt, "EPRT |1|192.168.77.256|50000|", E::BadAddress},
    {"eprt_v4_three_octets", Parser::Eprt, "EPRT |1|192.168.77|50000|", E::BadAddress},
    {"eprt_family_1_with_v6", Parser::Eprt, "EPRT |1|2001:db8::10|50000|", E::BadAddress},
    {"eprt_family_2_with_v4", Parser::Eprt, "EPRT |2|192.168.77.10|50000|", E::BadAddress},
    {"eprt_v6_garbage", Parser::Eprt, "EPRT |2|2001:db8:::10|50000|", E::BadAddress},
    {"eprt_hostname", Parser::Eprt, "EPRT |1|ftp.example|50000|", E::BadAddress},
    {"eprt_mismatch_third_delimiter", Parser::Eprt, "EPRT |1|192.168.77.10!50000|", E::DelimiterMismatch},
    {"eprt_mismatch_second_delimiter", Parser::Eprt, "EPRT |1!192.168.77.10|50000|", E::DelimiterMismatch},
    {"eprt_mismatch_last_delimiter", Parser::Eprt, "EPRT |1|192.168.77.10|50000!", E::DelimiterMismatch},
    {"eprt_mismatch_v6", Parser::Eprt, "EPRT #2#2001:db8::10$50000#", E::DelimiterMismatch},
    {"eprt_delimiter_digit", Parser::Eprt, "EPRT 1|192.168.77.10|50000|", E::BadDelimiter},
    {"eprt_delimiter_hex_letter", Parser::Eprt, "EPRT a1a192.168.77.10a50000a", E::BadDelimiter},
    {"eprt_delimiter_dot", Parser::Eprt, "EPRT .1.192.168.77.10.50000.", E::BadDelimiter},
    {"eprt_delimiter_colon", Parser::Eprt, "EPRT :2:2001:db8::10:50000:", E::BadDelimiter},
    {"eprt_delimiter_space", Parser::Eprt, "EPRT  |1|192.168.77.10|50000|", E::BadDelimiter},
    {"eprt_five_fields", Parser::Eprt, "EPRT |1|192.168.77.10|50000|7|", E::FieldCount},
    {"eprt_two_fields", Parser::Eprt, "EPRT |1|192.168.77.10|", E::FieldCount},
    {"eprt_missing_last_delimiter", Parser::Eprt, "EPRT |1|192.168.77.10|50000", E::FieldCount},
    {"eprt_only_delimiter", Parser::Eprt, "EPRT |", E::FieldCount},
    {"eprt_empty_family", Parser::Eprt, "EPRT ||192.168.77.10|50000|", E::EmptyField},
    {"eprt_empty_address", Parser::Eprt, "EPRT |1||50000|", E::EmptyField},
    {"eprt_empty_port", Parser::Eprt, "EPRT |1|192.168.77.10||", E::EmptyField},
    {"eprt_no_argument", Parser::Eprt, "EPRT", E::BadSyntax},
    {"eprt_nul_in_port", Parser::Eprt,
     "EPRT |1|192.168.77.10|500\0"
     "00|"s,
     E::NonPrintable},
    {"eprt_iac_in_port", Parser::Eprt,
     "EPRT |1|192.168.77.10|500\xFF\xF4"
     "00|",
     E::NonPrintable},
    {"eprt_8bit_in_address", Parser::Eprt, "EPRT |1|192.168.7\xB7.10|50000|", E::NonPrintable},
    {"eprt_del_as_delimiter", Parser::Eprt,
     "EPRT \x7F"
     "1\x7F"
     "192.168.77.10\x7F"
     "50000\x7F",
     E::NonPrintable},

    // 227: item 12 (no numbers), item 3, item 8.
    {"r227_logout", Parser::R227, "227 Logout.", E::NoNumbers},
    {"r227_text_only", Parser::R227, "227 Entering Passive Mode", E::NoNumbers},
    {"r227_bare_code", Parser::R227, "227", E::NoNumbers},
    {"r227_lone_numbers", Parser::R227, "227 Entering Passive Mode 2 3", E::NoNumbers},
    {"r227_host_octet_256", Parser::R227, "227 Entering Passive Mode (203,0,113,256,195,80)",
     E::OctetOutOfRange},
    {"r227_p1_256", Parser::R227, "227 Entering Passive Mode (203,0,113,10,256,22)", E::OctetOutOfRange},
    {"r227_minus_sign", Parser::R227, "227 Entering Passive Mode (203,0,113,10,-1,80)", E::SignedNumber},
    {"r227_leading_minus_sign", Parser::R227, "227 Entering Passive Mode (-203,0,113,10,195,80)",
     E::SignedNumber},
    {"r227_plus_sign", Parser::R227, "227 Entering Passive Mode (203,0,113,+4,195,80)", E::SignedNumber},
    {"r227_four_digits", Parser::R227, "227 Entering Passive Mode (203,0,113,1000,195,80)", E::TooManyDigits},
    {"r227_five_numbers", Parser::R227, "227 Entering Passive Mode (203,0,113,10,195)", E::FieldCount},
    {"r227_seven_numbers", Parser::R227, "227 Entering Passive Mode (203,0,113,10,195,80,1)", E::FieldCount},
    {"r227_dotted_address", Parser::R227, "227 Entering Passive Mode (203.0.113.10,195,80)", E::FieldCount},
    {"r227_empty_field", Parser::R227, "227 Entering Passive Mode (203,0,,10,195,80)", E::EmptyField},
    {"r227_trailing_comma", Parser::R227, "227 Entering Passive Mode (203,0,113,10,195,80,)", E::EmptyField},
    {"r227_nul_in_number", Parser::R227,
     "227 Entering Passive Mode (203,0,11\0"
     "3,10,195,80)"s,
     E::NonPrintable},
    {"r227_iac_in_number", Parser::R227,
     "227 Entering Passive Mode (203,0,113,1\xFF\xF4"
     "0,195,80)",
     E::NonPrintable},
    {"r227_8bit_between_numbers", Parser::R227, "227 Entering Passive Mode (203,0,113,10\xA0,195,80)",
     E::NonPrintable},

    // 229: item 2 (port 0), item 3, item 4 (delimiters), item 8, item 12.
    {"r229_port_zero", Parser::R229, "229 Entering Extended Passive Mode (|||0|)", E::PortOutOfRange},
    {"r229_port_70000", Parser::R229, "229 Entering Extended Passive Mode (|||70000|)", E::PortOutOfRange},
    {"r229_port_six_digits", Parser::R229, "229 Entering Extended Passive Mode (|||064460|)",
     E::TooManyDigits},
    {"r229_minus_sign", Parser::R229, "229 Entering Extended Passive Mode (|||-1|)", E::SignedNumber},
    {"r229_plus_sign", Parser::R229, "229 Entering Extended Passive Mode (|||+6446|)", E::SignedNumber},
    {"r229_empty_port", Parser::R229, "229 Entering Extended Passive Mode (||||)", E::EmptyField},
    {"r229_mismatch_last_delimiter", Parser::R229, "229 Entering Extended Passive Mode (|||6446!)",
     E::DelimiterMismatch},
    {"r229_mismatch_middle_delimiter", Parser::R229, "229 Entering Extended Passive Mode (|!|6446|)",
     E::DelimiterMismatch},
    {"r229_address_given", Parser::R229, "229 Entering Extended Passive Mode (|1|203.0.113.10|6446|)",
     E::BadSyntax},
    {"r229_missing_last_delimiter", Parser::R229, "229 Entering Extended Passive Mode (|||6446)",
     E::BadSyntax},
    {"r229_missing_close_parenthesis", Parser::R229, "229 Entering Extended Passive Mode (|||6446|",
     E::BadSyntax},
    {"r229_letters_in_port", Parser::R229, "229 Entering Extended Passive Mode (|||64x6|)",
     E::DelimiterMismatch},
    {"r229_nul_in_port", Parser::R229,
     "229 Entering Extended Passive Mode (|||64\0"
     "46|)"s,
     E::NonPrintable},
    {"r229_iac_in_port", Parser::R229,
     "229 Entering Extended Passive Mode (|||64\xFF\xF4"
     "46|)",
     E::NonPrintable},
    {"r229_no_tuple", Parser::R229, "229 Entering Extended Passive Mode", E::NoNumbers},
    {"r229_bare_code", Parser::R229, "229", E::NoNumbers},
};

INSTANTIATE_TEST_SUITE_P(AddressCodec, RefusedSyntax, ::testing::ValuesIn(kRefuseCases),
                         caseName<RefuseCase>);

// ---------------------------------------------------------------------------------------------
// EPRT delimiters: every byte 0-255 in all four positions.

TEST(EprtDelimiter, EveryPrintableNonAddressCharacterIsAcceptedAndEveryOtherByteRefused) {
  for (int byte = 0; byte < 256; ++byte) {
    const char d = static_cast<char>(byte);
    const std::string argument = std::string{d} + "1" + d + "192.0.2.7" + d + "1025" + d;
    const std::string line = "EPRT " + argument;
    const ParseResult result = parseEprt(line);
    const bool printable = byte >= 33 && byte <= 126;
    const bool digit = byte >= '0' && byte <= '9';
    const bool hexLetter = (byte >= 'a' && byte <= 'f') || (byte >= 'A' && byte <= 'F');
    const bool addressPunctuation = byte == '.' || byte == ':';
    if (printable && !digit && !hexLetter && !addressPunctuation) {
      ASSERT_TRUE(std::holds_alternative<ParsedAddress>(result))
          << "byte " << byte << ": " << describe(result);
      const ParsedAddress& parsed = std::get<ParsedAddress>(result);
      EXPECT_EQ(parsed.delimiter, d);
      EXPECT_EQ(line.substr(parsed.spanBegin, parsed.spanEnd - parsed.spanBegin), argument);
    } else {
      ASSERT_TRUE(std::holds_alternative<AddressSyntaxError>(result)) << "byte " << byte;
      const AddressSyntaxError error = std::get<AddressSyntaxError>(result);
      const bool nonPrintable = byte < 0x20 || byte >= 0x7F;
      EXPECT_EQ(syntaxErrorName(error), syntaxErrorName(nonPrintable ? E::NonPrintable : E::BadDelimiter))
          << "byte " << byte;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Keyword and reply-code classification.

struct CommandWordCase {
  const char* name;
  std::string line;
  const char* expected;  // nullptr: not a command word
};

void PrintTo(const CommandWordCase& c, std::ostream* os) { *os << c.name; }

class CommandWordClassification : public ::testing::TestWithParam<CommandWordCase> {};

TEST_P(CommandWordClassification, UpperCasesThreeOrFourLetterKeywordsAtLineStart) {
  const CommandWordCase& c = GetParam();
  const auto word = commandWord(c.line);
  if (c.expected == nullptr) {
    EXPECT_FALSE(word.has_value()) << word->view();
  } else {
    ASSERT_TRUE(word.has_value());
    EXPECT_EQ(word->view(), c.expected);
  }
}

const CommandWordCase kCommandWordCases[] = {
    {"upper", "PORT 192,168,77,10,195,80", "PORT"},
    {"lower", "port 192,168,77,10,195,80", "PORT"},
    {"mixed", "Eprt |1|192.168.77.10|50000|", "EPRT"},
    {"three_letters", "CWD /pub", "CWD"},
    {"alone", "PASV", "PASV"},
    {"five_letters", "PORTX 1,2,3,4,5,6", nullptr},
    {"two_letters", "PO 1,2,3,4,5,6", nullptr},
    {"leading_space", " PORT 1,2,3,4,5,6", nullptr},
    {"tab_separator", "PORT\t1,2,3,4,5,6", nullptr},
    {"digit_in_keyword", "P0RT 1,2,3,4,5,6", nullptr},
    {"nul_in_keyword", "PO\0RT 1,2,3,4,5,6"s, nullptr},
    {"iac_in_keyword", "P\xFF\xF4ORT 1,2,3,4,5,6", nullptr},
    {"empty", "", nullptr},
    {"reply_line", "227 Entering Passive Mode (203,0,113,10,195,80)", nullptr},
};

INSTANTIATE_TEST_SUITE_P(AddressCodec, CommandWordClassification, ::testing::ValuesIn(kCommandWordCases),
                         caseName<CommandWordCase>);

struct ObscuredCase {
  const char* name;
  std::string line;
  const char* expected;  // nullptr: not an obscured keyword
};

void PrintTo(const ObscuredCase& c, std::ostream* os) { *os << c.name; }

class ObscuredKeyword : public ::testing::TestWithParam<ObscuredCase> {};

TEST_P(ObscuredKeyword, RecoversLettersHiddenByNonPrintableBytes) {
  const ObscuredCase& c = GetParam();
  const auto word = obscuredCommandWord(c.line);
  if (c.expected == nullptr) {
    EXPECT_FALSE(word.has_value()) << word->view();
  } else {
    ASSERT_TRUE(word.has_value());
    EXPECT_EQ(word->view(), c.expected);
  }
}

const ObscuredCase kObscuredCases[] = {
    {"iac_ip", "P\xFF\xF4ORT 192,168,77,10,195,80", "PORT"},
    {"iac_iac", "PO\xFF\xFFRT 192,168,77,10,195,80", "PORT"},
    {"nul", "EP\0RT |1|192.168.77.10|50000|"s, "EPRT"},
    {"leading_iac_dm",
     "\xFF\xF2"
     "eprt |1|192.168.77.10|50000|",
     "EPRT"},
    {"eight_bit", "POR\xD4 192,168,77,10,195,80", "POR"},
    {"clean_keyword_is_not_obscured", "PORT 192,168,77,10,195,80", nullptr},
    {"digit_in_token",
     "P\xFF"
     "0RT 1,2,3,4,5,6",
     nullptr},
    {"too_many_letters", "PO\xFFRTS 1,2", nullptr},
};

INSTANTIATE_TEST_SUITE_P(AddressCodec, ObscuredKeyword, ::testing::ValuesIn(kObscuredCases),
                         caseName<ObscuredCase>);

struct ReplyCodeCase {
  const char* name;
  std::string line;
  int code;  // -1: not a reply line
  bool multiLineStart;
};

void PrintTo(const ReplyCodeCase& c, std::ostream* os) { *os << c.name; }

class ReplyCodeClassification : public ::testing::TestWithParam<ReplyCodeCase> {};

TEST_P(ReplyCodeClassification, ReadsThreeDigitsAndTheSeparator) {
  const ReplyCodeCase& c = GetParam();
  const auto reply = replyCode(c.line);
  if (c.code < 0) {
    EXPECT_FALSE(reply.has_value()) << reply->code;
  } else {
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->code, c.code);
    EXPECT_EQ(reply->multiLineStart, c.multiLineStart);
  }
}

const ReplyCodeCase kReplyCodeCases[] = {
    {"single_line", "227 Entering Passive Mode (203,0,113,10,195,80)", 227, false},
    {"multi_line_start", "227-Entering Passive Mode", 227, true},
    {"bare_code", "226", 226, false},
    {"greeting", "220 ftp.example ready", 220, false},
    {"four_digits", "2270 x", -1, false},
    {"two_digits", "22 x", -1, false},
    {"letter_after_code", "227x", -1, false},
    {"indented_continuation", " 227 Entering Passive Mode", -1, false},
    {"command_line", "PORT 1,2,3,4,5,6", -1, false},
};

INSTANTIATE_TEST_SUITE_P(AddressCodec, ReplyCodeClassification, ::testing::ValuesIn(kReplyCodeCases),
                         caseName<ReplyCodeCase>);

// ---------------------------------------------------------------------------------------------
// Formatting and round trips.

Endpoint endpoint(const char* address, std::uint16_t port) {
  return Endpoint{IpAddress::parse(address).value(), port};
}

TEST(AddressFormat, PortArgumentIsSixDecimalNumbers) {
  EXPECT_EQ(formatPortArgument(endpoint("203.0.113.1", 50000)), "203,0,113,1,195,80");
  EXPECT_EQ(formatPortArgument(endpoint("192.0.2.7", 1025)), "192,0,2,7,4,1");
}

// Every octet value in every position and every port: the text is the plain decimal form
// (no leading zeros), checked against an independent std::to_string formatting.
TEST(AddressFormat, PortArgumentOfEveryOctetAndPortValueIsPlainDecimal) {
  for (unsigned value = 0; value < 256; ++value) {
    const auto v = std::to_string(value);
    const auto address =
        IpAddress::fromV4Octets({static_cast<std::uint8_t>(value), 1, static_cast<std::uint8_t>(value),
                                 static_cast<std::uint8_t>(255 - value)});
    EXPECT_EQ(formatPortArgument(Endpoint{address, 1024}),
              v + ",1," + v + "," + std::to_string(255 - value) + ",4,0");
  }
  const auto address = IpAddress::fromV4Octets({192, 0, 2, 7});
  for (std::uint32_t port = 0; port <= 65535; ++port) {
    const std::string expected = "192,0,2,7," + std::to_string(port >> 8) + "," + std::to_string(port & 0xFF);
    ASSERT_EQ(formatPortArgument(Endpoint{address, static_cast<std::uint16_t>(port)}), expected) << port;
    ASSERT_EQ(format229Port(static_cast<std::uint16_t>(port)), std::to_string(port)) << port;
  }
}

TEST(AddressFormat, PortArgumentOfAnIpv6EndpointIsEmpty) {
  EXPECT_EQ(formatPortArgument(endpoint("2001:db8::1", 1025)), "");
}

TEST(AddressFormat, Tuple227HasThePortForm) {
  EXPECT_EQ(format227Tuple(endpoint("198.51.100.7", 6446)), "198,51,100,7,25,46");
}

TEST(AddressFormat, EprtArgumentUsesTheGivenDelimiterAndCanonicalAddress) {
  EXPECT_EQ(formatEprtArgument(endpoint("203.0.113.1", 50000), '|'), "|1|203.0.113.1|50000|");
  EXPECT_EQ(formatEprtArgument(endpoint("2001:db8:0:0::1", 1025), '!'), "!2!2001:db8::1!1025!");
}

TEST(AddressFormat, Port229IsDecimalWithoutLeadingZeros) {
  EXPECT_EQ(format229Port(6446), "6446");
  EXPECT_EQ(format229Port(65535), "65535");
  EXPECT_EQ(format229Port(1), "1");
}

// format(parse(x)) re-parses to the same value.
TEST(AddressRoundTrip, FormattedReplacementOfEveryAcceptedVariantReparsesToTheSameValue) {
  for (const AcceptCase& c : kAcceptCases) {
    SCOPED_TRACE(c.name);
    const ParseResult first = runParser(c.parser, c.line);
    ASSERT_TRUE(std::holds_alternative<ParsedAddress>(first));
    const ParsedAddress& parsed = std::get<ParsedAddress>(first);
    std::string replacement;
    switch (c.parser) {
      case Parser::Port: replacement = formatPortArgument({*parsed.address, parsed.port}); break;
      case Parser::Eprt:
        replacement = formatEprtArgument({*parsed.address, parsed.port}, parsed.delimiter);
        break;
      case Parser::R227: replacement = format227Tuple({*parsed.address, parsed.port}); break;
      case Parser::R229: replacement = format229Port(parsed.port); break;
    }
    const std::string rewritten =
        c.line.substr(0, parsed.spanBegin) + replacement + c.line.substr(parsed.spanEnd);
    const ParseResult second = runParser(c.parser, rewritten);
    ASSERT_TRUE(std::holds_alternative<ParsedAddress>(second)) << rewritten;
    const ParsedAddress& reparsed = std::get<ParsedAddress>(second);
    EXPECT_EQ(reparsed.address, parsed.address);
    EXPECT_EQ(reparsed.port, parsed.port);
    EXPECT_EQ(rewritten.substr(reparsed.spanBegin, reparsed.spanEnd - reparsed.spanBegin), replacement);
  }
}

IpAddress randomAddress(std::mt19937& random, bool v6) {
  if (!v6) {
    return IpAddress::fromV4HostOrder(static_cast<std::uint32_t>(random()));
  }
  std::array<std::uint8_t, 16> bytes{};
  // Runs of zeros exercise "::" compression.
  const unsigned zeroMask = random();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = (zeroMask >> (i / 2)) & 1 ? 0 : static_cast<std::uint8_t>(random());
  }
  return IpAddress::fromV6Bytes(bytes);
}

TEST(AddressRoundTrip, RandomEndpointsSurviveFormatThenParse) {
  std::mt19937 random(20240611);
  const std::string delimiters = "|!#$%&'()*+,-/;<=>?@[]^_`{}~zZ";
  for (int i = 0; i < 20000; ++i) {
    const bool v6 = i % 2 == 1;
    const Endpoint original{randomAddress(random, v6), static_cast<std::uint16_t>(1 + random() % 65535)};
    SCOPED_TRACE(original.toString());
    if (!v6) {
      const ParseResult port = parsePort("PORT " + formatPortArgument(original));
      ASSERT_TRUE(std::holds_alternative<ParsedAddress>(port));
      EXPECT_EQ(std::get<ParsedAddress>(port).address, original.address);
      EXPECT_EQ(std::get<ParsedAddress>(port).port, original.port);
      const ParseResult reply = parse227("227 Entering Passive Mode (" + format227Tuple(original) + ").");
      ASSERT_TRUE(std::holds_alternative<ParsedAddress>(reply));
      EXPECT_EQ(std::get<ParsedAddress>(reply).address, original.address);
      EXPECT_EQ(std::get<ParsedAddress>(reply).port, original.port);
    }
    const char delimiter = delimiters[random() % delimiters.size()];
    const ParseResult eprt = parseEprt("EPRT " + formatEprtArgument(original, delimiter));
    ASSERT_TRUE(std::holds_alternative<ParsedAddress>(eprt)) << describe(eprt) << " delimiter " << delimiter;
    EXPECT_EQ(std::get<ParsedAddress>(eprt).address, original.address);
    EXPECT_EQ(std::get<ParsedAddress>(eprt).port, original.port);
    const ParseResult epsv =
        parse229("229 Entering Extended Passive Mode (|||" + format229Port(original.port) + "|)");
    ASSERT_TRUE(std::holds_alternative<ParsedAddress>(epsv));
    EXPECT_EQ(std::get<ParsedAddress>(epsv).port, original.port);
  }
}

// Every truncation of a valid line is refused or parsed without reading past the view (run under
// ASan in CI); none may claim a span outside the line.
TEST(AddressParsers, EveryPrefixOfAValidLineStaysInsideTheLine) {
  const std::pair<Parser, std::string> lines[] = {
      {Parser::Port, "PORT 192,168,77,10,195,80"},
      {Parser::Eprt, "EPRT |2|2001:db8::10|50000|"},
      {Parser::R227, "227 Entering Passive Mode (203,0,113,10,195,80)."},
      {Parser::R229, "229 Entering Extended Passive Mode (|||6446|)"},
  };
  for (const auto& [parser, line] : lines) {
    for (std::size_t length = 0; length <= line.size(); ++length) {
      const std::string prefix = line.substr(0, length);  // its own allocation: ASan sees overreads
      const ParseResult result = runParser(parser, prefix);
      if (const auto* parsed = std::get_if<ParsedAddress>(&result)) {
        EXPECT_LE(parsed->spanEnd, prefix.size());
        EXPECT_LE(parsed->spanBegin, parsed->spanEnd);
      }
    }
  }
}

// Random lines over the grammar's own alphabet: every accepted result has a span inside the line
// that holds exactly what the contract says it holds, and nothing crashes (ASan/UBSan in CI).
bool allDigits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::uint32_t decimal(std::string_view digits) {
  std::uint32_t value = 0;
  for (const char c : digits) value = value * 10 + static_cast<std::uint32_t>(c - '0');
  return value;
}

// "h1,h2,h3,h4,p1,p2" with 1-3 digit fields <= 255, matching the parsed value.
void expectHostPortSpan(std::string_view span, const ParsedAddress& parsed) {
  std::array<std::uint32_t, 6> numbers{};
  std::size_t count = 0;
  std::size_t start = 0;
  while (count < numbers.size()) {
    const std::size_t comma = span.find(',', start);
    const std::string_view field =
        span.substr(start, comma == std::string_view::npos ? span.npos : comma - start);
    ASSERT_TRUE(allDigits(field) && field.size() <= 3) << span;
    numbers[count++] = decimal(field);
    ASSERT_LE(numbers[count - 1], 255u) << span;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  ASSERT_EQ(count, 6u) << span;
  const auto octets = parsed.address->v4Octets();
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(octets[i], numbers[i]) << span;
  EXPECT_EQ(parsed.port, numbers[4] * 256 + numbers[5]) << span;
}

TEST(AddressParsers, RandomLinesYieldOnlyWellFormedSpans) {
  static const std::string kPieces[] = {
      "1",     "2",    "9",  "0",  "25",          "255",       "256", "192",  "65535",
      "70000", ",",    ",",  ",",  "|",           "|",         "!",   "(",    ")",
      ".",     ":",    "-",  "+",  " ",           "%",         "a",   "z",    std::string(1, '\0'),
      "\xFF",  "\xF4", "\r", "::", "2001:db8::1", "192.0.2.1", "|||", "(|||", "|)"};
  static const char* const kHeads[] = {"PORT ", "EPRT ", "227 ", "227-", "229 ", "229-"};
  std::mt19937 random(959);
  std::size_t accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string line;
    Parser parser = Parser::Port;
    if (i % 2 == 0) {
      // Free composition after a keyword or code.
      const std::size_t headIndex = random() % 6;
      line = kHeads[headIndex];
      const std::size_t pieces = random() % 16;
      for (std::size_t k = 0; k < pieces; ++k) line += kPieces[random() % std::size(kPieces)];
      parser = headIndex == 0   ? Parser::Port
               : headIndex == 1 ? Parser::Eprt
               : headIndex <= 3 ? Parser::R227
                                : Parser::R229;
    } else {
      // Mutations of an accepted variant: replace, insert or delete after the keyword.
      const AcceptCase& base = kAcceptCases[random() % std::size(kAcceptCases)];
      parser = base.parser;
      line = base.line;
      const std::size_t mutations = 1 + random() % 3;
      for (std::size_t k = 0; k < mutations && line.size() > 5; ++k) {
        const std::size_t at = 5 + random() % (line.size() - 5);
        const std::string& piece = kPieces[random() % std::size(kPieces)];
        switch (random() % 3) {
          case 0: line.replace(at, 1, piece); break;
          case 1: line.insert(at, piece); break;
          default: line.erase(at, 1); break;
        }
      }
    }
    const ParseResult result = runParser(parser, line);
    const auto* parsed = std::get_if<ParsedAddress>(&result);
    if (parsed == nullptr) continue;
    ++accepted;
    ASSERT_LE(parsed->spanBegin, parsed->spanEnd) << line;
    ASSERT_LE(parsed->spanEnd, line.size()) << line;
    const std::string_view span =
        std::string_view(line).substr(parsed->spanBegin, parsed->spanEnd - parsed->spanBegin);
    switch (parser) {
      case Parser::Port:
      case Parser::R227: expectHostPortSpan(span, *parsed); break;
      case Parser::Eprt:
        ASSERT_GE(span.size(), 8u) << line;
        EXPECT_EQ(span.front(), parsed->delimiter) << line;
        EXPECT_EQ(span.back(), parsed->delimiter) << line;
        EXPECT_NE(parsed->port, 0) << line;
        break;
      case Parser::R229:
        ASSERT_TRUE(allDigits(span) && span.size() <= 5) << line;
        EXPECT_EQ(decimal(span), parsed->port) << line;
        EXPECT_NE(parsed->port, 0) << line;
        EXPECT_EQ(line[parsed->spanBegin - 1], parsed->delimiter) << line;
        EXPECT_EQ(line[parsed->spanEnd], parsed->delimiter) << line;
        break;
    }
  }
  EXPECT_GT(accepted, 10000u);  // the generator does reach the accepting paths
}

TEST(AddressNames, SyntaxErrorNamesAreDistinctSnakeCase) {
  std::set<std::string_view> names;
  const AddressSyntaxError all[] = {
#define FTPALG_X(name, text) AddressSyntaxError::name,
      FTPALG_ADDRESS_SYNTAX_ERRORS(FTPALG_X)
#undef FTPALG_X
  };
  for (const AddressSyntaxError error : all) {
    const std::string_view name = syntaxErrorName(error);
    EXPECT_TRUE(names.insert(name).second) << name;
    for (const char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
  }
  EXPECT_EQ(syntaxErrorName(AddressSyntaxError::NonPrintable), "nonprintable_bytes");
  EXPECT_EQ(syntaxErrorName(AddressSyntaxError::NoNumbers), "no_numbers");
}

TEST(AddressNames, VerbNamesAreTheProtocolTokens) {
  EXPECT_EQ(verbName(AddressVerb::Port), "PORT");
  EXPECT_EQ(verbName(AddressVerb::Eprt), "EPRT");
  EXPECT_EQ(verbName(AddressVerb::Reply227), "227");
  EXPECT_EQ(verbName(AddressVerb::Reply229), "229");
  EXPECT_EQ(verbName(AddressVerb::Lprt), "LPRT");
  EXPECT_EQ(verbName(AddressVerb::Lpsv), "LPSV");
  EXPECT_EQ(verbName(AddressVerb::Reply228), "228");
}

}  // namespace
}  // namespace ftpalg
