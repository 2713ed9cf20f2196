// Causal grouped-query attention with AVX-512, for the bf16 precision (the fp32 precision keeps
// ops.cpp's attention_causal, the reference). Same O(T) memory per thread. Differences from the
// reference are in rounding only: scores are computed 16 keys at a time from a transposed copy of
// K (so the dot products sum over d in order, not in 16 partial sums), and exp is a float
// polynomial (relative error < 2e-7) instead of libm's. Softmax stays fp32 with a double sum.
// Compiled with -mavx512f -mavx512bw -mavx512vl; only called after dispatch saw AVX-512.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/kernels.h"

namespace lsc::cpu::avx512 {
namespace {

// e^z for z ≤ 0, 16 lanes (kernels/cpu/exp_avx512.h).
inline __m512 exp_nonpos(__m512 z) { return exp_nonpos16(z); }

// o[0..16·NV) = Σ_s (p[s]·inv)·v[s], keys in order, accumulators in registers.
template <int NV>
inline void weighted_sum(const float* p, float inv, const float* vh, int64_t kv_stride,
                         int64_t n_keys, float* o) {
  __m512 a[NV];
  for (int j = 0; j < NV; ++j) a[j] = _mm512_setzero_ps();
  for (int64_t s = 0; s < n_keys; ++s) {
    const __m512 w = _mm512_set1_ps(p[s] * inv);
    const float* vs = vh + s * kv_stride;
    for (int j = 0; j < NV; ++j) a[j] = _mm512_fmadd_ps(w, _mm512_loadu_ps(vs + 16 * j), a[j]);
  }
  for (int j = 0; j < NV; ++j) _mm512_storeu_ps(o + 16 * j, a[j]);
}

// All `n_h` (≤ HB) query heads of one kv head at query t: each block of K and each row of V is
// loaded once for all of them. Per head the operations and their order do not depend on n_h or
// on which heads share the call (the same as the one-head loop for other head sizes).
template <int NV, int HB>
void attend_group(const float* const* qv, int n_h, const float* kth, const float* vh,
                  int64_t kv_stride, int64_t n_keys, float scale, float* const* p,
                  float* const* o) {
  constexpr int64_t d = 16 * NV;
  const int64_t n_blk = (n_keys + 15) / 16;
  __m512 vmax[HB];
  for (int h = 0; h < HB; ++h) vmax[h] = _mm512_set1_ps(-INFINITY);
  for (int64_t b = 0; b < n_blk; ++b) {
    __m512 s0[HB], s1[HB];
    for (int h = 0; h < HB; ++h) s0[h] = s1[h] = _mm512_setzero_ps();
    const float* col = kth + b * d * 16;
    for (int64_t i = 0; i < d; i += 2) {
      const __m512 k0 = _mm512_loadu_ps(col + i * 16), k1 = _mm512_loadu_ps(col + (i + 1) * 16);
      for (int h = 0; h < HB; ++h) {
        if (h < n_h) {
          s0[h] = _mm512_fmadd_ps(_mm512_set1_ps(qv[h][i]), k0, s0[h]);
          s1[h] = _mm512_fmadd_ps(_mm512_set1_ps(qv[h][i + 1]), k1, s1[h]);
        }
      }
    }
    const int64_t left = n_keys - b * 16;
    const __mmask16 valid =
        left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
    for (int h = 0; h < n_h; ++h) {
      __m512 sc = _mm512_mul_ps(_mm512_add_ps(s0[h], s1[h]), _mm512_set1_ps(scale));
      sc = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid, sc);
      _mm512_storeu_ps(p[h] + b * 16, sc);
      vmax[h] = _mm512_max_ps(vmax[h], sc);
    }
  }
  float inv[HB];
  for (int h = 0; h < n_h; ++h) {
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax[h]));
    __m512d sum_lo = _mm512_setzero_pd(), sum_hi = _mm512_setzero_pd();
    for (int64_t b = 0; b < n_blk; ++b) {
      const __m512 e = exp_nonpos(_mm512_sub_ps(_mm512_loadu_ps(p[h] + b * 16), m));  // −inf → 0
      _mm512_storeu_ps(p[h] + b * 16, e);
      sum_lo = _mm512_add_pd(sum_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
      sum_hi = _mm512_add_pd(
          sum_hi,
          _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    inv[h] = static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(sum_lo, sum_hi)));
  }
  __m512 a[HB][NV];
  for (int h = 0; h < HB; ++h) {
    for (int j = 0; j < NV; ++j) a[h][j] = _mm512_setzero_ps();
  }
  for (int64_t s = 0; s < n_keys; ++s) {
    const float* vs = vh + s * kv_stride;
    __m512 vr[NV];
    for (int j = 0; j < NV; ++j) vr[j] = _mm512_loadu_ps(vs + 16 * j);
    for (int h = 0; h < HB; ++h) {
      if (h < n_h) {
        const __m512 w = _mm512_set1_ps(p[h][s] * inv[h]);
        for (int j = 0; j < NV; ++j) a[h][j] = _mm512_fmadd_ps(w, vr[j], a[h][j]);
      }
    }
  }
  for (int h = 0; h < n_h; ++h) {
    for (int j = 0; j < NV; ++j) _mm512_storeu_ps(o[h] + 16 * j, a[h][j]);
  }
}

}  // namespace

void attention_causal_fast(const float* q, const float* k, const float* v, int64_t n_tokens,
                           int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale,
                           float* out) {
  const int64_t group = n_heads / n_heads_kv;
  const int64_t q_stride = n_heads * head_dim, kv_stride = n_heads_kv * head_dim;
  const int64_t t_pad = (n_tokens + 15) / 16 * 16;
  // K transposed in blocks of 16 keys: kt[((hk * n_blocks + b) * head_dim + i) * 16 + j] =
  // k[16b + j, hk, i], zero padded. A block's scores then read 16·head_dim contiguous floats
  // (a plain [d, T] transpose would stride by T and thrash L1 sets).
  const int64_t n_kblocks = t_pad / 16;
  std::vector<float> kt(static_cast<size_t>(n_heads_kv * head_dim * t_pad), 0.0f);
#pragma omp parallel
  {
    bool continue_generic = true;
#pragma omp for schedule(static)
    for (int64_t s = 0; s < n_tokens; ++s) {
      for (int64_t hk = 0; hk < n_heads_kv; ++hk) {
        const float* ks = k + s * kv_stride + hk * head_dim;
        float* dst = kt.data() + ((hk * n_kblocks + s / 16) * head_dim) * 16 + s % 16;
        for (int64_t i = 0; i < head_dim; ++i) dst[i * 16] = ks[i];
      }
    }
    std::vector<float> p(static_cast<size_t>(t_pad));
    std::vector<float> acc(static_cast<size_t>(head_dim));
    if (head_dim == 64 || head_dim == 128) {
      // Query heads grouped by their kv head (4 at a time for d = 64, 2 for d = 128: what fits
      // in registers). One task = one (kv head, query): all its heads.
      constexpr int kMaxHb = 4;
      std::vector<float> pg(static_cast<size_t>(kMaxHb * t_pad));
#pragma omp for schedule(dynamic, 8)
      for (int64_t idx = 0; idx < n_heads_kv * n_tokens; ++idx) {
        const int64_t hk = idx / n_tokens, t = idx % n_tokens;
        const float* kth = kt.data() + hk * n_kblocks * head_dim * 16;
        const float* vh = v + hk * head_dim;
        const int hb = head_dim == 64 ? 4 : 2;
        for (int64_t h0 = hk * group; h0 < (hk + 1) * group; h0 += hb) {
          const int n_h = static_cast<int>(std::min<int64_t>(hb, (hk + 1) * group - h0));
          const float* qv[kMaxHb];
          float* pp[kMaxHb];
          float* o[kMaxHb];
          for (int j = 0; j < n_h; ++j) {
            qv[j] = q + t * q_stride + (h0 + j) * head_dim;
            pp[j] = pg.data() + j * t_pad;
            o[j] = out + t * q_stride + (h0 + j) * head_dim;
          }
          if (head_dim == 64) {
            attend_group<4, 4>(qv, n_h, kth, vh, kv_stride, t + 1, scale, pp, o);
          } else {
            attend_group<8, 2>(qv, n_h, kth, vh, kv_stride, t + 1, scale, pp, o);
          }
        }
      }
      continue_generic = false;
    }
    if (continue_generic) {
      // Later queries see more keys: dynamic scheduling balances the triangle. Each (head, query)
      // is computed whole by one thread, so the schedule does not change any result.
#pragma omp for schedule(dynamic, 8)
      for (int64_t idx = 0; idx < n_heads * n_tokens; ++idx) {
        const int64_t h = idx / n_tokens, t = idx % n_tokens;
        const int64_t hk = h / group;
        const float* qv = q + t * q_stride + h * head_dim;
        const float* kth = kt.data() + hk * n_kblocks * head_dim * 16;
        const int64_t n_keys = t + 1, n_blk = (n_keys + 15) / 16;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
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
          __m512 sc = _mm512_mul_ps(_mm512_add_ps(s0, s1), _mm512_set1_ps(scale));
          const int64_t left = n_keys - b * 16;
          const __mmask16 valid = left >= 16 ? static_cast<__mmask16>(0xffff)
                                             : static_cast<__mmask16>((1u << left) - 1u);
          sc = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid, sc);
          _mm512_storeu_ps(p.data() + b * 16, sc);
          vmax = _mm512_max_ps(vmax, sc);
        }
        const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        __m512d sum_lo = _mm512_setzero_pd(), sum_hi = _mm512_setzero_pd();
        for (int64_t b = 0; b < n_blk; ++b) {
          const __m512 e =
              exp_nonpos(_mm512_sub_ps(_mm512_loadu_ps(p.data() + b * 16), m));  // −inf → 0
          _mm512_storeu_ps(p.data() + b * 16, e);
          sum_lo = _mm512_add_pd(sum_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
          sum_hi = _mm512_add_pd(
              sum_hi,
              _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
        }
        const double sum = _mm512_reduce_add_pd(_mm512_add_pd(sum_lo, sum_hi));
        const float inv = static_cast<float>(1.0 / sum);
        const float* vh = v + hk * head_dim;
        float* o = out + t * q_stride + h * head_dim;
        if (head_dim == 64) {
          weighted_sum<4>(p.data(), inv, vh, kv_stride, n_keys, o);
        } else if (head_dim == 128) {
          weighted_sum<8>(p.data(), inv, vh, kv_stride, n_keys, o);
        } else {
          std::fill(acc.begin(), acc.end(), 0.0f);
          for (int64_t s = 0; s < n_keys; ++s) {
            const float w = p[static_cast<size_t>(s)] * inv;
            const float* vs = vh + s * kv_stride;
            for (int64_t i = 0; i < head_dim; ++i) acc[static_cast<size_t>(i)] += w * vs[i];
          }
          std::copy(acc.begin(), acc.end(), o);
        }
      }
    }
  }
}

}  // namespace lsc::cpu::avx512

namespace lsc::cpu::avx512 {

// silu(g)·u = g·u / (1 + e^{−g}) with e^{−|g|} from the polynomial (so the argument is ≤ 0):
// g ≥ 0: g·u / (1 + e^{−g});  g < 0: g·u·e^{g} / (e^{g} + 1). Relative error < 5e-7.
void swiglu_span(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = n - i >= 16 ? static_cast<__mmask16>(0xffff)
                                        : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 g = _mm512_maskz_loadu_ps(valid, gate + i), u = _mm512_maskz_loadu_ps(valid, up + i);
    const __m512 neg_abs = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(g), _mm512_set1_epi32(static_cast<int>(0x80000000u))));
    const __m512 e = exp_nonpos(neg_abs);  // e^{−|g|}
    const __mmask16 pos = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_GE_OQ);
    const __m512 num =
        _mm512_mask_mul_ps(_mm512_mul_ps(g, u), static_cast<__mmask16>(~pos), _mm512_mul_ps(g, u), e);
    const __m512 den = _mm512_add_ps(_mm512_set1_ps(1.0f), e);
    _mm512_mask_storeu_ps(out + i, valid, _mm512_div_ps(num, den));
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
