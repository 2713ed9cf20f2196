// The fp32 precision's attention with AVX2, for CPUs without AVX-512: ops.cpp's
// attention_causal_rows (the reference) operation for operation, so bit for bit its results.
// dot16's 16 lane partial sums are two 8-lane vectors (lanes 0-7 and 8-15); its tree (i + i+8,
// + i+4, + i+2, + i+1) is their sum followed by reduce8's halves. The task structure is the
// AVX-512 version's (attention_exact_driver.h). Compiled with -mavx2 -mfma -ffp-contract=off (no
// product fused into its sum; the exp's FMAs are explicit); only called after dispatch saw AVX2.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/exp_avx2.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/lanes_avx2.h"

namespace lsc::cpu::avx2 {
namespace {

inline float score1(const float* q, const float* key, int64_t d) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(key + i)));
    hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(key + i + 8)));
  }
  if (i < d) {  // the reference's tail: lanes j < d − i only
    const __m256i ml = lanes_below(d - i), mh = lanes_below(d - i - 8);
    const __m256 pl = _mm256_mul_ps(_mm256_maskload_ps(q + i, ml), _mm256_maskload_ps(key + i, ml));
    const __m256 ph = _mm256_mul_ps(_mm256_maskload_ps(q + i + 8, mh), _mm256_maskload_ps(key + i + 8, mh));
    lo = _mm256_blendv_ps(lo, _mm256_add_ps(lo, pl), _mm256_castsi256_ps(ml));
    hi = _mm256_blendv_ps(hi, _mm256_add_ps(hi, ph), _mm256_castsi256_ps(mh));
  }
  return reduce8(_mm256_add_ps(lo, hi));  // lanes j + j+8, then the rest of the tree
}

inline void score16(const float* q, const float* k, int64_t s0, int64_t kv_stride, int64_t d, float scale,
                    float* p) {
  for (int64_t s = s0; s < s0 + 16; ++s) p[s] = score1(q, k + s * kv_stride, d) * scale;
}

// The reference's max (std::max over p in order) in 8 lanes: vmaxps keeps its second operand
// when the first is NaN, as std::max(m, p) keeps m, and the order decides only the sign of a zero
// maximum, which no p − m can tell.
inline float row_max(const float* p, int64_t n) {
  __m256 mv = _mm256_set1_ps(-INFINITY);
  int64_t s = 0;
  for (; s + 8 <= n; s += 8) mv = _mm256_max_ps(_mm256_loadu_ps(p + s), mv);
  if (s < n) {
    const __m256i valid = lanes_below(n - s);
    mv = _mm256_blendv_ps(mv, _mm256_max_ps(_mm256_maskload_ps(p + s, valid), mv), _mm256_castsi256_ps(valid));
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

// p[s] = e^(p[s] − m) 8 keys at a time: the same float subtraction, and libm's expf bit for bit
// (libm_expf8).
inline void exp_shifted(float* p, int64_t n, float m) {
  const __m256 mv = _mm256_set1_ps(m);
  int64_t s = 0;
  for (; s + 8 <= n; s += 8) _mm256_storeu_ps(p + s, libm_expf8(_mm256_sub_ps(_mm256_loadu_ps(p + s), mv)));
  if (s < n) {
    const __m256i valid = lanes_below(n - s);
    _mm256_maskstore_ps(p + s, valid, libm_expf8(_mm256_sub_ps(_mm256_maskload_ps(p + s, valid), mv)));
  }
}

// acc[i] += w[s]·v_s[i] over NV·8 elements of the head from v (the last masked to `left`), keys
// in order, each product rounded then added; acc kept in memory between calls (exactly).
template <int NV>
inline void weighted_sum(const float* w, int64_t n_keys, const float* v, int64_t kv_stride, int64_t left, float* acc_io) {
  __m256i m[NV];
  __m256 acc[NV];
  for (int j = 0; j < NV; ++j) {
    m[j] = lanes_below(left - 8 * j);
    acc[j] = _mm256_maskload_ps(acc_io + 8 * j, m[j]);
  }
  for (int64_t s = 0; s < n_keys; ++s) {
    const __m256 ws = _mm256_set1_ps(w[s]);
    const float* vv = v + s * kv_stride;
    for (int j = 0; j < NV; ++j) acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(ws, _mm256_maskload_ps(vv + 8 * j, m[j])));
  }
  for (int j = 0; j < NV; ++j) _mm256_maskstore_ps(acc_io + 8 * j, m[j], acc[j]);
}

constexpr int64_t kLanes = 8;  // floats per vector, for the driver

#include "kernels/cpu/attention_exact_driver.h"

}  // namespace

// out[i] = e^(x[i]) by libm_expf8 (for its test against libm).
void expf_n(const float* x, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, libm_expf8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i valid = lanes_below(n - i);
    _mm256_maskstore_ps(out + i, valid, libm_expf8(_mm256_maskload_ps(x + i, valid)));
  }
}

void attention_causal_exact_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                 int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  attention_exact_driver(q, k, v, n_q, q_first, n_heads, n_heads_kv, head_dim, scale, out);
}

}  // namespace lsc::cpu::avx2
