// AtomicFile: tmp + fsync + rename.
#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/error.h"

namespace lsc::io {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_path_(path_ + ".tmp") {
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
