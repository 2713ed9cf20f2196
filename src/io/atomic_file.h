// Write a file as <name>.tmp and rename it into place on commit(), so a reader never sees half a
// file and an interrupted run leaves the previous version intact. Not for append-only logs.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace lsc::io {

class AtomicFile {
 public:
  // Opens <path>.tmp for writing; throws IoError naming the path on failure. A symlink at `path`
  // is written through (its target replaced); a directory, pipe or device there is an IoError.
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the .tmp file if commit() was not reached
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n_bytes);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Flushes, fsyncs and renames <path>.tmp to <path>. Throws IoError on failure.
  void commit();

 private:
  std::string path_, tmp_path_;
  std::FILE* file_ = nullptr;
};

// Convenience: the whole content at once.
void write_file_atomic(const std::string& path, std::string_view content);

// Creates dir and its parents (nothing if it exists); IoError naming it and the OS reason
// otherwise ("what" says which directory it is, e.g. "the results directory").
void make_dirs(const std::string& dir, const std::string& what);

}  // namespace lsc::io
