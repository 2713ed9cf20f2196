// Exponentials on 16 float lanes (AVX-512F). Include only from translation units compiled with
// -mavx512f (the attention and matmul kernels, analysis::row_reduce); one definition serves all.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/cpu/expf_table.h"

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

// e^x on 16 lanes, equal bit for bit to glibc's expf (2.28 and later: the algorithm of its
// e_expf.c, which the fp32 reference's std::exp calls), so that vector code can repeat the
// reference's softmax and SwiGLU exactly: in double, x·32/ln2 = k + r with k an integer (by the
// 1.5·2^52 shift) and |r| ≤ 1/2, e^x = 2^(k/32)·2^(r/32) with 2^(k mod 32 / 32) from a 32-entry
// table and 2^(r/32) by a degree-3 polynomial, rounded to float once. The two products with
// x·32/ln2 are fused as in the library's FMA build. As the library: 0 below −0x1.9fe368p6 (and
// for −inf), +inf above 0x1.62e42ep6 (and for +inf), x + x for a NaN. Checked equal to libm's
// expf on every float from −0x1.9fe36ap6 to 0x1.62e430p6, NaN aside (3.3e9 values, glibc 2.36).
// The table is kExpfTable (expf_table.h).

// 8 lanes of libm_expf16 in double.
inline __m256 libm_expf_half8(__m256 x) {
  const __m512d inv_ln2_n = _mm512_set1_pd(0x1.71547652b82fep+0 * 32), shift = _mm512_set1_pd(0x1.8p+52);
  const __m512d xd = _mm512_cvtps_pd(x);
  __m512d kd = _mm512_fmadd_pd(inv_ln2_n, xd, shift);
  const __m512i ki = _mm512_castpd_si512(kd);
  kd = _mm512_sub_pd(kd, shift);
  const __m512d r = _mm512_fmsub_pd(inv_ln2_n, xd, kd);
  // kExpfTable[ki mod 32]: entries 0-15 and 16-31 by two-table permutes, then bit 4 chooses.
  const __m512i* tab = reinterpret_cast<const __m512i*>(kExpfTable);
  const __m512i lo = _mm512_permutex2var_epi64(_mm512_loadu_si512(tab), ki, _mm512_loadu_si512(tab + 1));
  const __m512i hi = _mm512_permutex2var_epi64(_mm512_loadu_si512(tab + 2), ki, _mm512_loadu_si512(tab + 3));
  const __mmask8 upper = _mm512_test_epi64_mask(ki, _mm512_set1_epi64(16));
  const __m512i t = _mm512_add_epi64(_mm512_mask_mov_epi64(lo, upper, hi), _mm512_slli_epi64(ki, 47));
  const __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(0x1.c6af84b912394p-5 / 32 / 32 / 32), r,
                                    _mm512_set1_pd(0x1.ebfce50fac4f3p-3 / 32 / 32));
  const __m512d r2 = _mm512_mul_pd(r, r);
  __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(0x1.62e42ff0c52d6p-1 / 32), r, _mm512_set1_pd(1.0));
  y = _mm512_fmadd_pd(z, r2, y);
  return _mm512_cvtpd_ps(_mm512_mul_pd(y, _mm512_castsi512_pd(t)));
}

inline __m512 libm_expf16(__m512 x) {
  const __m256 lo = libm_expf_half8(_mm512_castps512_ps256(x));
  const __m256 hi = libm_expf_half8(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
  __m512 e = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
  const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-0x1.9fe368p6f), _CMP_LT_OQ);
  const __mmask16 over = _mm512_cmp_ps_mask(x, _mm512_set1_ps(0x1.62e42ep6f), _CMP_GT_OQ);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  e = _mm512_mask_mov_ps(e, under, _mm512_setzero_ps());
  e = _mm512_mask_mov_ps(e, over, _mm512_set1_ps(INFINITY));
  return _mm512_mask_add_ps(e, nan, x, x);
}

}  // namespace lsc::cpu::avx512
