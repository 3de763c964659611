// A small JSON reader (RFC 8259) for what ftpalg reads from nft: `nft -j list ruleset` and
// `nft -j list table` (ruleset_json.hpp). Standard library only. Input is trusted as far as
// its source (the kernel's ruleset through libnftables) but never assumed well-formed: every
// error is returned with its byte offset; nesting deeper than kMaxDepth is refused.
//
// Numbers: integers that fit a std::int64_t are kept exactly (marks, ports, priorities, handles);
// any other number is kept as a double. Strings are UTF-8; \uXXXX escapes (with surrogate pairs)
// are decoded to UTF-8. Objects keep their members in document order; a repeated key keeps
// both (find() returns the first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ftpalg::firewall::json {

class Value {
 public:
  enum class Kind : std::uint8_t { Null, Bool, Integer, Real, String, Array, Object };
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value null() { return Value(); }
  static Value boolean(bool value);
  static Value integer(std::int64_t value);
  static Value real(double value);
  static Value string(std::string value);
  static Value array(std::vector<Value> items);
  static Value object(std::vector<Member> members);

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isInteger() const { return kind_ == Kind::Integer; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  bool asBool() const { return bool_; }
  std::int64_t asInteger() const { return integer_; }
  double asReal() const { return kind_ == Kind::Integer ? static_cast<double>(integer_) : real_; }
  const std::string& asString() const { return string_; }
  const std::vector<Value>& items() const { return items_; }       // Array
  const std::vector<Member>& members() const { return members_; }  // Object

  // Object member `key`, or null when this is not an object or has no such member.
  const Value* find(std::string_view key) const;
  // The string member `key`, or "" (absent or not a string).
  std::string_view stringAt(std::string_view key) const;
  // The integer member `key`, or nullopt.
  std::optional<std::int64_t> integerAt(std::string_view key) const;

  // A one-member object {"key": value}: its key and value (nft's expressions and statements are
  // all of this shape); nullopt for anything else.
  std::optional<std::pair<std::string_view, const Value*>> single() const;

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  std::int64_t integer_ = 0;
  double real_ = 0;
  std::string string_;
  std::vector<Value> items_;
  std::vector<Member> members_;
};

inline constexpr std::size_t kMaxDepth = 128;

struct ParseResult {
  std::optional<Value> value;
  std::string error;  // "offset N: what", when value is empty
};

// The one JSON text in `text` (blanks around it allowed, nothing else).
ParseResult parse(std::string_view text);

// The text of `value`, compact (for messages: a rule nft could not name otherwise).
std::string write(const Value& value);

}  // namespace ftpalg::firewall::json
