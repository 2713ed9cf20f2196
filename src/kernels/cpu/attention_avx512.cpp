// Causal grouped-query attention with AVX-512, for the bf16 precision (the fp32 precision keeps
// ops.cpp's attention_causal, the reference). Same O(T) memory per thread. Differences from the
// reference are in rounding only: scores are computed 16 keys at a time from a transposed copy of
// K (so the dot products sum over d in order, not in 16 partial sums), and exp is a float
// polynomial (relative error < 2e-7) instead of libm's. Softmax stays fp32 with a double sum;
// the weighted sum of V is divided by it at the end. For head sizes 64 and 128 the query heads
// that share a kv head are computed together, register-blocked (bench/bench_attention measures
// it against the fp32 FMA peak; figures in docs/performance.md).
// Compiled with -mavx512f -mavx512bw -mavx512vl; only called after dispatch saw AVX-512.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/lanes_avx512.h"
#include "kernels/cpu/kernels.h"

namespace lsc::cpu::avx512 {
namespace {

// e^z for z ≤ 0, 16 lanes (kernels/cpu/exp_avx512.h).
inline __m512 exp_nonpos(__m512 z) { return exp_nonpos16(z); }

// The rows of one task are the query heads of one kv head at one query t (at most kMaxRows per
// call; more heads take several calls). Each row's arithmetic, and its order, is the same whatever
// rows share the call: results do not depend on the grouping, the thread or the schedule.
constexpr int kMaxRows = 8;

// Scores of NB consecutive blocks of 16 keys from block b: per element of q, NB loads of K serve
// NB·R FMAs (NB·R accumulators). Each score sums over the head dimension in order, in one fp32
// chain, whatever NB is.
template <int R, int D, int NB>
inline void score_blocks(const float* const* qv, const float* kth, int64_t b, int64_t n_keys,
                         __m512 vscale, float* const* p) {
  __m512 acc[NB][R];
  for (int j = 0; j < NB; ++j) {
    for (int r = 0; r < R; ++r) acc[j][r] = _mm512_setzero_ps();
  }
  const float* col = kth + b * D * 16;
  for (int i = 0; i < D; ++i) {
    __m512 kv[NB];
    for (int j = 0; j < NB; ++j) kv[j] = _mm512_loadu_ps(col + (j * D + i) * 16);
    for (int r = 0; r < R; ++r) {
      const __m512 qb = _mm512_set1_ps(qv[r][i]);
      for (int j = 0; j < NB; ++j) acc[j][r] = _mm512_fmadd_ps(qb, kv[j], acc[j][r]);
    }
  }
  for (int j = 0; j < NB; ++j) {
    const int64_t left = n_keys - (b + j) * 16;
    const __mmask16 valid =
        left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_ps(p[r] + (b + j) * 16, _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid,
                                                                _mm512_mul_ps(acc[j][r], vscale)));
    }
  }
}

// Scores p[r][s] = scale · (q_r · k_s) for s < n_keys, −inf up to the next multiple of 16; as
// many key blocks per step as the registers hold for R rows.
template <int R, int D>
void group_scores(const float* const* qv, const float* kth, int64_t n_keys, float scale,
                  float* const* p) {
  constexpr int NB = R <= 5 ? 4 : (D > 64 ? 2 : 3);
  const int64_t n_blk = (n_keys + 15) / 16;
  const __m512 vscale = _mm512_set1_ps(scale);
  int64_t b = 0;
  for (; b + NB <= n_blk; b += NB) score_blocks<R, D, NB>(qv, kth, b, n_keys, vscale, p);
  for (; b < n_blk; ++b) score_blocks<R, D, 1>(qv, kth, b, n_keys, vscale, p);
}

// o_r = (Σ_s e_r[s] · v_s) / Σ_s e_r[s] over keys in order: 32 columns of V at a time, so per
// key 2 loads of V serve 2·R FMAs; the division is a multiplication by 1/sum at the end.
template <int R, int D>
void group_weighted_sum(const float* const* e, const float* inv, const float* vh, int64_t kv_stride,
                        int64_t n_keys, float* const* o) {
  for (int c = 0; c < D; c += 32) {
    __m512 a0[R], a1[R];
    for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm512_setzero_ps();
    const float* vc = vh + c;
    for (int64_t s = 0; s < n_keys; ++s) {
      const __m512 v0 = _mm512_loadu_ps(vc + s * kv_stride), v1 = _mm512_loadu_ps(vc + s * kv_stride + 16);
      for (int r = 0; r < R; ++r) {
        const __m512 w = _mm512_set1_ps(e[r][s]);
        a0[r] = _mm512_fmadd_ps(w, v0, a0[r]);
        a1[r] = _mm512_fmadd_ps(w, v1, a1[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512 vi = _mm512_set1_ps(inv[r]);
      _mm512_storeu_ps(o[r] + c, _mm512_mul_ps(a0[r], vi));
      _mm512_storeu_ps(o[r] + c + 16, _mm512_mul_ps(a1[r], vi));
    }
  }
}

// Scores → e^{s − max} in place, and 1/Σ (the sum in double, 16 lanes merged in a fixed order).
float softmax_row(float* p, int64_t n_keys) {
  const int64_t n_blk = (n_keys + 15) / 16;
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t b = 0; b < n_blk; ++b) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(p + b * 16));
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512d sum_lo = _mm512_setzero_pd(), sum_hi = _mm512_setzero_pd();
  for (int64_t b = 0; b < n_blk; ++b) {
    const __m512 e = exp_nonpos(_mm512_sub_ps(_mm512_loadu_ps(p + b * 16), m));  // −inf → 0
    _mm512_storeu_ps(p + b * 16, e);
    sum_lo = _mm512_add_pd(sum_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    sum_hi = _mm512_add_pd(
        sum_hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  return static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(sum_lo, sum_hi)));
}

// One task: rows (query heads of one kv head, one query) against keys [0, n_keys).
template <int R, int D>
void attend_rows(const float* const* qv, const float* kth, const float* vh, int64_t kv_stride,
                 int64_t n_keys, float scale, float* const* p, float* const* o) {
  group_scores<R, D>(qv, kth, n_keys, scale, p);
  float inv[R];
  for (int r = 0; r < R; ++r) inv[r] = softmax_row(p[r], n_keys);
  group_weighted_sum<R, D>(p, inv, vh, kv_stride, n_keys, o);
}

template <int D>
void attend_rows_n(int n_rows, const float* const* qv, const float* kth, const float* vh,
                   int64_t kv_stride, int64_t n_keys, float scale, float* const* p, float* const* o) {
  switch (n_rows) {
    case 1: return attend_rows<1, D>(qv, kth, vh, kv_stride, n_keys, scale, p, o);
    case 2: return attend_rows<2, D>(qv, kth, vh, kv_stride, n_keys, scale, p, o);
    case 3: return attend_rows<3, D>(qv, kth, vh, kv_stride, n_keys, scale, p, o);
    case 4: return attend_rows<4, D>(qv, kth, vh, kv_stride, n_keys, scale, p, o);
    case 5: return attend_rows<5, D>(qv, kth, vh, kv_stride, n_keys, scale, p, o);
    case 6: return attend_rows<6, D>(qv, kth, vh, kv_stride, n_keys, scale, p, o);
    case 7: return attend_rows<7, D>(qv, kth, vh, kv_stride, n_keys, scale, p, o);
    default: return attend_rows<8, D>(qv, kth, vh, kv_stride, n_keys, scale, p, o);
  }
}

}  // namespace

void attention_causal_fast_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  const int64_t group = n_heads / n_heads_kv;
  const int64_t q_stride = n_heads * head_dim, kv_stride = n_heads_kv * head_dim;
  const int64_t n_tokens = q_first + n_q;  // keys
  const int64_t t_pad = (n_tokens + 15) / 16 * 16;
  // K transposed in blocks of 16 keys: kt[((hk * n_blocks + b) * head_dim + i) * 16 + j] =
  // k[16b + j, hk, i], zero padded. A block's scores then read 16·head_dim contiguous floats
  // (a plain [d, T] transpose would stride by T and thrash L1 sets).
  const int64_t n_kblocks = t_pad / 16;
  std::vector<float> kt(static_cast<size_t>(n_heads_kv * head_dim * t_pad), 0.0f);
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t s = 0; s < n_tokens; ++s) {
      for (int64_t hk = 0; hk < n_heads_kv; ++hk) {
        const float* ks = k + s * kv_stride + hk * head_dim;
        float* dst = kt.data() + ((hk * n_kblocks + s / 16) * head_dim) * 16 + s % 16;
        for (int64_t i = 0; i < head_dim; ++i) dst[i * 16] = ks[i];
      }
    }
    if (head_dim == 64 || head_dim == 128) {
      // One task = one (kv head, query): all its query heads, kMaxRows per call, split evenly.
      std::vector<float> pg(static_cast<size_t>(kMaxRows * t_pad));
#pragma omp for schedule(dynamic, 8)
      for (int64_t idx = 0; idx < n_heads_kv * n_q; ++idx) {
        const int64_t hk = idx / n_q, row = idx % n_q, t = q_first + row;
        const float* kth = kt.data() + hk * n_kblocks * head_dim * 16;
        const float* vh = v + hk * head_dim;
        const int64_t n_calls = (group + kMaxRows - 1) / kMaxRows;
        for (int64_t call = 0; call < n_calls; ++call) {
          const int64_t h0 = hk * group + call * group / n_calls;
          const int n_rows = static_cast<int>(hk * group + (call + 1) * group / n_calls - h0);
          const float* qv[kMaxRows];
          float* pp[kMaxRows];
          float* o[kMaxRows];
          for (int j = 0; j < n_rows; ++j) {
            qv[j] = q + row * q_stride + (h0 + j) * head_dim;
            pp[j] = pg.data() + j * t_pad;
            o[j] = out + row * q_stride + (h0 + j) * head_dim;
          }
          if (head_dim == 64) {
            attend_rows_n<64>(n_rows, qv, kth, vh, kv_stride, t + 1, scale, pp, o);
          } else {
            attend_rows_n<128>(n_rows, qv, kth, vh, kv_stride, t + 1, scale, pp, o);
          }
        }
      }
    } else {
      // Other head sizes: one (head, query) per task, the scores' sum over d in two chains.
      // Later queries see more keys: dynamic scheduling balances the triangle. Each task is
      // computed whole by one thread, so the schedule does not change any result.
      std::vector<float> p(static_cast<size_t>(t_pad)), acc(static_cast<size_t>(head_dim));
#pragma omp for schedule(dynamic, 8)
      for (int64_t idx = 0; idx < n_heads * n_q; ++idx) {
        const int64_t h = idx / n_q, row = idx % n_q, t = q_first + row;
        const int64_t hk = h / group;
        const float* qv = q + row * q_stride + h * head_dim;
        const float* kth = kt.data() + hk * n_kblocks * head_dim * 16;
        const int64_t n_keys = t + 1, n_blk = (n_keys + 15) / 16;
        for (int64_t b = 0; b < n_blk; ++b) {
          __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
          const float* col = kth + b * head_dim * 16;
          int64_t i = 0;
          for (; i + 2 <= head_dim; i += 2) {  // two chains, combined in a fixed order
            s0 = _mm512_fmadd_ps(_mm512_set1_ps(qv[i]), _mm512_loadu_ps(col + i * 16), s0);
            s1 =
                _mm512_fmadd_ps(_mm512_set1_ps(qv[i + 1]), _mm512_loadu_ps(col + (i + 1) * 16), s1);
          }
          if (i < head_dim)
            s0 = _mm512_fmadd_ps(_mm512_set1_ps(qv[i]), _mm512_loadu_ps(col + i * 16), s0);
          const __m512 sc = _mm512_mul_ps(_mm512_add_ps(s0, s1), _mm512_set1_ps(scale));
          const int64_t left = n_keys - b * 16;
          const __mmask16 valid = left >= 16 ? static_cast<__mmask16>(0xffff)
                                             : static_cast<__mmask16>((1u << left) - 1u);
          _mm512_storeu_ps(p.data() + b * 16, _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid, sc));
        }
        const float inv = softmax_row(p.data(), n_keys);
        const float* vh = v + hk * head_dim;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t s = 0; s < n_keys; ++s) {
          const float w = p[static_cast<size_t>(s)];
          const float* vs = vh + s * kv_stride;
          for (int64_t i = 0; i < head_dim; ++i) acc[static_cast<size_t>(i)] += w * vs[i];
        }
        float* o = out + row * q_stride + h * head_dim;
        for (int64_t i = 0; i < head_dim; ++i) o[i] = acc[static_cast<size_t>(i)] * inv;
      }
    }
  }
}

}  // namespace lsc::cpu::avx512

namespace lsc::cpu::avx512 {

// o = o · alpha + add, n floats.
void rescale_add(float* o, const float* add, float alpha, int64_t n) {
  const __m512 va = _mm512_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(o + i, _mm512_fmadd_ps(_mm512_loadu_ps(o + i), va, _mm512_loadu_ps(add + i)));
  }
  for (; i < n; ++i) o[i] = std::fma(o[i], alpha, add[i]);
}

// out = swiglu(gate, up) (lanes_avx512.h's swiglu16).
void swiglu_span(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = first_lanes(n - i);
    _mm512_mask_storeu_ps(out + i, valid,
                          swiglu16(_mm512_maskz_loadu_ps(valid, gate + i), _mm512_maskz_loadu_ps(valid, up + i)));
  }
}

// Element-wise, lane by lane: any split of [0, n) gives the same values (the bf16 matmul's fused
// gate/up epilogue calls swiglu_span on pieces of rows).
void swiglu_fast(const float* gate, const float* up, int64_t n, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < (n + 4095) / 4096; ++c) {
    const int64_t i0 = c * 4096;
    swiglu_span(gate + i0, up + i0, std::min<int64_t>(4096, n - i0), out + i0);
  }
}

}  // namespace lsc::cpu::avx512
