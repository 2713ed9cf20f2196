// JSONL dataset parsing and validation.
#include "io/dataset.h"

#include <cmath>
#include <set>

#include "io/error.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "io/utf8.h"

namespace lsc::io {

std::string utf8_error(std::string_view s) {
  bool truncated = false;
  const size_t at = find_invalid_utf8(s, nullptr, &truncated);
  if (at == std::string_view::npos) return "";
  // Counted from 1, as the JSON parser counts its bytes in the same line's errors.
  return "invalid UTF-8 at byte " + std::to_string(at + 1) + (truncated ? " (truncated sequence)" : "");
}

namespace {

std::string key_for(const FieldMap& fields, const std::string& logical) {
  auto it = fields.find(logical);
  return it == fields.end() ? logical : it->second;
}

// level: an integer 1-5 (3 or 3.0) or the MATH form "Level 3" ("level 3"); null/absent = 0.
int parse_level(const Json& v, const std::string& where, const std::string& key) {
  auto bad = [&]() {
    return InputError(where, "field \"" + key + "\"", "an integer 1-5 or \"Level N\"", json_type_name(v));
  };
  if (v.is_null()) return 0;
  double x = 0;
  if (v.is_number()) {
    x = v.get<double>();
  } else if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.size() > 6 && (s[0] == 'L' || s[0] == 'l') && s.compare(1, 5, "evel ") == 0) s = s.substr(6);
    if (s.empty() || s.size() > 3 || s.find_first_not_of("0123456789") != std::string::npos) throw bad();
    x = std::stod(s);
  } else {
    throw bad();
  }
  if (x != std::floor(x) || x < 1 || x > 5) throw bad();
  return static_cast<int>(x);
}

int parse_correct(const Json& v, const std::string& where, const std::string& key) {
  if (v.is_null()) return -1;
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number() && (v.get<double>() == 0.0 || v.get<double>() == 1.0)) return v.get<double>() == 1.0 ? 1 : 0;  // 1 or 1.0
  throw InputError(where, "field \"" + key + "\"", "true, false, 0 or 1", json_type_name(v));
}

Record parse_record(std::string_view line, const std::string& where, int64_t line_no, const FieldMap& fields) {
  if (line.size() >= 3 && line.substr(0, 3) == "\xEF\xBB\xBF") {
    throw InputError(where, "", "a JSON object", "a UTF-8 byte-order mark (save the file as UTF-8 without BOM)");
  }
  if (std::string e = utf8_error(line); !e.empty()) throw InputError(where, "", "UTF-8 text", e);
  Json j = parse_json(line, where);
  if (!j.is_object()) throw InputError(where, "", "a JSON object", json_type_name(j));
  Record r;
  r.line = line_no;
  auto text_field = [&](const std::string& logical, bool required, bool non_empty) -> std::string {
    const std::string key = key_for(fields, logical);
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) throw InputError(where, "field \"" + key + "\"", "a string", "nothing (the field is missing)");
      return "";
    }
    if (!it->is_string()) throw InputError(where, "field \"" + key + "\"", "a string", json_type_name(*it));
    std::string s = it->get<std::string>();
    if (non_empty && s.find_first_not_of(" \t\r\n") == std::string::npos) {
      throw InputError(where, "field \"" + key + "\"", "a non-empty string", "\"" + s + "\"");
    }
    return s;
  };
  r.query = text_field("query", true, false);
  r.answer = text_field("answer", true, true);
  r.source = text_field("source", false, false);
  const std::string level_key = key_for(fields, "level");
  if (auto it = j.find(level_key); it != j.end()) r.level = parse_level(*it, where, level_key);
  const std::string correct_key = key_for(fields, "is_correct");
  if (auto it = j.find(correct_key); it != j.end()) r.is_correct = parse_correct(*it, where, correct_key);
  const std::string id_key = key_for(fields, "id");
  if (auto it = j.find(id_key); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      r.id = it->get<std::string>();
      if (r.id.empty()) {
        throw InputError(where, "field \"" + id_key + "\"", "a non-empty string or an integer", "an empty string");
      }
    } else if (it->is_number_integer()) {
      r.id = std::to_string(it->get<int64_t>());
    } else {
      throw InputError(where, "field \"" + id_key + "\"", "a string or an integer", json_type_name(*it));
    }
  } else {
    r.id = "line-" + std::to_string(line_no);
  }
  return r;
}

}  // namespace

Dataset parse_dataset(std::string_view bytes, const std::string& path, const FieldMap& fields) {
  Dataset d;
  std::set<std::string> ids;
  size_t start = 0;
  int64_t line_no = 0;
  while (start < bytes.size()) {
    size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines carry no record
    ++d.n_lines;
    const std::string where = path + ":" + std::to_string(line_no);
    try {
      Record r = parse_record(line, where, line_no, fields);
      if (!ids.insert(r.id).second) {
        throw InputError(where, "field \"" + key_for(fields, "id") + "\"", "an id not used by an earlier line",
                         "\"" + r.id + "\" again");
      }
      d.records.push_back(std::move(r));
    } catch (const InputError& e) {
      d.errors.push_back(e.what());
      d.bad_lines.push_back(line_no);
    }
  }
  return d;
}

Dataset load_dataset(const std::string& path, const FieldMap& fields) {
  MappedFile f(path);
  std::string_view bytes(reinterpret_cast<const char*>(f.bytes().data()), f.size());
  return parse_dataset(bytes, path, fields);
}

}  // namespace lsc::io
