// Paths and small files: joining, existence, reading a whole text file.
#pragma once

#include <string>

namespace lsc::io {

// Whole file into a string (small text files: config.json, tokenizer.json, JSONL); InputError
// naming the path if it cannot be read.
std::string read_text_file(const std::string& path);
bool file_exists(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace lsc::io
