// reduce_row with AVX-512 intrinsics (row_reduce.cpp calls it only where the CPU has
// AVX-512F/DQ/VL/BW). The same algorithm as row_reduce_impl.h: blocks of 2048 logits, a block
// maximum and rank count, the top-k scan of blocks that reach the threshold, then e^{l−M} summed
// in double against the running maximum M. 16 lanes; the lane sums are merged in a fixed order.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "analysis/row_reduce.h"
#include "kernels/cpu/exp_avx512.h"

namespace lsc::analysis::avx512 {
namespace {
#include "analysis/row_reduce_impl.h"

using cpu::avx512::exp_nonpos16;  // kernels/cpu/exp_avx512.h

inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d hi_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }

void reduce_row_fast(const float* l, int64_t vocab, int32_t target, int k, ReducedRow* out) {
  const bool has_target = target >= 0;
  const float tl = has_target ? l[target] : 0.0f;
  const __m512 vtl = _mm512_set1_ps(tl);
  TopK top;
  top.k = std::max(1, k);
  float run_max = -INFINITY;
  __m512d s_lo = _mm512_setzero_pd(), s_hi = _mm512_setzero_pd(), e_lo = _mm512_setzero_pd(),
          e_hi = _mm512_setzero_pd();
  __m512i greater = _mm512_setzero_si512();
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t b0 = 0; b0 < vocab; b0 += kBlock) {
    const int64_t n = std::min(kBlock, vocab - b0);
    const float* x = l + b0;
    __m512 bmax = _mm512_set1_ps(-INFINITY);
    auto scan = [&](__m512 v) {
      bmax = _mm512_max_ps(bmax, v);
      greater =
          _mm512_mask_add_epi32(greater, _mm512_cmp_ps_mask(v, vtl, _CMP_GT_OQ), greater, one);
    };
    const int64_t n_full = n / 16 * 16;  // full vectors unmasked, the tail masked (−inf lanes)
    for (int64_t i = 0; i < n_full; i += 16) scan(_mm512_loadu_ps(x + i));
    if (n_full < n) {
      const __mmask16 valid = static_cast<__mmask16>((1u << (n - n_full)) - 1u);
      scan(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), valid, x + n_full));
    }
    const float m = _mm512_reduce_max_ps(bmax);
    top.offer_block(x, n, b0, m);
    if (m > run_max) {
      if (run_max != -INFINITY) {
        const double d = static_cast<double>(run_max) - static_cast<double>(m);
        const __m512d c = _mm512_set1_pd(std::exp(d)), vd = _mm512_set1_pd(d);
        e_lo = _mm512_mul_pd(c, _mm512_fmadd_pd(vd, s_lo, e_lo));
        e_hi = _mm512_mul_pd(c, _mm512_fmadd_pd(vd, s_hi, e_hi));
        s_lo = _mm512_mul_pd(c, s_lo);
        s_hi = _mm512_mul_pd(c, s_hi);
      }
      run_max = m;
    }
    const __m512 vm = _mm512_set1_ps(run_max);
    auto add = [&](__m512 z, __m512 e) {  // z = l − M, e = e^z (0 in masked lanes)
      const __m512 ez = _mm512_mul_ps(e, z);
      s_lo = _mm512_add_pd(s_lo, lo_pd(e));
      s_hi = _mm512_add_pd(s_hi, hi_pd(e));
      e_lo = _mm512_add_pd(e_lo, lo_pd(ez));
      e_hi = _mm512_add_pd(e_hi, hi_pd(ez));
    };
    for (int64_t i = 0; i < n_full; i += 16) {
      const __m512 z = _mm512_sub_ps(_mm512_loadu_ps(x + i), vm);
      add(z, exp_nonpos16(z));
    }
    if (n_full < n) {
      const __mmask16 valid = static_cast<__mmask16>((1u << (n - n_full)) - 1u);
      const __m512 z = _mm512_maskz_sub_ps(valid, _mm512_maskz_loadu_ps(valid, x + n_full), vm);
      add(z, _mm512_maskz_mov_ps(valid, exp_nonpos16(z)));
    }
  }
  const double S = _mm512_reduce_add_pd(_mm512_add_pd(s_lo, s_hi));
  const double E = _mm512_reduce_add_pd(_mm512_add_pd(e_lo, e_hi));
  finish_row(run_max, S, E, _mm512_reduce_add_epi32(greater), has_target, tl, top, k, out);
}

}  // namespace

void reduce_row(const float* l, int64_t vocab, int32_t target, int k, ReducedRow* out) {
  reduce_row_fast(l, vocab, target, k, out);
}

}  // namespace lsc::analysis::avx512
