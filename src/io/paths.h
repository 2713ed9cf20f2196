// Paths and small files: joining, existence, reading a whole text file.
#pragma once

#include <string>

namespace lsc::io {

// Whole file into a string (small text files: config.json, tokenizer.json, JSONL); InputError
// naming the path if it cannot be read or is a directory (a pipe is read to its end).
std::string read_text_file(const std::string& path);
bool file_exists(const std::string& path);
// What is at `path`, in an error message's words: "a regular file", "a directory", "a pipe",
// "a socket", "a device", "no such file or directory" (or the reason stat(2) gives).
std::string file_kind(const std::string& path);
bool is_directory(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);
// `path` made absolute against the working directory and normalized ("a/./b/../c" -> "/cwd/a/c"),
// as results record paths so that later readers find them from any directory; `path` unchanged
// if the working directory cannot be read.
std::string absolute_path(const std::string& path);

}  // namespace lsc::io
