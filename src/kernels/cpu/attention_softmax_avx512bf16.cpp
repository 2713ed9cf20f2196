// The online softmax step of the bf16 attention (attention_dnnl.cpp) on AVX512-BF16: per row and
// block of keys one pass for the max and one for e^x, its bf16 rounding and the row's sum, with
// vcvtne2ps2bf16 rounding 32 values in one instruction. Compiled with -mavx512bf16; called only
// on the bf16 path, which dispatch enables only where the CPU has AVX512-BF16 (every AMX CPU has).
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/lanes_avx512.h"

namespace lsc::cpu::avx512 {
namespace {

// R rows of attention_block_rows at once (independent chains, interleaved for the pipelines).
// kFull: every key of the block counts in every row (n_valid = n), so each lane mask is all ones
// (the same arithmetic without computing the masks: the blocks below the diagonal, most of a
// long text's).
template <int R, bool kFull>
inline void block_rows(const float* s, int64_t n, const int64_t* n_valid, float scale, float* m, double* l,
                       uint16_t* p16, float* alpha) {
  auto lanes = [&](int r, int64_t i) { return kFull ? static_cast<__mmask16>(0xffff) : first_lanes(n_valid[r] - i); };
  __m512 vmax[R];
  for (int r = 0; r < R; ++r) vmax[r] = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16) {
    for (int r = 0; r < R; ++r) {
      vmax[r] = _mm512_mask_max_ps(vmax[r], lanes(r, i), vmax[r], _mm512_loadu_ps(s + r * n + i));
    }
  }
  const float c = scale * 1.44269504088896341f;
  const __m512 vc = _mm512_set1_ps(c);
  const __m512i hi_half = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  __m512 vmc[R], sum[R];
  for (int r = 0; r < R; ++r) {
    const float m_old = m[r], m_new = std::max(m_old, _mm512_reduce_max_ps(vmax[r]));
    alpha[r] = m_old == m_new ? 1.0f
               : m_old == -INFINITY
                   ? 0.0f
                   : static_cast<float>(std::exp((double(m_old) - double(m_new)) * double(scale)));
    m[r] = m_new;
    vmc[r] = _mm512_set1_ps(m_new * c);
    sum[r] = _mm512_setzero_ps();
  }
  for (int64_t i = 0; i < n; i += 32) {
    for (int r = 0; r < R; ++r) {
      // t = s·c − m·c in one rounding: at most an ulp above 0 at the max, so p ≤ 1 after rounding.
      const __m512 t0 = _mm512_fmsub_ps(_mm512_loadu_ps(s + r * n + i), vc, vmc[r]);
      const __m512 t1 = _mm512_fmsub_ps(_mm512_loadu_ps(s + r * n + i + 16), vc, vmc[r]);
      const __m512i b = std::bit_cast<__m512i>(
          _mm512_cvtne2ps_pbh(exp2_maskz(lanes(r, i + 16), t1), exp2_maskz(lanes(r, i), t0)));
      _mm512_storeu_si512(p16 + r * n + i, b);
      // Element 2j of the 32 sits in the low half of 32-bit lane j, element 2j + 1 in the high.
      sum[r] = _mm512_add_ps(sum[r], _mm512_castsi512_ps(_mm512_slli_epi32(b, 16)));
      sum[r] = _mm512_add_ps(sum[r], _mm512_castsi512_ps(_mm512_and_si512(b, hi_half)));
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(sum[r]));
    const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sum[r]), 1)));
    l[r] = l[r] * double(alpha[r]) + _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
  }
}

}  // namespace

// The online softmax step of attention_causal_bf16_rows for n_rows rows and one block of n keys
// (n a multiple of 32). Row r: s + r·n holds its raw scores q·k; keys [0, n_valid) count, with
// n_valid = min(n, valid0 + r mod period) ≥ 1, the others are masked. m[r], the running max of
// the row's raw scores (−inf before the first block), becomes m_new = max(m[r], max of the valid
// s); alpha[r] = e^{scale·(m_old − m_new)} rescales what the row summed before (exactly 1 when
// the max did not move); p16 + r·n = bf16(2^{(s − m_new)·scale·log2 e}) (0 where masked, ≤ 1);
// l[r] = l[r]·alpha[r] + the sum of the bf16 values of p (fp32 per lane, at most n/16 values
// each, the lanes merged in double in a fixed order). Since scale > 0, the max of the raw scores
// is the max of the scaled ones. Each row's arithmetic is its own: the same whatever rows share
// the call.
void attention_block_rows(const float* s, int64_t n_rows, int64_t n, int64_t valid0, int64_t period, float scale,
                          float* m, double* l, uint16_t* p16, float* alpha) {
  constexpr int kRows = 4;
  int64_t n_valid[kRows];
  for (int64_t r = 0; r < n_rows; r += kRows) {
    const int64_t rows = std::min<int64_t>(kRows, n_rows - r);
    for (int64_t j = 0; j < rows; ++j) n_valid[j] = std::min(n, valid0 + (r + j) % period);
    const bool full = std::all_of(n_valid, n_valid + rows, [n](int64_t v) { return v == n; });
    if (rows == kRows && full) {
      block_rows<kRows, true>(s + r * n, n, n_valid, scale, m + r, l + r, p16 + r * n, alpha + r);
    } else if (rows == kRows) {
      block_rows<kRows, false>(s + r * n, n, n_valid, scale, m + r, l + r, p16 + r * n, alpha + r);
    } else {
      for (int64_t j = 0; j < rows; ++j) {
        block_rows<1, false>(s + (r + j) * n, n, n_valid + j, scale, m + r + j, l + r + j, p16 + (r + j) * n,
                             alpha + r + j);
      }
    }
  }
}

}  // namespace lsc::cpu::avx512
