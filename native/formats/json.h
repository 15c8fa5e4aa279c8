// A small, strict JSON reader for the files model folders carry: safetensors headers,
// config.json, scheduler_config.json, vocab.json.
//
// Strict RFC 8259 with one documented extension: the bare literals NaN, Infinity and -Infinity
// that Python's json module writes (diffusers configs may contain `-Infinity`). Everything else
// is refused with E_MODEL_FORMAT naming the source and the byte offset: trailing commas,
// comments, leading zeros, control characters or invalid UTF-8 in strings, lone surrogates,
// duplicate object keys, nesting deeper than 256, trailing garbage.
//
// Objects keep their members in file order. Integer literals that fit in int64 keep their
// exact value (safetensors offsets may exceed 2^53); every number also has a double value.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bgn::json {

enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };

const char* type_name(Type t);

class Value {
 public:
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value number(double d);
  static Value integer(int64_t i);
  static Value string(std::string s);
  static Value array(std::vector<Value> items);
  static Value object(std::vector<Member> members);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  // A number written without fraction or exponent that fits in int64.
  bool is_integer() const { return type_ == Type::Number && is_int_; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Accessors assume the type was checked; they return a neutral value otherwise.
  bool as_bool() const { return b_; }
  double as_double() const { return d_; }
  int64_t as_int() const { return i_; }
  const std::string& as_string() const { return s_; }
  const std::vector<Value>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }
  size_t size() const { return type_ == Type::Array ? items_.size() : members_.size(); }

  // Object member by key (linear search), or nullptr when absent or not an object.
  const Value* find(std::string_view key) const;

 private:
  Type type_ = Type::Null;
  bool b_ = false;
  bool is_int_ = false;
  double d_ = 0.0;
  int64_t i_ = 0;
  std::string s_;
  std::vector<Value> items_;
  std::vector<Member> members_;
};

// Parses a whole document. `source` names the file in error messages.
Value parse(std::string_view text, const std::string& source);

// Reads and parses a file (E_MODEL_NOT_FOUND when missing, E_IO when unreadable).
Value parse_file(const std::string& path);

// Serialises (compact; non-finite numbers as NaN/Infinity/-Infinity). For tests and debugging.
std::string dump(const Value& v);

}  // namespace bgn::json
