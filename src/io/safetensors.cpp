// safetensors header parsing and validation.
#include "io/safetensors.h"

#include <algorithm>
#include <cstring>

#include "io/error.h"
#include "io/json.h"

namespace lsc::io {

namespace {

struct DTypeName {
  const char* name;
  DType type;
  size_t bytes;
};
constexpr DTypeName kDTypes[] = {
    {"F64", DType::F64, 8},  {"F32", DType::F32, 4},   {"F16", DType::F16, 2},
    {"BF16", DType::BF16, 2}, {"I64", DType::I64, 8},  {"I32", DType::I32, 4},
    {"I16", DType::I16, 2},  {"I8", DType::I8, 1},     {"U8", DType::U8, 1},
    {"BOOL", DType::Bool, 1}, {"F8_E4M3", DType::F8E4M3, 1}, {"F8_E5M2", DType::F8E5M2, 1},
};

// Header JSON larger than this is not a real checkpoint (the format itself caps it at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

}  // namespace

const char* dtype_name(DType t) {
  for (const auto& d : kDTypes) {
    if (d.type == t) return d.name;
  }
  return "?";
}

size_t dtype_bytes(DType t) {
  for (const auto& d : kDTypes) {
    if (d.type == t) return d.bytes;
  }
  return 0;
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file_bytes,
                                           const std::string& where) {
  if (file_bytes.size() < 8) {
    throw InputError(where, "header length", "8 bytes", std::to_string(file_bytes.size()) + " bytes");
  }
  uint64_t n_header = 0;
  for (int i = 7; i >= 0; --i) n_header = (n_header << 8) | static_cast<uint8_t>(file_bytes[i]);
  const uint64_t n_after = file_bytes.size() - 8;
  if (n_header > n_after || n_header > kMaxHeaderBytes) {
    throw InputError(where, "header length", "at most " + std::to_string(n_after) + " bytes (the rest of the file)",
                     std::to_string(n_header));
  }
  std::string_view text(reinterpret_cast<const char*>(file_bytes.data()) + 8, n_header);
  Json j = parse_json(text, where + ": header");
  if (!j.is_object()) throw InputError(where, "header", "a JSON object", json_type_name(j));

  SafetensorsHeader h;
  h.data_start = 8 + n_header;
  const uint64_t n_data = n_after - n_header;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const Json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) throw InputError(where, "__metadata__", "an object", json_type_name(e));
      for (auto m = e.begin(); m != e.end(); ++m) {
        h.metadata[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
      }
      continue;
    }
    const std::string item = "tensor '" + name + "'";
    if (!e.is_object()) throw InputError(where, item, "an object", json_type_name(e));
    TensorInfo t;
    t.name = name;
    const std::string dt = require_string(e, "dtype", where + ": " + item);
    const DTypeName* found = nullptr;
    for (const auto& d : kDTypes) {
      if (dt == d.name) found = &d;
    }
    if (found == nullptr) throw InputError(where, item, "a known dtype (F32, BF16, F16, ...)", "dtype \"" + dt + "\"");
    t.dtype = found->type;
    const Json& shape = require_key(e, "shape", where + ": " + item);
    if (!shape.is_array()) throw InputError(where, item + " shape", "an array", json_type_name(shape));
    uint64_t n_el = 1;
    for (const Json& d : shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        throw InputError(where, item + " shape", "non-negative integers", json_brief(shape));
      }
      t.shape.push_back(d.get<int64_t>());
      uint64_t dim = static_cast<uint64_t>(t.shape.back());
      if (dim != 0 && n_el > (uint64_t{1} << 48) / dim) {
        throw InputError(where, item + " shape", "a shape that fits in memory", json_brief(shape));
      }
      n_el *= dim;
    }
    const Json& off = require_key(e, "data_offsets", where + ": " + item);
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      throw InputError(where, item + " data_offsets", "[begin, end] with non-negative integers",
                       json_brief(off));
    }
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    if (t.end < t.begin || t.end > n_data) {
      // A tensor that ends past the data is what a cut-off download or copy looks like.
      throw InputError(
          where, item + " data_offsets",
          "0 <= begin <= end <= " + std::to_string(n_data) + " (data bytes in the file)",
          json_brief(off) +
              (t.end > n_data && t.begin <= t.end
                   ? ": " + std::to_string(t.end - n_data) + " bytes past the end (truncated file?)"
                   : ""));
    }
    const uint64_t want = n_el * found->bytes;
    if (t.end - t.begin != want) {
      throw InputError(where, item + " data_offsets",
                       std::to_string(want) + " bytes for shape " + shape_str(t.shape) + " " + dt,
                       std::to_string(t.end - t.begin) + " bytes");
    }
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < h.tensors.size(); ++i) {
    const auto& a = h.tensors[i - 1];
    const auto& b = h.tensors[i];
    if (b.begin < a.end) {
      throw InputError(where, "tensor '" + b.name + "'",
                       "data not overlapping tensor '" + a.name + "' (bytes " + std::to_string(a.begin) +
                           ".." + std::to_string(a.end) + ")",
                       "bytes " + std::to_string(b.begin) + ".." + std::to_string(b.end));
    }
  }
  return h;
}

}  // namespace lsc::io
