// safetensors: the header parser (bytes in, tensor table out) and nothing about models.
// Format: u64 little-endian header length N, N bytes of JSON, then the data buffer; each entry
// {"dtype", "shape", "data_offsets": [begin, end]} with offsets relative to the data buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace lsc::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool, F8E4M3, F8E5M2 };

const char* dtype_name(DType t);  // "F32", "BF16", ... as written in the header
size_t dtype_bytes(DType t);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data buffer, end exclusive
  int64_t n_elements() const;
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;             // sorted by begin offset
  std::map<std::string, std::string> metadata;  // "__metadata__", if any
  size_t data_start = 0;                        // offset of the data buffer in the file
};

// Validates everything the header promises against the file size: header length within the file,
// JSON object, known dtypes, non-negative shapes, data_offsets in range, matching shape x dtype,
// and no two tensors overlapping. `where` names the file in errors. Throws InputError.
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file_bytes,
                                           const std::string& where);

std::string shape_str(std::span<const int64_t> shape);  // "[512, 3584]"

}  // namespace lsc::io
