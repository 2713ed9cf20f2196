// JSON parsing with errors that name the file and the byte, and typed field access that reports
// "expected <type>, found <json>". Wraps nlohmann::json (Debian's nlohmann-json3-dev).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lsc::io {

using Json = nlohmann::json;

// Parses text; on failure throws InputError("<where>", "byte N", "valid JSON", <reason>).
Json parse_json(std::string_view text, const std::string& where);

// Short rendering of a JSON value for error messages (truncated to ~60 chars).
std::string json_brief(const Json& v);

// Name of a JSON value's type as a user would say it ("a string", "an integer", ...).
std::string json_type_name(const Json& v);

// Typed access to obj[key]; throws InputError(where, "key '<key>'", expected, found).
const Json& require_key(const Json& obj, const std::string& key, const std::string& where);
int64_t require_int(const Json& obj, const std::string& key, const std::string& where);
double require_number(const Json& obj, const std::string& key, const std::string& where);
std::string require_string(const Json& obj, const std::string& key, const std::string& where);
bool require_bool(const Json& obj, const std::string& key, const std::string& where);

}  // namespace lsc::io
