// The JSON reader: see json.hpp.
#include "json.hpp"

#include <charconv>
#include <cstdio>

namespace ftpalg::firewall::json {

Value Value::boolean(bool value) {
  Value v;
  v.kind_ = Kind::Bool;
  v.bool_ = value;
  return v;
}
Value Value::integer(std::int64_t value) {
  Value v;
  v.kind_ = Kind::Integer;
  v.integer_ = value;
  return v;
}
Value Value::real(double value) {
  Value v;
  v.kind_ = Kind::Real;
  v.real_ = value;
  return v;
}
Value Value::string(std::string value) {
  Value v;
  v.kind_ = Kind::String;
  v.string_ = std::move(value);
  return v;
}
Value Value::array(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::Array;
  v.items_ = std::move(items);
  return v;
}
Value Value::object(std::vector<Member> members) {
  Value v;
  v.kind_ = Kind::Object;
  v.members_ = std::move(members);
  return v;
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::Object) return nullptr;
  for (const Member& member : members_) {
    if (member.first == key) return &member.second;
  }
  return nullptr;
}

std::string_view Value::stringAt(std::string_view key) const {
  const Value* found = find(key);
  return found != nullptr && found->isString() ? std::string_view(found->asString()) : std::string_view();
}

std::optional<std::int64_t> Value::integerAt(std::string_view key) const {
  const Value* found = find(key);
  if (found == nullptr || !found->isInteger()) return std::nullopt;
  return found->asInteger();
}

std::optional<std::pair<std::string_view, const Value*>> Value::single() const {
  if (kind_ != Kind::Object || members_.size() != 1) return std::nullopt;
  return std::pair<std::string_view, const Value*>{members_.front().first, &members_.front().second};
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  ParseResult run() {
    ParseResult result;
    skipBlanks();
    auto value = parseValue(0);
    if (value) {
      skipBlanks();
      if (pos_ != text_.size()) {
        fail("text after the JSON value");
        value.reset();
      }
    }
    if (!value) {
      result.error = "offset " + std::to_string(errorAt_) + ": " + error_;
      return result;
    }
    result.value = std::move(value);
    return result;
  }

 private:
  std::optional<Value> fail(std::string what) {
    if (error_.empty()) {
      error_ = std::move(what);
      errorAt_ = pos_;
    }
    return std::nullopt;
  }

  void skipBlanks() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::optional<Value> parseValue(std::size_t depth) {
    if (depth >= kMaxDepth) return fail("nested deeper than " + std::to_string(kMaxDepth));
    if (pos_ >= text_.size()) return fail("unexpected end of text");
    const char c = text_[pos_];
    if (c == '{') return parseObject(depth);
    if (c == '[') return parseArray(depth);
    if (c == '"') {
      auto text = parseString();
      if (!text) return std::nullopt;
      return Value::string(std::move(*text));
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parseNumber();
    if (literal("true")) return Value::boolean(true);
    if (literal("false")) return Value::boolean(false);
    if (literal("null")) return Value::null();
    return fail(std::string("unexpected character '") + c + "'");
  }

  std::optional<Value> parseObject(std::size_t depth) {
    ++pos_;  // {
    std::vector<Value::Member> members;
    skipBlanks();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return Value::object(std::move(members));
    }
    for (;;) {
      skipBlanks();
      if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a member name");
      auto key = parseString();
      if (!key) return std::nullopt;
      skipBlanks();
      if (pos_ >= text_.size() || text_[pos_] != ':') return fail("expected ':'");
      ++pos_;
      skipBlanks();
      auto value = parseValue(depth + 1);
      if (!value) return std::nullopt;
      members.emplace_back(std::move(*key), std::move(*value));
      skipBlanks();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return Value::object(std::move(members));
      }
      return fail("expected ',' or '}'");
    }
  }

  std::optional<Value> parseArray(std::size_t depth) {
    ++pos_;  // [
    std::vector<Value> items;
    skipBlanks();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return Value::array(std::move(items));
    }
    for (;;) {
      skipBlanks();
      auto value = parseValue(depth + 1);
      if (!value) return std::nullopt;
      items.push_back(std::move(*value));
      skipBlanks();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return Value::array(std::move(items));
      }
      return fail("expected ',' or ']'");
    }
  }

  std::optional<unsigned> hex4() {
    if (pos_ + 4 > text_.size()) return std::nullopt;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, value, 16);
    if (ec != std::errc() || end != text_.data() + pos_ + 4) return std::nullopt;
    pos_ += 4;
    return value;
  }

  static void appendUtf8(std::string& out, unsigned codePoint) {
    if (codePoint < 0x80) {
      out += static_cast<char>(codePoint);
    } else if (codePoint < 0x800) {
      out += static_cast<char>(0xc0 | (codePoint >> 6));
      out += static_cast<char>(0x80 | (codePoint & 0x3f));
    } else if (codePoint < 0x10000) {
      out += static_cast<char>(0xe0 | (codePoint >> 12));
      out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (codePoint & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (codePoint >> 18));
      out += static_cast<char>(0x80 | ((codePoint >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (codePoint & 0x3f));
    }
  }

  std::optional<std::string> parseString() {
    ++pos_;  // "
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) {
        --pos_;
        fail("control character in a string");
        return std::nullopt;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) break;
      const char escape = text_[pos_++];
      switch (escape) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto unit = hex4();
          if (!unit) {
            fail("bad \\u escape");
            return std::nullopt;
          }
          unsigned codePoint = *unit;
          if (codePoint >= 0xd800 && codePoint <= 0xdbff) {
            // A high surrogate must be followed by \u and a low one (RFC 8259 §7).
            if (!literal("\\u")) {
              fail("lone surrogate in a \\u escape");
              return std::nullopt;
            }
            auto low = hex4();
            if (!low || *low < 0xdc00 || *low > 0xdfff) {
              fail("lone surrogate in a \\u escape");
              return std::nullopt;
            }
            codePoint = 0x10000 + ((codePoint - 0xd800) << 10) + (*low - 0xdc00);
          } else if (codePoint >= 0xdc00 && codePoint <= 0xdfff) {
            fail("lone surrogate in a \\u escape");
            return std::nullopt;
          }
          appendUtf8(out, codePoint);
          break;
        }
        default:
          --pos_;
          fail("bad escape");
          return std::nullopt;
      }
    }
    fail("unterminated string");
    return std::nullopt;
  }

  std::optional<Value> parseNumber() {
    const std::size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') return fail("bad number");
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    }
    bool integral = true;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      integral = false;
      ++pos_;
      const std::size_t digits = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == digits) return fail("bad number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      const std::size_t digits = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == digits) return fail("bad number");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      std::int64_t value = 0;
      const auto [end, ec] = std::from_chars(first, last, value);
      if (ec == std::errc() && end == last) return Value::integer(value);
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(first, last, value);
    if (end != last || (ec != std::errc() && ec != std::errc::result_out_of_range)) return fail("bad number");
    return Value::real(value);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string error_;
  std::size_t errorAt_ = 0;
};

void writeString(std::string& out, const std::string& text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += c;
    }
  }
  out += '"';
}

void writeValue(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Null: out += "null"; break;
    case Value::Kind::Bool: out += value.asBool() ? "true" : "false"; break;
    case Value::Kind::Integer: out += std::to_string(value.asInteger()); break;
    case Value::Kind::Real: {
      char text[32];
      std::snprintf(text, sizeof text, "%.17g", value.asReal());
      out += text;
      break;
    }
    case Value::Kind::String: writeString(out, value.asString()); break;
    case Value::Kind::Array: {
      out += '[';
      bool first = true;
      for (const Value& item : value.items()) {
        if (!first) out += ',';
        first = false;
        writeValue(out, item);
      }
      out += ']';
      break;
    }
    case Value::Kind::Object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : value.members()) {
        if (!first) out += ',';
        first = false;
        writeString(out, key);
        out += ':';
        writeValue(out, member);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

ParseResult parse(std::string_view text) { return Parser(text).run(); }

std::string write(const Value& value) {
  std::string out;
  writeValue(out, value);
  return out;
}

}  // namespace ftpalg::firewall::json
