// Exponentials on 16 float lanes (AVX-512F). Include only from translation units compiled with
// -mavx512f (the attention and matmul kernels, analysis::row_reduce); one definition serves all.
#pragma once

#include <immintrin.h>

namespace lsc::cpu::avx512 {

// e^z for z ≤ 0: z = n·ln2 + r with ln2 split in two parts, a degree-6 Taylor polynomial of e^r,
// 2^n applied with scalef; 0 below −87. Relative error < 5e-7.
inline __m512 exp_nonpos16(__m512 z) {
  const __m512 zc = _mm512_max_ps(z, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(zc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), zc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  const __mmask16 tiny = _mm512_cmp_ps_mask(z, _mm512_set1_ps(-87.0f), _CMP_LT_OQ);
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), _mm512_scalef_ps(p, n));
}

// 2^t for t ≤ ~0 on 16 lanes: t = n + r with n = round(t), r in [−0.5, 0.5] (exact), 2^r by its
// degree-5 Taylor polynomial in r·ln 2 (relative error < 4e-6: far below the 2^-9 of the bf16
// rounding the softmax applies next), 2^n by scalef. t is clamped at −126, so no result is
// subnormal (the smallest is 2^-126); the lanes outside `keep` are 0. NaN stays NaN (vmaxps
// returns its second operand when one is NaN).
inline __m512 exp2_maskz(__mmask16 keep, __m512 t) {
  const __m512 tc = _mm512_max_ps(_mm512_set1_ps(-126.0f), t);
  const __m512 n = _mm512_roundscale_ps(tc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(tc, n);
  __m512 p = _mm512_set1_ps(1.3333558146428443e-3f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.6181291076284772e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.5504108664821580e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4022650695910071e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.9314718055994531e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(keep, p, n);
}

}  // namespace lsc::cpu::avx512
