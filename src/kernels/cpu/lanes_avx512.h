// Element-wise steps on 16 float lanes shared by the AVX-512 kernels (the attention TU, the bf16
// matmul's epilogues): one definition, so a fused epilogue and the separate steps it replaces
// round alike. Include only from translation units compiled with -mavx512f -mavx512bw.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/exp_avx512.h"

namespace lsc::cpu::avx512 {

// The mask of the first `left` of 16 lanes (all for left ≥ 16, none for left ≤ 0): the tail of a
// loop over n elements in steps of 16 is first_lanes(n − i).
inline __mmask16 first_lanes(int64_t left) {
  return left >= 16  ? static_cast<__mmask16>(0xffff)
         : left <= 0 ? static_cast<__mmask16>(0)
                     : static_cast<__mmask16>((1u << left) - 1u);
}

// silu(g)·u = g·u / (1 + e^{−g}) with e^{−|g|} from the polynomial (so the argument is ≤ 0):
// g ≥ 0: g·u / (1 + e^{−g});  g < 0: g·u·e^{g} / (e^{g} + 1). Relative error < 5e-7.
inline __m512 swiglu16(__m512 g, __m512 u) {
  const __m512 neg_abs = _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(g), _mm512_set1_epi32(static_cast<int>(0x80000000u))));
  const __m512 e = exp_nonpos16(neg_abs);  // e^{−|g|}
  const __mmask16 pos = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_GE_OQ);
  const __m512 gu = _mm512_mul_ps(g, u);
  const __m512 num = _mm512_mask_mul_ps(gu, static_cast<__mmask16>(~pos), gu, e);
  // 1 / (1 + e) for 1 + e in [1, 2]: rcp14 and one Newton step (relative error < 2e-7; a
  // division costs several times more here).
  const __m512 den = _mm512_add_ps(_mm512_set1_ps(1.0f), e);
  const __m512 r0 = _mm512_rcp14_ps(den);
  const __m512 r = _mm512_mul_ps(r0, _mm512_fnmadd_ps(den, r0, _mm512_set1_ps(2.0f)));
  return _mm512_mul_ps(num, r);
}

// The sums of 16 accumulators at once, each by _mm512_reduce_add_ps's own tree (lanes i + i+8,
// then + i+4, then + i+2, then + i+1: float addition is commutative, so the same sums in the same
// order give the same bits), with 15 vector adds and 30 shuffles instead of 16 separate reductions.
// a[4c + r] is the accumulator of row r and column c of a 4x4 tile; 128-bit lane r of the result
// holds row r's four sums, columns in order.
inline __m512 reduce_4x4(const __m512* a) {
  __m512 b[8], c[4], d[2];
  for (int m = 0; m < 8; ++m)  // lanes 0-7: a[2m]'s i + i+8, lanes 8-15: a[2m+1]'s
    b[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xEE));
  for (int p = 0; p < 4; ++p)  // quad q: a[4p + q]'s i + i+4
    c[p] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], 0x88),
                         _mm512_shuffle_f32x4(b[2 * p], b[2 * p + 1], 0xDD));
  for (int h = 0; h < 2; ++h)  // lane q: a[q]'s (h=0: a[8+q]'s) i + i+2, then a[4+q]'s (a[12+q]'s)
    d[h] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * h], c[2 * h + 1], 0x44),
                         _mm512_shuffle_ps(c[2 * h], c[2 * h + 1], 0xEE));
  // lane q: the sums of a[q], a[4+q], a[8+q], a[12+q]
  return _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
}

// fp32 → bf16 bits in the low 16 bits of each 32-bit lane: round to nearest even; NaN keeps its
// sign and becomes quiet, exactly as the scalar f32_to_bf16.
inline __m256i bf16_bits16(__m512 v) {
  const __m512i b = _mm512_castps_si512(v);
  const __mmask16 nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  __m512i r = _mm512_add_epi32(
      b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1))));
  r = _mm512_srli_epi32(r, 16);
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}

}  // namespace lsc::cpu::avx512
