// AVX2 + FMA fp32 matmul against F32/BF16/F16 weights (converted per 16-row block, exactly), for
// CPUs without AVX-512 (AMD Zen 2/3, older Intel). Compiled with -mavx2 -mfma -mf16c; only called
// after dispatch.cpp has seen the CPU support AVX2, FMA and F16C.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "io/error.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/lanes_avx2.h"

namespace lsc::cpu::avx2 {
namespace {

void convert_block_row(const WeightMatrix& w, int64_t row, float* out) {
  const int64_t n = w.cols;
  if (w.type == WType::BF16) {
    const uint16_t* p = static_cast<const uint16_t*>(w.data) + row * n;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
    }
    for (; i < n; ++i) out[i] = bf16_to_f32(p[i]);
  } else if (w.type == WType::F16) {
    const uint16_t* p = static_cast<const uint16_t*>(w.data) + row * n;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))));
    }
    for (; i < n; ++i) out[i] = f16_to_f32(p[i]);
  } else {
    convert_row(w, row, out);
  }
}

// Lanes [0, n % 8) of the masked tail load.
inline __m256i tail_mask(int64_t n_k) {
  const int r = static_cast<int>(n_k % 8);
  alignas(32) int32_t m[8];
  for (int i = 0; i < 8; ++i) m[i] = i < r ? -1 : 0;
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(m));
}

// One dot product: a single 8-lane accumulator, k ascending, masked tail, fixed reduction. The
// 2x4 micro-tiles below perform exactly these operations per output, so results do not depend on
// which code computed an element.
inline float dot1(const float* x, const float* w, int64_t n_k, bool has_tail, __m256i tail) {
  __m256 acc = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= n_k; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), acc);
  if (has_tail) acc = _mm256_fmadd_ps(_mm256_maskload_ps(x + k, tail), _mm256_maskload_ps(w + k, tail), acc);
  return reduce8(acc);
}

// K in blocks of kBlockK: a block of the 16 weight rows (16 KB) and of the x rows stays in L1
// while every 2x4 micro-tile of the tile passes over it (streaming whole rows of K from L2 per
// micro-tile made the kernel L2-bound). Each output keeps its one accumulator chain across the
// blocks (stored between them), so its FMAs are dot1's, in dot1's order.
constexpr int64_t kBlockK = 256;
constexpr int64_t kMaxTileX = 64, kMaxTileW = 16;  // the driver's tile (matmul_driver.h)

void tile_dot(const float* x, int64_t n_x, const float* w, int64_t n_w, int64_t n_k, float* out,
              int64_t out_stride) {
  const bool has_tail = n_k % 8 != 0;
  const __m256i tail = tail_mask(n_k);
  const int64_t n_x2 = n_x / 2 * 2, n_w4 = n_w / 4 * 4;
  LSC_CHECK(n_x <= kMaxTileX && n_w <= kMaxTileW);
  alignas(32) float accbuf[kMaxTileX * kMaxTileW * 8];  // [row][col] × 8 lanes
  for (int64_t kb = 0; kb < n_k || kb == 0; kb += kBlockK) {
    const int64_t kend = std::min(n_k, kb + kBlockK);
    const bool last = kend == n_k;
    for (int64_t i = 0; i < n_x2; i += 2) {
      for (int64_t j = 0; j < n_w4; j += 4) {
        __m256 acc[2][4];
        for (int r = 0; r < 2; ++r) {
          for (int c = 0; c < 4; ++c) {
            acc[r][c] = kb == 0 ? _mm256_setzero_ps() : _mm256_load_ps(accbuf + ((i + r) * kMaxTileW + j + c) * 8);
          }
        }
        const float* xr[2] = {x + i * n_k, x + (i + 1) * n_k};
        const float* wr[4] = {w + j * n_k, w + (j + 1) * n_k, w + (j + 2) * n_k, w + (j + 3) * n_k};
        int64_t k = kb;
        for (; k + 8 <= kend; k += 8) {
          __m256 wv[4];
          for (int c = 0; c < 4; ++c) wv[c] = _mm256_loadu_ps(wr[c] + k);
          for (int r = 0; r < 2; ++r) {
            const __m256 xv = _mm256_loadu_ps(xr[r] + k);
            for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
          }
        }
        if (last && has_tail) {
          __m256 wv[4];
          for (int c = 0; c < 4; ++c) wv[c] = _mm256_maskload_ps(wr[c] + k, tail);
          for (int r = 0; r < 2; ++r) {
            const __m256 xv = _mm256_maskload_ps(xr[r] + k, tail);
            for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
          }
        }
        for (int r = 0; r < 2; ++r) {
          for (int c = 0; c < 4; ++c) {
            if (last) {
              out[(i + r) * out_stride + j + c] = reduce8(acc[r][c]);
            } else {
              _mm256_store_ps(accbuf + ((i + r) * kMaxTileW + j + c) * 8, acc[r][c]);
            }
          }
        }
      }
    }
    if (last) break;
  }
  // The rows and columns outside the 2x4 micro-tiles: whole dot products.
  for (int64_t i = 0; i < n_x; ++i) {
    for (int64_t j = i < n_x2 ? n_w4 : 0; j < n_w; ++j) {
      out[i * out_stride + j] = dot1(x + i * n_k, w + j * n_k, n_k, has_tail, tail);
    }
  }
}

#include "kernels/cpu/matmul_driver.h"

}  // namespace

void matmul(const MatmulArgs& args) { matmul_driver(args); }

}  // namespace lsc::cpu::avx2
