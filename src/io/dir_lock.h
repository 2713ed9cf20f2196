// One writer per results directory: an exclusive flock(2) on <dir>/results.sqlite.lock, held for
// the lifetime of the object and released by the kernel however the process ends (so a killed
// run leaves nothing to clean up). A second `run` on the same --out is refused, not run beside
// the first (both would compute every text the other has not committed yet).
#pragma once

#include <string>

namespace lsc::io {

class DirLock {
 public:
  // Takes the lock or throws InputError naming the directory (held by another process) or
  // IoError (the lock file cannot be created; in a folder without write permission none is taken).
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace lsc::io
