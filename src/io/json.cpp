// JSON helpers: parse with located errors, typed field access.
#include "io/json.h"

#include <cmath>

#include "io/error.h"

namespace lsc::io {

namespace {

// nlohmann's message is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
std::string without_id(const char* what) {
  std::string msg = what;
  auto p = msg.find("] ");
  return p == std::string::npos ? msg : msg.substr(p + 2);
}

// No file we read nests deeper than this. nlohmann parses any depth, but dump() (which error
// messages use) and copies recurse once per level, so "[[[[..." 30,000 levels deep overflowed the
// stack.
constexpr int kMaxDepth = 512;

// Offset of the bracket that first opens level kMaxDepth + 1, or npos. Brackets in strings do
// not count; text that is not JSON is left for the parser to reject.
size_t find_too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, which may be a quote
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

}  // namespace

Json parse_json(std::string_view text, const std::string& where) {
  if (const size_t at = find_too_deep(text); at != std::string_view::npos) {
    throw InputError(where, "byte " + std::to_string(at + 1),  // from 1, as the parser's own errors count
                     "JSON nested at most " + std::to_string(kMaxDepth) + " levels deep",
                     "deeper nesting");
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    throw InputError(where, "byte " + std::to_string(e.byte), "valid JSON", without_id(e.what()));
  } catch (const Json::exception& e) {
    // The parser reports some bad input with other exception types: a number too large for a
    // double ("1e400") is out_of_range 406.
    throw InputError(where, "", "valid JSON", without_id(e.what()));
  }
}

std::string json_brief(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string json_type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string " + json_brief(v);
    case Json::value_t::boolean: return "a boolean " + json_brief(v);
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer " + json_brief(v);
    case Json::value_t::number_float: return "a number " + json_brief(v);
    default: return "a value " + json_brief(v);
  }
}

const Json& require_key(const Json& obj, const std::string& key, const std::string& where) {
  if (!obj.is_object()) throw InputError(where, "", "a JSON object", json_type_name(obj));
  auto it = obj.find(key);
  if (it == obj.end()) throw InputError(where, "key '" + key + "'", "to be present", "nothing");
  return *it;
}

int64_t require_int(const Json& obj, const std::string& key, const std::string& where) {
  const Json& v = require_key(obj, key, where);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    // 7.0 counts as 7. The range check comes first: converting a double outside int64's range is
    // undefined behavior (UBSan flagged 1e300).
    const double d = v.get<double>();
    if (d >= -0x1p63 && d < 0x1p63 && d == std::floor(d)) return static_cast<int64_t>(d);
  }
  throw InputError(where, "key '" + key + "'", "an integer", json_type_name(v));
}

double require_number(const Json& obj, const std::string& key, const std::string& where) {
  const Json& v = require_key(obj, key, where);
  if (!v.is_number()) throw InputError(where, "key '" + key + "'", "a number", json_type_name(v));
  return v.get<double>();
}

std::string require_string(const Json& obj, const std::string& key, const std::string& where) {
  const Json& v = require_key(obj, key, where);
  if (!v.is_string()) throw InputError(where, "key '" + key + "'", "a string", json_type_name(v));
  return v.get<std::string>();
}

bool require_bool(const Json& obj, const std::string& key, const std::string& where) {
  const Json& v = require_key(obj, key, where);
  if (!v.is_boolean()) throw InputError(where, "key '" + key + "'", "true or false", json_type_name(v));
  return v.get<bool>();
}

}  // namespace lsc::io
