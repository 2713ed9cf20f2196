// .npy format 1.0: magic, version, little-endian u16 header length, a Python-dict header, data.
#include "io/npy.h"

#include <cstring>

#include "io/error.h"
#include "io/mapped_file.h"

namespace lsc::io {

std::string npy_header_f32(std::span<const int64_t> shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // magic(6) + version(2) + len(2) + dict + padding + '\n' must be a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  uint16_t n = static_cast<uint16_t>(dict.size());
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>(n >> 8);
  return out + dict;
}

NpyWriter::NpyWriter(const std::string& path, int64_t n_rows, int64_t n_cols)
    : file_(path), n_rows_(n_rows), n_cols_(n_cols) {
  const int64_t shape[2] = {n_rows, n_cols};
  file_.write(npy_header_f32(shape));
}

void NpyWriter::write_rows(const float* data, int64_t n_rows) {
  LSC_CHECK(rows_written_ + n_rows <= n_rows_);
  file_.write(data, static_cast<size_t>(n_rows * n_cols_) * sizeof(float));
  rows_written_ += n_rows;
}

void NpyWriter::commit() {
  LSC_CHECK(rows_written_ == n_rows_);
  file_.commit();
}

NpyArray read_npy_f32(const std::string& path) {
  MappedFile f(path);
  auto b = f.bytes();
  const char* p = reinterpret_cast<const char*>(b.data());
  if (b.size() < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) {
    throw InputError(path, "", "a .npy file", "no NUMPY magic");
  }
  size_t header_len = 0, offset = 0;
  if (p[6] == 1) {
    header_len = static_cast<uint8_t>(p[8]) | (static_cast<uint8_t>(p[9]) << 8);
    offset = 10;
  } else {
    if (b.size() < 12) throw InputError(path, "", "a .npy header", "a truncated file");
    header_len = static_cast<uint8_t>(p[8]) | (static_cast<uint8_t>(p[9]) << 8) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(p[10])) << 16) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(p[11])) << 24);
    offset = 12;
  }
  if (offset + header_len > b.size()) throw InputError(path, "", "a .npy header", "a truncated file");
  std::string dict(p + offset, header_len);
  if (dict.find("'<f4'") == std::string::npos) throw InputError(path, "descr", "'<f4'", dict);
  if (dict.find("'fortran_order': False") == std::string::npos) {
    throw InputError(path, "fortran_order", "False", dict);
  }
  NpyArray a;
  auto s = dict.find("'shape': (");
  if (s == std::string::npos) throw InputError(path, "shape", "a tuple", dict);
  s += 10;
  auto e = dict.find(')', s);
  std::string inner = dict.substr(s, e - s);
  size_t pos = 0;
  while (pos < inner.size()) {
    while (pos < inner.size() && (inner[pos] == ' ' || inner[pos] == ',')) ++pos;
    if (pos >= inner.size()) break;
    size_t used = 0;
    a.shape.push_back(std::stoll(inner.substr(pos), &used));
    pos += used;
  }
  int64_t n = 1;
  for (int64_t d : a.shape) n *= d;
  size_t data_off = offset + header_len;
  if (data_off + static_cast<size_t>(n) * 4 != b.size()) {
    throw InputError(path, "", std::to_string(n * 4) + " data bytes",
                     std::to_string(b.size() - data_off));
  }
  a.data.resize(static_cast<size_t>(n));
  std::memcpy(a.data.data(), p + data_off, static_cast<size_t>(n) * 4);
  return a;
}

}  // namespace lsc::io
