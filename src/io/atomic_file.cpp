// AtomicFile: tmp + fsync + rename.
#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/error.h"
#include "io/paths.h"

namespace lsc::io {

namespace {

// Where the file is written: `path`, or the file a symlink there names (the link stays a link);
// IoError when what is there is not a regular file (a directory, pipe or device is not replaced).
std::string output_target(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(path, ec);
  if (ec || !fs::exists(st)) return path;
  std::string target = path;
  if (fs::is_symlink(st)) {
    const fs::path resolved = fs::weakly_canonical(path, ec);
    if (!ec) target = resolved.string();
  }
  if (file_exists(target) && !fs::is_regular_file(target, ec)) {
    throw IoError(path + ": cannot write the output there: it is " + file_kind(target) +
                  " (a regular file or a new name is expected)");
  }
  return target;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(output_target(path)), tmp_path_(path_ + ".tmp") {
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (file_ == nullptr) {
    throw IoError(path_ + ": cannot open for writing: " + std::strerror(errno) + " (written as " + tmp_path_ +
                  ", then renamed)");
  }
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::remove(tmp_path_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t n_bytes) {
  if (n_bytes == 0) return;
  if (std::fwrite(data, 1, n_bytes, file_) != n_bytes) {
    throw IoError(path_ + ": write failed: " + std::strerror(errno) + " (written as " + tmp_path_ + ", then renamed)");
  }
}

void AtomicFile::commit() {
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) {
    throw IoError(path_ + ": flush failed: " + std::strerror(errno) + " (written as " + tmp_path_ + ", then renamed)");
  }
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) throw IoError(path_ + ": close failed: " + std::strerror(errno) + " (written as " + tmp_path_ + ", then renamed)");
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    std::remove(tmp_path_.c_str());
    throw IoError(path_ + ": cannot rename into place: " + std::strerror(err));
  }
}

void write_file_atomic(const std::string& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

void make_dirs(const std::string& dir, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::create_directories(dir, ec) && ec) {
    throw IoError(dir + ": cannot create " + what + ": " + ec.message());
  }
}

}  // namespace lsc::io
