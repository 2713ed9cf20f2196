// Writing safetensors files (demo checkpoints, test fixtures the project generates itself).
// The header is written in name order with contiguous data, as Hugging Face's writer does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace lsc::io {

struct TensorData {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // n_elements × dtype_bytes, little-endian
};

// Serialises the tensors to safetensors bytes (header + data).
std::string safetensors_bytes(const std::vector<TensorData>& tensors,
                              const std::map<std::string, std::string>& metadata = {});
// Writes atomically to path. Throws IoError.
void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// A tensor to be written by write_safetensors_streamed: its bytes are produced on demand.
struct TensorSpecOut {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  int64_t n_bytes() const;
};
// Writes the tensors one at a time (name order, as write_safetensors): fill(i, bytes) fills the
// n_bytes() of tensors[i] into a buffer that is then written and reused, so the memory held is
// one tensor's, whatever the file's size. Atomic like write_safetensors. Throws IoError.
void write_safetensors_streamed(const std::string& path, const std::vector<TensorSpecOut>& tensors,
                                const std::function<void(size_t, std::vector<uint8_t>&)>& fill,
                                const std::map<std::string, std::string>& metadata = {});

}  // namespace lsc::io
