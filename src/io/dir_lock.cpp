#include "io/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/error.h"
#include "io/paths.h"

namespace lsc::io {

DirLock::DirLock(const std::string& dir) {
  const std::string path = join_path(dir, "results.sqlite.lock");
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  // A folder this process cannot write: no run can write it either, and the writing that follows
  // fails naming what it could not write (the database), which says more than the lock file would.
  if (fd_ < 0 && (errno == EACCES || errno == EROFS)) return;
  if (fd_ < 0) throw IoError(path + ": cannot create the results directory's lock file: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw InputError(dir, "", "a results directory no other logitscope is writing",
                       "another run writing it (it holds " + path + "): wait for that run to end, or stop it");
    }
    throw IoError(path + ": cannot lock the results directory: " + std::strerror(err));
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // (closing releases the lock)
}

}  // namespace lsc::io
