// Writing safetensors files (demo checkpoints, test fixtures the project generates itself).
// The header is written in name order with contiguous data, as Hugging Face's writer does.
#pragma once

#include <cstdint>
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

}  // namespace lsc::io
