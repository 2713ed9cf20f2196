// Element-wise steps on 16 float lanes shared by the AVX-512 kernels (the attention TU, the bf16
// matmul's epilogues): one definition, so a fused epilogue and the separate steps it replaces
// round alike. Include only from translation units compiled with -mavx512f -mavx512bw.
#pragma once

#include <immintrin.h>

#include "kernels/cpu/exp_avx512.h"

namespace lsc::cpu::avx512 {

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
