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

// R (3 or 2) activation rows against the weight block's rows in micro-tiles of R x 4 outputs,
// each output one 8-lane accumulator: 3 x 4 = 12 independent FMA chains (two FMA pipes of
// latency 4 need 8 in flight) from 7 loads per 12 FMAs, in 16 registers (12 accumulators, 3 x
// vectors, one weight vector at a time). K is walked in blocks of kBlockK per row group, the
// group's accumulators kept in `saved` between blocks (R·16·8 floats: L1), so that the R rows of a
// block stay in L1 across the block's weight rows. Every output keeps its one accumulator chain in
// k order, so its FMAs are dot1's, in dot1's order, whatever the blocking (tested against dot1).
constexpr int64_t kBlockK = 256;
constexpr int64_t kMaxTileW = 16;  // the driver's weight block (matmul_driver.h)

template <int R>
void row_group(const float* x, const float* w, int64_t n_w4, int64_t n_k, bool has_tail, __m256i tail, float* out,
               int64_t out_stride) {
  const int64_t k_full = n_k / 8 * 8;
  alignas(32) float saved_all[R * kMaxTileW * 8];
  const float* xr[R];
  for (int r = 0; r < R; ++r) xr[r] = x + r * n_k;
  for (int64_t k0 = 0; k0 < n_k || k0 == 0; k0 += kBlockK) {
    const int64_t k1 = std::min(k0 + kBlockK, k_full);
    const bool first = k0 == 0, last = k0 + kBlockK >= n_k;
    for (int64_t j = 0; j < n_w4; j += 4) {
      float* saved = saved_all + j * R * 8;  // R·4 vectors of this micro-tile
      __m256 acc[R][4];
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < 4; ++c) acc[r][c] = first ? _mm256_setzero_ps() : _mm256_load_ps(saved + (4 * r + c) * 8);
      }
      const float* wr[4] = {w + j * n_k, w + (j + 1) * n_k, w + (j + 2) * n_k, w + (j + 3) * n_k};
      for (int64_t k = k0; k < k1; k += 8) {
        __m256 xv[R];
        for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(xr[r] + k);
        for (int c = 0; c < 4; ++c) {
          const __m256 wv = _mm256_loadu_ps(wr[c] + k);
          for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
        }
      }
      if (!last) {
        for (int r = 0; r < R; ++r) {
          for (int c = 0; c < 4; ++c) _mm256_store_ps(saved + (4 * r + c) * 8, acc[r][c]);
        }
        continue;
      }
      if (has_tail) {
        __m256 xv[R];
        for (int r = 0; r < R; ++r) xv[r] = _mm256_maskload_ps(xr[r] + k_full, tail);
        for (int c = 0; c < 4; ++c) {
          const __m256 wv = _mm256_maskload_ps(wr[c] + k_full, tail);
          for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
        }
      }
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < 4; ++c) out[r * out_stride + j + c] = reduce8(acc[r][c]);
      }
    }
  }
}

void tile_dot(const float* x, int64_t n_x, const float* w, int64_t n_w, int64_t n_k, float* out,
              int64_t out_stride) {
  const bool has_tail = n_k % 8 != 0;
  const __m256i tail = lanes_below(n_k % 8);  // the masked tail load's lanes
  const int64_t n_w4 = n_w / 4 * 4;
  LSC_CHECK(n_w <= kMaxTileW);
  // Groups of 3 rows, ending in one or two groups of 2 where 3 does not divide (64 = 20·3 + 2·2);
  // a single row (n_x = 1) takes whole dot products below.
  int64_t i = 0;
  for (; n_x - i >= 3 && n_x - i != 4; i += 3) {
    row_group<3>(x + i * n_k, w, n_w4, n_k, has_tail, tail, out + i * out_stride, out_stride);
  }
  for (; n_x - i >= 2; i += 2) {
    row_group<2>(x + i * n_k, w, n_w4, n_k, has_tail, tail, out + i * out_stride, out_stride);
  }
  // The columns outside the micro-tiles, and a last single row: whole dot products.
  for (int64_t r = 0; r < n_x; ++r) {
    for (int64_t j = r < i ? n_w4 : 0; j < n_w; ++j) {
      out[r * out_stride + j] = dot1(x + r * n_k, w + j * n_k, n_k, has_tail, tail);
    }
  }
}

#include "kernels/cpu/matmul_driver.h"

}  // namespace

void matmul(const MatmulArgs& args) { matmul_driver(args); }

}  // namespace lsc::cpu::avx2
