// The fp32 precision's attention with AVX-512: ops.cpp's attention_causal_rows (the reference)
// operation for operation, so bit for bit its results, at a fraction of its time.
//  - A score is dot16's sum: 16 lane partial sums over the head dimension (a product rounded,
//    then added: no FMA), then the tree (i + i+8, + i+4, + i+2, + i+1), then × scale. Here 16 keys
//    at a time, their 16 trees in one transposed reduction (reduce_4x4: the same additions).
//  - e^(s − max) equal to libm's expf bit for bit, 16 at a time (libm_expf16), and the sum
//    in double in key order, as the reference.
//  - The weighted sum of V per element of the head, keys in order, w·v rounded then added.
// This TU is compiled with -ffp-contract=off: GCC's intrinsics are plain vector operators, and a
// contracted a·b + c (one rounding) would not be the reference's two. Only called after dispatch
// saw AVX-512.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/lanes_avx512.h"

namespace lsc::cpu::avx512 {
namespace {

// dot16(q, key) for one key: lane j sums q[d]·key[d] over d ≡ j (mod 16), in d order.
inline __m512 lane_sums(const float* q, const float* key, int64_t d) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = first_lanes(d - i);
    acc = _mm512_mask_add_ps(acc, m, acc, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_maskz_loadu_ps(m, key + i)));
  }
  return acc;
}

inline float score1(const float* q, const float* key, int64_t d) { return _mm512_reduce_add_ps(lane_sums(q, key, d)); }

// Scores of keys [s0, s0 + 16) into p: key s0 + 4r + c goes to accumulator 4c + r, so that
// reduce_4x4's lane 4r + c (row r, column c) is that key's sum.
inline void score16(const float* q, const float* k, int64_t s0, int64_t kv_stride, int64_t d, float scale,
                    float* p) {
  __m512 acc[16];
  for (__m512& a : acc) a = _mm512_setzero_ps();
  const float* key[16];
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) key[4 * c + r] = k + (s0 + 4 * r + c) * kv_stride;
  }
  for (int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = first_lanes(d - i);
    const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
    for (int a = 0; a < 16; ++a)
      acc[a] = _mm512_mask_add_ps(acc[a], m, acc[a], _mm512_mul_ps(qv, _mm512_maskz_loadu_ps(m, key[a] + i)));
  }
  _mm512_storeu_ps(p + s0, _mm512_mul_ps(reduce_4x4(acc), _mm512_set1_ps(scale)));
}

// The reference's max of p[0..n) (std::max from −inf, in order) 16 lanes at a time. A maximum
// does not depend on the order, and max_ps(p, m) keeps m where p is NaN, as std::max(m, p) does;
// only the sign of a zero maximum can differ, and p − (±0) is the same for every p ≠ 0, e^(±0)
// the same for p = ±0.
inline float row_max(const float* p, int64_t n) {
  __m512 mv = _mm512_set1_ps(-INFINITY);
  for (int64_t s = 0; s < n; s += 16) {
    const __mmask16 valid = first_lanes(n - s);
    mv = _mm512_mask_max_ps(mv, valid, _mm512_maskz_loadu_ps(valid, p + s), mv);
  }
  return _mm512_reduce_max_ps(mv);
}

// p[s] = e^(p[s] − m) 16 keys at a time: the same float subtraction, and libm's expf bit for
// bit (libm_expf16).
inline void exp_shifted(float* p, int64_t n, float m) {
  const __m512 mv = _mm512_set1_ps(m);
  for (int64_t s = 0; s < n; s += 16) {
    const __mmask16 valid = first_lanes(n - s);
    _mm512_mask_storeu_ps(p + s, valid, libm_expf16(_mm512_sub_ps(_mm512_maskz_loadu_ps(valid, p + s), mv)));
  }
}

// acc[i] += w[s]·v_s[i] for s = 0..n_keys-1 in order, over the NV·16 elements of the head from v
// (the last vector masked to `left` elements): each product rounded, then added, as the reference's
// acc[i] += w·v. acc is kept in memory between calls (exactly), so keys can come in blocks.
template <int NV>
inline void weighted_sum(const float* w, int64_t n_keys, const float* v, int64_t kv_stride, int64_t left, float* acc_io) {
  __mmask16 m[NV];
  __m512 acc[NV];
  for (int j = 0; j < NV; ++j) {
    m[j] = first_lanes(left - 16 * j);
    acc[j] = _mm512_maskz_loadu_ps(m[j], acc_io + 16 * j);
  }
  for (int64_t s = 0; s < n_keys; ++s) {
    const __m512 ws = _mm512_set1_ps(w[s]);
    const float* vv = v + s * kv_stride;
    for (int j = 0; j < NV; ++j)
      acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(ws, _mm512_maskz_loadu_ps(m[j], vv + 16 * j)));
  }
  for (int j = 0; j < NV; ++j) _mm512_mask_storeu_ps(acc_io + 16 * j, m[j], acc[j]);
}

constexpr int64_t kLanes = 16;  // floats per vector, for the driver

#include "kernels/cpu/attention_exact_driver.h"

}  // namespace

// out[i] = e^(x[i]) by libm_expf16 (for its test against libm).
void expf_n(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = first_lanes(n - i);
    _mm512_mask_storeu_ps(out + i, valid, libm_expf16(_mm512_maskz_loadu_ps(valid, x + i)));
  }
}

void attention_causal_exact_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                 int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  attention_exact_driver(q, k, v, n_q, q_first, n_heads, n_heads_kv, head_dim, scale, out);
}

}  // namespace lsc::cpu::avx512
