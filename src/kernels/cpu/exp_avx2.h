// e^x on 8 float lanes with AVX2 + FMA, equal bit for bit to glibc's expf: exp_avx512.h's
// libm_expf_nonpos16 (the algorithm and its proof of equality are described there) on 4 doubles
// at a time, the table entries fetched by a gather. Include only from translation units compiled
// with -mavx2 -mfma.
#pragma once

#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/expf_table.h"

namespace lsc::cpu::avx2 {

// 4 lanes in double: x·32/ln2 = k + r by the 1.5·2^52 shift (both products fused, as the library's
// FMA build), 2^(k/32) from the table, 2^(r/32) by the degree-3 polynomial, one rounding to float.
inline __m128 libm_expf_half4(__m128 x) {
  const __m256d inv_ln2_n = _mm256_set1_pd(0x1.71547652b82fep+0 * 32), shift = _mm256_set1_pd(0x1.8p+52);
  const __m256d xd = _mm256_cvtps_pd(x);
  __m256d kd = _mm256_fmadd_pd(inv_ln2_n, xd, shift);
  const __m256i ki = _mm256_castpd_si256(kd);
  kd = _mm256_sub_pd(kd, shift);
  const __m256d r = _mm256_fmsub_pd(inv_ln2_n, xd, kd);
  const __m256i entry = _mm256_i64gather_epi64(reinterpret_cast<const long long*>(kExpfTable),
                                               _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
  const __m256i t = _mm256_add_epi64(entry, _mm256_slli_epi64(ki, 47));
  const __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(0x1.c6af84b912394p-5 / 32 / 32 / 32), r,
                                    _mm256_set1_pd(0x1.ebfce50fac4f3p-3 / 32 / 32));
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(0x1.62e42ff0c52d6p-1 / 32), r, _mm256_set1_pd(1.0));
  y = _mm256_fmadd_pd(z, r2, y);
  return _mm256_cvtpd_ps(_mm256_mul_pd(y, _mm256_castsi256_pd(t)));
}

// expf(x) on 8 lanes: 0 below −0x1.9fe368p6 (where expf underflows to 0), +inf above 0x1.62e42ep6
// (where it overflows), x + x for a NaN, as the library returns.
inline __m256 libm_expf8(__m256 x) {
  __m256 e = _mm256_set_m128(libm_expf_half4(_mm256_extractf128_ps(x, 1)), libm_expf_half4(_mm256_castps256_ps128(x)));
  const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-0x1.9fe368p6f), _CMP_LT_OQ);
  const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(0x1.62e42ep6f), _CMP_GT_OQ);
  const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  e = _mm256_andnot_ps(under, e);
  e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), over);
  return _mm256_blendv_ps(e, _mm256_add_ps(x, x), nan);
}

}  // namespace lsc::cpu::avx2
