// Read-only memory map of a whole file (RAII). Checkpoint shards are read in place through this,
// never copied. Does not interpret the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace lsc::io {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws InputError naming the path if the file cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // View into the mapping; valid while this MappedFile lives.
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// Gives the pages wholly inside [p, p + n) of a read-only mapping back to the kernel
// (madvise MADV_DONTNEED): they leave the process's resident set, and a later read faults them in
// again from the file, unchanged. For weights that have been copied elsewhere (packed).
void release_pages(const void* p, size_t n);

// Asks the kernel to read the pages of [p, p + n) of a file mapping ahead, in the background
// (madvise MADV_WILLNEED): a later pass over them finds them in the page cache. Advice only.
void prefetch_pages(const void* p, size_t n);

// Bytes of memory this process could still take without swapping or reaching its cgroup's
// limit: MemAvailable from /proc/meminfo, lowered to what the cgroup's memory limit leaves
// (cgroup_memory_room: v2 or v1) if there is one. -1 where neither can be read.
int64_t available_memory_bytes();

}  // namespace lsc::io
