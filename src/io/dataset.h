// The input dataset: JSONL records {query, answer, level, is_correct, id?, source?}. Every bad line
// is reported (file:line, field, expected, found), not just the first. Parsing takes bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lsc::io {

struct Record {
  int64_t line = 0;     // 1-based line in the file
  std::string id;       // the "id" field, or "line-<n>" when absent
  std::string query, answer;
  int level = 0;        // 1..5; 0 = not given (left out of level groupings)
  int is_correct = -1;  // 1 or 0; -1 = not given (left out of correctness groupings)
  std::string source;   // which model wrote the answer, if given
};

struct Dataset {
  std::vector<Record> records;      // the valid lines, in file order
  std::vector<std::string> errors;  // one message per bad line, in file order
  std::vector<int64_t> bad_lines;
  int64_t n_lines = 0;              // non-empty lines seen
};

// Logical field -> key in the file ("answer" -> "response"); from --field answer=response.
using FieldMap = std::map<std::string, std::string>;

// Returns "" if s is valid UTF-8, else "invalid UTF-8 at byte N".
std::string utf8_error(std::string_view s);

Dataset parse_dataset(std::string_view bytes, const std::string& path, const FieldMap& fields = {});
Dataset load_dataset(const std::string& path, const FieldMap& fields = {});

}  // namespace lsc::io
