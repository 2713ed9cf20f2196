// Scalar matmul: the portable fallback and the reference the vector kernels are tested against.
// Compiled with no ISA flags. 16 independent partial sums per dot product keep it readable and
// let the compiler use baseline SIMD without reassociating anything.
#include <algorithm>
#include <vector>

#include "kernels/cpu/kernels.h"

namespace lsc::cpu::scalar {
namespace {

inline void convert_block_row(const WeightMatrix& w, int64_t row, float* out) {
  convert_row(w, row, out);
}

float dot(const float* x, const float* w, int64_t n_k) {
  float acc[16] = {};
  int64_t k = 0;
  for (; k + 16 <= n_k; k += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += x[k + j] * w[k + j];
  }
  for (int j = 0; k + j < n_k; ++j) acc[j] += x[k + j] * w[k + j];
  for (int s = 8; s >= 1; s /= 2) {
    for (int j = 0; j < s; ++j) acc[j] += acc[j + s];
  }
  return acc[0];
}

void tile_dot(const float* x, int64_t n_x, const float* w, int64_t n_w, int64_t n_k, float* out,
              int64_t out_stride) {
  for (int64_t i = 0; i < n_x; ++i) {
    for (int64_t j = 0; j < n_w; ++j) out[i * out_stride + j] = dot(x + i * n_k, w + j * n_k, n_k);
  }
}

#include "kernels/cpu/matmul_driver.h"

}  // namespace

void matmul(const MatmulArgs& args) { matmul_driver(args); }

}  // namespace lsc::cpu::scalar
