// The sums behind compare_rows' fast path on 16 float lanes (AVX-512F/DQ): p = e^{l − lse} with
// the shared exp polynomial, the Jensen-Shannon term (p_a + p_b)·F(y) of kernels/js_shape.h with
// a log polynomial below, products and sums in double as the portable loop forms them. Lane sums merged in a fixed order, so a row's result
// does not depend on anything but the row. divergence.cpp calls it only where the CPU has
// AVX-512F/DQ.
#include <immintrin.h>

#include <cstddef>

#include "kernels/cpu/exp_avx512.h"

namespace lsc::analysis::avx512 {

namespace {

inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d hi_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }

// log x for x > 0 (normal or subnormal): x = 2^e·u with u in [0.75, 1.5), log u = 2·atanh(t),
// t = (u − 1)/(u + 1), |t| ≤ 0.2, by its odd series to t^11 (truncation < 2e-9 relative).
inline __m512 log_pos16(__m512 x) {
  const __m512 u = _mm512_getmant_ps(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
  __m512 e = _mm512_getexp_ps(x);
  // getmant normalises to [0.75, 1.5): where u < 1 the mantissa was taken from the next binade.
  const __mmask16 below = _mm512_cmp_ps_mask(u, _mm512_set1_ps(1.0f), _CMP_LT_OQ);
  // getexp gives floor(log2 x); for u in [0.75, 1) x = 2^(e+1)·u.
  e = _mm512_mask_add_ps(e, below, e, _mm512_set1_ps(1.0f));
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(u, _mm512_set1_ps(1.0f)), _mm512_add_ps(u, _mm512_set1_ps(1.0f)));
  const __m512 t2 = _mm512_mul_ps(t, t);
  __m512 p = _mm512_set1_ps(2.0f / 11.0f);
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(2.0f / 9.0f));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(2.0f / 7.0f));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(2.0f / 5.0f));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(2.0f / 3.0f));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(2.0f));
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693147180559945309f), _mm512_mul_ps(p, t));
}

// F(y) of kernels/js_shape.h on 16 lanes: the series below y = 0.4, else from t = e^{−2y}.
inline __m512 js_shape16(__m512 y) {
  const __m512 s = _mm512_mul_ps(y, y);
  __m512 series = _mm512_set1_ps(21844.0f / 3274425.0f);
  series = _mm512_fmadd_ps(series, s, _mm512_set1_ps(-1382.0f / 85050.0f));
  series = _mm512_fmadd_ps(series, s, _mm512_set1_ps(62.0f / 1575.0f));
  series = _mm512_fmadd_ps(series, s, _mm512_set1_ps(-17.0f / 180.0f));
  series = _mm512_fmadd_ps(series, s, _mm512_set1_ps(2.0f / 9.0f));
  series = _mm512_fmadd_ps(series, s, _mm512_set1_ps(-0.5f));
  series = _mm512_fmadd_ps(series, s, _mm512_set1_ps(1.0f));
  series = _mm512_mul_ps(series, s);
  const __mmask16 small = _mm512_cmp_ps_mask(y, _mm512_set1_ps(0.4f), _CMP_LT_OQ);
  if (small == 0xffff) return series;
  const __m512 t = cpu::avx512::exp_nonpos16(_mm512_mul_ps(y, _mm512_set1_ps(-2.0f)));
  const __m512 one_t = _mm512_add_ps(_mm512_set1_ps(1.0f), t);
  const __m512 l = log_pos16(one_t);
  const __m512 r = _mm512_div_ps(_mm512_mul_ps(_mm512_add_ps(y, y), t), one_t);
  const __m512 big = _mm512_mul_ps(_mm512_set1_ps(2.0f),
                                   _mm512_sub_ps(_mm512_sub_ps(_mm512_set1_ps(0.693147180559945309f), l), r));
  return _mm512_mask_mov_ps(big, small, series);
}

}  // namespace

// sums = {Σ p_a, Σ p_b, Σ p_a·(a − b), Σ p_b·(a − b), Σ (p_a + p_b)·F(|a − b − dlse|/2), Σ |p_a − p_b|}.
void compare_sums(const float* a, const float* b, size_t n, float lse_a, float lse_b, float dlse, double sums[6]) {
  __m512d acc[6][2];
  for (auto& s : acc) s[0] = s[1] = _mm512_setzero_pd();
  const __m512 va_lse = _mm512_set1_ps(lse_a), vb_lse = _mm512_set1_ps(lse_b);
  const __m512 half = _mm512_set1_ps(0.5f), v_dlse = _mm512_set1_ps(dlse);
  const __m512d sign = _mm512_set1_pd(-0.0);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 valid = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 la = _mm512_maskz_loadu_ps(valid, a + i), lb = _mm512_maskz_loadu_ps(valid, b + i);
    const __m512 pa = _mm512_maskz_mov_ps(valid, cpu::avx512::exp_nonpos16(_mm512_sub_ps(la, va_lse)));
    const __m512 pb = _mm512_maskz_mov_ps(valid, cpu::avx512::exp_nonpos16(_mm512_sub_ps(lb, vb_lse)));
    const __m512 y = _mm512_mul_ps(half, _mm512_abs_ps(_mm512_sub_ps(_mm512_sub_ps(la, lb), v_dlse)));
    const __m512 w = _mm512_add_ps(pa, pb);  // 0 where both underflow (and for lanes past n)
    const __m512 js = _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(w, _mm512_setzero_ps(), _CMP_GT_OQ), w, js_shape16(y));
    const __m512d d_lo = _mm512_sub_pd(lo_pd(la), lo_pd(lb)), d_hi = _mm512_sub_pd(hi_pd(la), hi_pd(lb));
    const __m512d pa_lo = lo_pd(pa), pa_hi = hi_pd(pa), pb_lo = lo_pd(pb), pb_hi = hi_pd(pb);
    acc[0][0] = _mm512_add_pd(acc[0][0], pa_lo);
    acc[0][1] = _mm512_add_pd(acc[0][1], pa_hi);
    acc[1][0] = _mm512_add_pd(acc[1][0], pb_lo);
    acc[1][1] = _mm512_add_pd(acc[1][1], pb_hi);
    acc[2][0] = _mm512_fmadd_pd(pa_lo, d_lo, acc[2][0]);
    acc[2][1] = _mm512_fmadd_pd(pa_hi, d_hi, acc[2][1]);
    acc[3][0] = _mm512_fmadd_pd(pb_lo, d_lo, acc[3][0]);
    acc[3][1] = _mm512_fmadd_pd(pb_hi, d_hi, acc[3][1]);
    acc[4][0] = _mm512_add_pd(acc[4][0], lo_pd(js));
    acc[4][1] = _mm512_add_pd(acc[4][1], hi_pd(js));
    acc[5][0] = _mm512_add_pd(acc[5][0], _mm512_andnot_pd(sign, _mm512_sub_pd(pa_lo, pb_lo)));
    acc[5][1] = _mm512_add_pd(acc[5][1], _mm512_andnot_pd(sign, _mm512_sub_pd(pa_hi, pb_hi)));
  }
  for (int s = 0; s < 6; ++s) {
    alignas(64) double lanes[16];
    _mm512_store_pd(lanes, acc[s][0]);
    _mm512_store_pd(lanes + 8, acc[s][1]);
    double total = 0.0;
    for (double v : lanes) total += v;
    sums[s] = total;
  }
}

}  // namespace lsc::analysis::avx512
