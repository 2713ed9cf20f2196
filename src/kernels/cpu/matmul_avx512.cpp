// AVX-512 fp32 matmul against F32/BF16/F16 weights (converted per 16-row block, exactly).
// Compiled with -mavx512f -mavx512bw -mavx512vl -mf16c; only called after dispatch.cpp has seen
// the CPU support AVX-512F/BW/VL.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "io/error.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/lanes_avx512.h"

namespace lsc::cpu::avx512 {
namespace {

void convert_block_row(const WeightMatrix& w, int64_t row, float* out) {
  const int64_t n = w.cols;
  if (w.type == WType::BF16) {
    const uint16_t* p = static_cast<const uint16_t*>(w.data) + row * n;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      __m512i v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
      _mm512_storeu_ps(out + i, _mm512_castsi512_ps(v));
    }
    for (; i < n; ++i) out[i] = bf16_to_f32(p[i]);
  } else if (w.type == WType::F16) {
    const uint16_t* p = static_cast<const uint16_t*>(w.data) + row * n;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      _mm512_storeu_ps(out + i, _mm512_cvtph_ps(h));
    }
    for (; i < n; ++i) out[i] = f16_to_f32(p[i]);
  } else {
    convert_row(w, row, out);
  }
}

// One dot product: a single 16-lane accumulator, k ascending, masked tail, fixed reduction.
// The 4x4 kernel below performs exactly these operations per output, so results do not depend
// on which kernel computed an element.
inline float dot1(const float* x, const float* w, int64_t n_k, __mmask16 tail) {
  __m512 acc = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= n_k; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(w + k), acc);
  if (tail) acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + k), _mm512_maskz_loadu_ps(tail, w + k), acc);
  return _mm512_reduce_add_ps(acc);
}

// K is walked in blocks of kBlockK per 4-row group, the group's 4x16 outputs keeping their
// accumulators in `acc_buf` between blocks (1 KB per 4x4 tile: L1), so that the group's 4 rows of a
// block stay in L1 across the block's 16 weight rows instead of streaming from L2 once per 4
// weight rows (K = 4864, the MLP's down projection: 118 → 174-195 GFLOP/s). Every output keeps its one
// chain of 16 lane accumulators in k order, so blocking changes no bit (tested against dot1).
constexpr int64_t kBlockK = 1024;

void tile_dot(const float* x, int64_t n_x, const float* w, int64_t n_w, int64_t n_k, float* out,
              int64_t out_stride) {
  const __mmask16 tail = static_cast<__mmask16>((1u << (n_k % 16)) - 1u);
  const int64_t k_full = n_k / 16 * 16;
  constexpr int64_t kMaxTileW = 16;  // the driver's weight block (matmul_driver.h)
  LSC_CHECK(n_w <= kMaxTileW);
  alignas(64) float acc_buf[4 * kMaxTileW * 16];  // the 4x4 tiles of the block's rows × 16 lanes
  int64_t i = 0;
  for (; i + 4 <= n_x; i += 4) {
    const int64_t n_w4 = n_w / 4 * 4;
    const float* xr[4] = {x + i * n_k, x + (i + 1) * n_k, x + (i + 2) * n_k, x + (i + 3) * n_k};
    for (int64_t k0 = 0; k0 < n_k || k0 == 0; k0 += kBlockK) {
      const int64_t k1 = std::min(k0 + kBlockK, k_full);
      const bool first = k0 == 0, last = k0 + kBlockK >= n_k;
      for (int64_t j = 0; j < n_w4; j += 4) {
        float* saved = acc_buf + j * 16 * 4;  // 16 vectors of this 4x4 tile
        __m512 acc[16];  // acc[4c + r]: row r, column c
        for (int a = 0; a < 16; ++a) acc[a] = first ? _mm512_setzero_ps() : _mm512_load_ps(saved + a * 16);
        const float* wr[4] = {w + j * n_k, w + (j + 1) * n_k, w + (j + 2) * n_k, w + (j + 3) * n_k};
        for (int64_t k = k0; k < k1; k += 16) {
          __m512 xv[4], wv[4];
          for (int r = 0; r < 4; ++r) xv[r] = _mm512_loadu_ps(xr[r] + k);
          for (int c = 0; c < 4; ++c) wv[c] = _mm512_loadu_ps(wr[c] + k);
          for (int c = 0; c < 4; ++c) {
            for (int r = 0; r < 4; ++r) acc[4 * c + r] = _mm512_fmadd_ps(xv[r], wv[c], acc[4 * c + r]);
          }
        }
        if (!last) {
          for (int a = 0; a < 16; ++a) _mm512_store_ps(saved + a * 16, acc[a]);
          continue;
        }
        if (tail) {
          __m512 xv[4], wv[4];
          for (int r = 0; r < 4; ++r) xv[r] = _mm512_maskz_loadu_ps(tail, xr[r] + k_full);
          for (int c = 0; c < 4; ++c) wv[c] = _mm512_maskz_loadu_ps(tail, wr[c] + k_full);
          for (int c = 0; c < 4; ++c) {
            for (int r = 0; r < 4; ++r) acc[4 * c + r] = _mm512_fmadd_ps(xv[r], wv[c], acc[4 * c + r]);
          }
        }
        const __m512 sums = reduce_4x4(acc);
        _mm_storeu_ps(out + (i + 0) * out_stride + j, _mm512_extractf32x4_ps(sums, 0));
        _mm_storeu_ps(out + (i + 1) * out_stride + j, _mm512_extractf32x4_ps(sums, 1));
        _mm_storeu_ps(out + (i + 2) * out_stride + j, _mm512_extractf32x4_ps(sums, 2));
        _mm_storeu_ps(out + (i + 3) * out_stride + j, _mm512_extractf32x4_ps(sums, 3));
      }
    }
    for (int64_t j = n_w4; j < n_w; ++j) {
      for (int r = 0; r < 4; ++r) out[(i + r) * out_stride + j] = dot1(x + (i + r) * n_k, w + j * n_k, n_k, tail);
    }
  }
  for (; i < n_x; ++i) {
    for (int64_t j = 0; j < n_w; ++j) out[i * out_stride + j] = dot1(x + i * n_k, w + j * n_k, n_k, tail);
  }
}

#include "kernels/cpu/matmul_driver.h"

}  // namespace

void matmul(const MatmulArgs& args) { matmul_driver(args); }

}  // namespace lsc::cpu::avx512

namespace lsc::cpu::avx512 {

// fp32 → bf16 bits (bf16_bits16: the scalar f32_to_bf16's rounding, so results never depend on
// which converter ran).
void f32_to_bf16_n(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), bf16_bits16(_mm512_loadu_ps(x + i)));
  for (; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

// split_bf16_rows' parts, 16 lanes at a time (the scalar split's arithmetic: same bits).
void split_bf16_n(const float* x, int64_t n, int parts, uint16_t* const* out) {
  const __m512i exp_mask = _mm512_set1_epi32(0x7f800000);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = first_lanes(n - i);
    __m512 r = _mm512_maskz_loadu_ps(valid, x + i);
    __mmask16 finite = 0xffff;
    for (int p = 0; p < parts; ++p) {
      const __m256i b = bf16_bits16(r);
      _mm256_mask_storeu_epi16(out[p] + i, valid, b);
      const __m512 part = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
      if (p == 0) {
        finite = _mm512_cmpneq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(part), exp_mask), exp_mask);
      }
      r = _mm512_maskz_sub_ps(finite, r, part);
    }
  }
}

// out16 = bf16(swiglu(gate, up)) in one pass: the same lanes as swiglu_span then f32_to_bf16_n.
void swiglu_bf16_span(const float* gate, const float* up, int64_t n, uint16_t* out16) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = first_lanes(n - i);
    const __m512 y = swiglu16(_mm512_maskz_loadu_ps(valid, gate + i), _mm512_maskz_loadu_ps(valid, up + i));
    _mm256_mask_storeu_epi16(out16 + i, valid, bf16_bits16(y));
  }
}

void store_row(float* out, const float* src, const float* bias, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(src + i);
    if (bias != nullptr) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + i));
    _mm512_storeu_ps(out + i, v);
  }
  for (; i < n; ++i) out[i] = bias != nullptr ? src[i] + bias[i] : src[i];
}

// store_row without bias through non-temporal stores (64-byte aligned part; the ends plain).
// The caller fences (_mm_sfence) before the data is handed to another thread.
void stream_row(float* out, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(out + i) & 63) != 0; ++i) out[i] = src[i];
  for (; i + 16 <= n; i += 16) _mm512_stream_ps(out + i, _mm512_loadu_ps(src + i));
  for (; i < n; ++i) out[i] = src[i];
}

void accumulate_row(float* out, const float* src, const float* bias, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(src + i);
    if (bias != nullptr) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + i));
    _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_loadu_ps(out + i), v));
  }
  for (; i < n; ++i) out[i] += bias != nullptr ? src[i] + bias[i] : src[i];
}

}  // namespace lsc::cpu::avx512
