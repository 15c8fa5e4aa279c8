#include "formats/json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_set>

#include <sys/stat.h>

#include "formats/utf8.h"
#include "tensor/error.h"

namespace bgn::json {

const char* type_name(Type t) {
  switch (t) {
    case Type::Null:
      return "null";
    case Type::Bool:
      return "boolean";
    case Type::Number:
      return "number";
    case Type::String:
      return "string";
    case Type::Array:
      return "array";
    case Type::Object:
      return "object";
  }
  return "?";
}

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.b_ = b;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.type_ = Type::Number;
  v.d_ = d;
  v.i_ = 0;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.type_ = Type::Number;
  v.is_int_ = true;
  v.i_ = i;
  v.d_ = static_cast<double>(i);
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.s_ = std::move(s);
  return v;
}
Value Value::array(std::vector<Value> items) {
  Value v;
  v.type_ = Type::Array;
  v.items_ = std::move(items);
  return v;
}
Value Value::object(std::vector<Member> members) {
  Value v;
  v.type_ = Type::Object;
  v.members_ = std::move(members);
  return v;
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}

namespace {

constexpr int kMaxDepth = 256;

class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : t_(text), src_(source) {}

  Value document() {
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (p_ != t_.size()) error("unexpected data after the JSON value");
    return v;
  }

 private:
  std::string_view t_;
  const std::string& src_;
  size_t p_ = 0;

  [[noreturn]] void error(const char* what) {
    fail(Code::ModelFormat, src_, ": invalid JSON at byte ", p_, ": ", what);
  }

  bool at_end() const { return p_ >= t_.size(); }
  char peek() const { return at_end() ? '\0' : t_[p_]; }

  void skip_ws() {
    while (!at_end()) {
      char c = t_[p_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        ++p_;
      else
        break;
    }
  }

  bool consume_literal(std::string_view lit) {
    if (t_.substr(p_, lit.size()) == lit) {
      p_ += lit.size();
      return true;
    }
    return false;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) error("nesting is deeper than 256 levels");
    if (at_end()) error("unexpected end of input");
    char c = t_[p_];
    switch (c) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return Value::string(string());
      case 't':
        if (consume_literal("true")) return Value::boolean(true);
        break;
      case 'f':
        if (consume_literal("false")) return Value::boolean(false);
        break;
      case 'n':
        if (consume_literal("null")) return Value::null();
        break;
      case 'N':
        if (consume_literal("NaN")) return Value::number(std::numeric_limits<double>::quiet_NaN());
        break;
      case 'I':
        if (consume_literal("Infinity")) return Value::number(std::numeric_limits<double>::infinity());
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number();
    }
    error("expected a value");
  }

  Value object(int depth) {
    ++p_;  // '{'
    std::vector<Value::Member> members;
    std::unordered_set<std::string> seen;
    skip_ws();
    if (peek() == '}') {
      ++p_;
      return Value::object(std::move(members));
    }
    for (;;) {
      skip_ws();
      if (peek() != '"') error("expected a string key");
      size_t key_at = p_;
      std::string key = string();
      if (!seen.insert(key).second) {
        p_ = key_at;
        fail(Code::ModelFormat, src_, ": invalid JSON at byte ", key_at, ": duplicate key \"", key, "\"");
      }
      skip_ws();
      if (peek() != ':') error("expected ':' after an object key");
      ++p_;
      skip_ws();
      Value v = value(depth + 1);
      members.emplace_back(std::move(key), std::move(v));
      skip_ws();
      char c = peek();
      if (c == ',') {
        ++p_;
        continue;
      }
      if (c == '}') {
        ++p_;
        break;
      }
      error("expected ',' or '}' in an object");
    }
    return Value::object(std::move(members));
  }

  Value array(int depth) {
    ++p_;  // '['
    std::vector<Value> items;
    skip_ws();
    if (peek() == ']') {
      ++p_;
      return Value::array(std::move(items));
    }
    for (;;) {
      skip_ws();
      items.push_back(value(depth + 1));
      skip_ws();
      char c = peek();
      if (c == ',') {
        ++p_;
        continue;
      }
      if (c == ']') {
        ++p_;
        break;
      }
      error("expected ',' or ']' in an array");
    }
    return Value::array(std::move(items));
  }

  Value number() {
    size_t start = p_;
    if (peek() == '-') {
      ++p_;
      if (consume_literal("Infinity")) return Value::number(-std::numeric_limits<double>::infinity());
    }
    if (peek() == '0') {
      ++p_;
      if (peek() >= '0' && peek() <= '9') error("leading zeros are not allowed");
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++p_;
    } else {
      error("expected a digit");
    }
    bool is_int = true;
    if (peek() == '.') {
      is_int = false;
      ++p_;
      if (!(peek() >= '0' && peek() <= '9')) error("expected a digit after '.'");
      while (peek() >= '0' && peek() <= '9') ++p_;
    }
    if (peek() == 'e' || peek() == 'E') {
      is_int = false;
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      if (!(peek() >= '0' && peek() <= '9')) error("expected a digit in the exponent");
      while (peek() >= '0' && peek() <= '9') ++p_;
    }
    const char* b = t_.data() + start;
    const char* e = t_.data() + p_;
    if (is_int) {
      int64_t i = 0;
      auto r = std::from_chars(b, e, i);
      if (r.ec == std::errc() && r.ptr == e) return Value::integer(i);
      // Too large for int64: keep it as a double.
    }
    double d = 0.0;
    auto r = std::from_chars(b, e, d);
    if (r.ptr != e) error("malformed number");
    if (r.ec == std::errc::result_out_of_range) error("number out of the range of a double");
    return Value::number(d);
  }

  uint32_t hex4() {
    if (p_ + 4 > t_.size()) error("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = t_[p_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        error("invalid hex digit in \\u escape");
    }
    return v;
  }

  // Validates one UTF-8 sequence starting at p_ and appends it.
  void utf8_char(std::string& out) {
    auto byte = [&](size_t i) -> uint8_t { return static_cast<uint8_t>(t_[i]); };
    uint8_t c = byte(p_);
    int len;
    uint32_t cp;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else
      error("invalid UTF-8 in a string");
    if (p_ + len > t_.size()) error("truncated UTF-8 sequence in a string");
    for (int k = 1; k < len; ++k) {
      uint8_t cc = byte(p_ + k);
      if ((cc & 0xC0) != 0x80) error("invalid UTF-8 in a string");
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) error("invalid UTF-8 in a string");
    out.append(t_.data() + p_, len);
    p_ += len;
  }

  std::string string() {
    ++p_;  // '"'
    std::string out;
    for (;;) {
      if (at_end()) error("unterminated string");
      char c = t_[p_];
      if (c == '"') {
        ++p_;
        return out;
      }
      if (static_cast<uint8_t>(c) < 0x20) error("control character in a string");
      if (c != '\\') {
        // Fast path for runs of plain ASCII.
        if (static_cast<uint8_t>(c) < 0x80) {
          out += c;
          ++p_;
        } else
          utf8_char(out);
        continue;
      }
      ++p_;
      if (at_end()) error("unterminated escape");
      char e = t_[p_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!(consume_literal("\\u"))) error("lone high surrogate in \\u escape");
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) error("invalid low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            error("lone low surrogate in \\u escape");
          }
          append_utf8(out, static_cast<char32_t>(cp));
          break;
        }
        default:
          error("invalid escape in a string");
      }
    }
  }
};

void dump_string(std::ostringstream& os, const std::string& s) {
  os << '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        os << "\\\"";
        break;
      case '\\':
        os << "\\\\";
        break;
      case '\n':
        os << "\\n";
        break;
      case '\r':
        os << "\\r";
        break;
      case '\t':
        os << "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          os << buf;
        } else {
          os << c;
        }
    }
  }
  os << '"';
}

void dump_to(std::ostringstream& os, const Value& v) {
  switch (v.type()) {
    case Type::Null:
      os << "null";
      break;
    case Type::Bool:
      os << (v.as_bool() ? "true" : "false");
      break;
    case Type::Number:
      if (v.is_integer()) {
        os << v.as_int();
      } else if (std::isnan(v.as_double())) {
        os << "NaN";
      } else if (std::isinf(v.as_double())) {
        os << (v.as_double() < 0 ? "-Infinity" : "Infinity");
      } else if (v.as_double() == 0.0 && std::signbit(v.as_double())) {
        os << "-0.0";  // "-0" would read back as the integer 0
      } else {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v.as_double());
        os.write(buf, r.ptr - buf);
      }
      break;
    case Type::String:
      dump_string(os, v.as_string());
      break;
    case Type::Array: {
      os << '[';
      bool first = true;
      for (const auto& it : v.items()) {
        if (!first) os << ',';
        first = false;
        dump_to(os, it);
      }
      os << ']';
      break;
    }
    case Type::Object: {
      os << '{';
      bool first = true;
      for (const auto& m : v.members()) {
        if (!first) os << ',';
        first = false;
        dump_string(os, m.first);
        os << ':';
        dump_to(os, m.second);
      }
      os << '}';
      break;
    }
  }
}

}  // namespace

Value parse(std::string_view text, const std::string& source) { return Parser(text, source).document(); }

Value parse_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail(Code::ModelNotFound, "file not found: ", path);
  if (S_ISDIR(st.st_mode)) fail(Code::BadInput, path, " is a directory, not a JSON file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Code::Io, "cannot open ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(Code::Io, "cannot read ", path);
  return parse(ss.str(), path);
}

std::string dump(const Value& v) {
  std::ostringstream os;
  dump_to(os, v);
  return os.str();
}

}  // namespace bgn::json
