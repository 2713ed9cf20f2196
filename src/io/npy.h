// NumPy .npy (format 1.0, little-endian float32, C order): a streaming writer for logits rows and
// a reader for tests. Only <f4 is supported; that is all logitscope writes or reads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/atomic_file.h"

namespace lsc::io {

// Header bytes for a <f4 array of the given shape (padded so data starts at a multiple of 64).
std::string npy_header_f32(std::span<const int64_t> shape);

// Writes rows of a [n_rows, n_cols] float32 array as they come; commit() when all rows are in.
class NpyWriter {
 public:
  NpyWriter(const std::string& path, int64_t n_rows, int64_t n_cols);
  void write_rows(const float* data, int64_t n_rows);
  void commit();

 private:
  AtomicFile file_;
  int64_t n_rows_, n_cols_, rows_written_ = 0;
};

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// Reads a <f4 C-order .npy file; throws InputError naming the path on anything else.
NpyArray read_npy_f32(const std::string& path);

}  // namespace lsc::io
