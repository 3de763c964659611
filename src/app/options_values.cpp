// Option values and their parsers (see options_values.hpp).
#include "options_values.hpp"

#include <algorithm>
#include <charconv>

namespace ftpalg::app::cli {

namespace {

IpAddress parseAddress(const Value& value, std::string_view address) {
  const auto parsed = IpAddress::parse(address);
  if (!parsed) fail(value, "\"" + std::string(address) + "\" is not an IPv4 or IPv6 address");
  return *parsed;
}

IpPrefix parsePrefix(const Value& value, std::string_view prefixText) {
  const std::size_t slash = prefixText.find('/');
  const IpAddress network = parseAddress(value, prefixText.substr(0, slash));
  const unsigned maxLength = network.isV4() ? 32 : 128;
  if (slash != std::string_view::npos) {
    const std::string_view lengthText = prefixText.substr(slash + 1);
    unsigned length = 0;
    const auto [end, error] =
        std::from_chars(lengthText.data(), lengthText.data() + lengthText.size(), length);
    if (lengthText.empty() || error == std::errc::invalid_argument ||
        end != lengthText.data() + lengthText.size()) {
      fail(value, "prefix length \"" + std::string(lengthText) + "\" is not a number");
    }
    if (error == std::errc::result_out_of_range || length > maxLength) {
      fail(value,
           "prefix length " + std::string(lengthText) + " is out of range 0-" + std::to_string(maxLength));
    }
  }
  const auto prefix = IpPrefix::parse(prefixText);
  if (!prefix) fail(value, "\"" + std::string(prefixText) + "\" is not a prefix (ADDRESS/LENGTH)");
  return *prefix;
}

Endpoint parseEndpoint(const Value& value, std::string_view endpointText) {
  const auto endpoint = Endpoint::parse(endpointText);
  if (!endpoint) {
    fail(value,
         "\"" + std::string(endpointText) + "\" is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT, port 1-65535)");
  }
  if (endpoint->port == 0) fail(value, "port 0 in \"" + std::string(endpointText) + "\"");
  return *endpoint;
}

}  // namespace

std::string optionAt(const Origin& origin, std::string_view option) {
  if (origin.file.empty()) return "--" + std::string(option);
  return origin.file + ":" + std::to_string(origin.line) + ": " + std::string(option);
}

std::string spelled(const Origin& origin, std::string_view option) {
  return (origin.file.empty() ? "--" : "") + std::string(option);
}

[[noreturn]] void fail(const Value& value, std::string_view reason) {
  throw UsageError(optionAt(value.origin, value.option) + ": \"" + value.text + "\": " + std::string(reason));
}

std::uint64_t parseNumber(const Value& value, std::uint64_t min, std::uint64_t max) {
  const std::string& text = value.text;
  if (text.empty()) fail(value, "empty value; expected a number");
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    fail(value, "not a decimal number");
  }
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || number < min || number > max) {
    fail(value, "out of range " + std::to_string(min) + "-" + std::to_string(max));
  }
  return number;
}

bool parseBool(const Value& value) {
  std::string word = value.text;
  std::transform(word.begin(), word.end(), word.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  if (word.empty() || word == "true" || word == "yes" || word == "on" || word == "1") return true;
  if (word == "false" || word == "no" || word == "off" || word == "0") return false;
  fail(value, "expected true or false (or yes/no, on/off, 1/0)");
}

SnatRule parseSnat(const Value& value) {
  const std::string_view text = value.text;
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos)
    fail(value, "expected CIDR=ADDRESS, e.g. 192.168.77.0/24=203.0.113.1");
  SnatRule rule;
  rule.inside = parsePrefix(value, text.substr(0, equals));
  rule.outside = parseAddress(value, text.substr(equals + 1));
  if (rule.inside.network.family() != rule.outside.family()) {
    fail(value, "the prefix and the address are of different IP versions");
  }
  if (rule.outside.isUnspecified()) fail(value, "the outside address is unspecified");
  return rule;
}

DnatRule parseDnat(const Value& value) {
  const std::string_view text = value.text;
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    fail(value, "expected ADDRESS:PORT=ADDRESS:PORT, e.g. 203.0.113.1:21=192.168.78.10:21");
  }
  DnatRule rule;
  rule.outside = parseEndpoint(value, text.substr(0, equals));
  rule.inside = parseEndpoint(value, text.substr(equals + 1));
  if (rule.outside.address.family() != rule.inside.address.family()) {
    fail(value, "the two endpoints are of different IP versions");
  }
  return rule;
}

}  // namespace ftpalg::app::cli
