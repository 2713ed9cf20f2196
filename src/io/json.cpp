// JSON helpers: parse with located errors, typed field access.
#include "io/json.h"

#include "io/error.h"

namespace lsc::io {

Json parse_json(std::string_view text, const std::string& where) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // nlohmann's message is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string msg = e.what();
    auto p = msg.find("] ");
    if (p != std::string::npos) msg = msg.substr(p + 2);
    throw InputError(where, "byte " + std::to_string(e.byte), "valid JSON", msg);
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
    double d = v.get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
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
