// reduce_row for CPUs with AVX2 but not AVX-512 (row_reduce.cpp calls it only there): the
// portable row_reduce_impl.h, operation for operation, in 8-float vectors. Its 16 lanes are two
// vectors; exp_nonpos's steps are plain multiplies and adds (-ffp-contract=off: no FMA), each
// lane's sums stay in its own double, the lanes are merged in the portable order, and masked
// tail lanes add +0 to sums that are never −0. So every value is the portable build's, bit for
// bit (tested), at the speed of vectors: GCC does not vectorise the portable loops (their selects
// and the int64 rank counters).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "analysis/row_reduce.h"
#include "kernels/cpu/lanes_avx2.h"

namespace lsc::analysis::avx2 {
using cpu::avx2::lanes_below;  // kernels/cpu/lanes_avx2.h

namespace {
#include "analysis/row_reduce_impl.h"

// exp_nonpos on 8 lanes, the same operations in the same order.
inline __m256 exp_nonpos8(__m256 z) {
  const __m256 lim = _mm256_set1_ps(-87.0f);
  const __m256 under = _mm256_cmp_ps(z, lim, _CMP_LT_OQ);
  const __m256 zc = _mm256_blendv_ps(z, lim, under);
  const __m256 t = _mm256_mul_ps(zc, _mm256_set1_ps(1.44269504088896341f));
  const __m256i n = _mm256_cvttps_epi32(_mm256_sub_ps(t, _mm256_set1_ps(0.5f)));
  const __m256 nf = _mm256_cvtepi32_ps(n);
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(zc, _mm256_mul_ps(nf, _mm256_set1_ps(0.693145751953125f))),
                                 _mm256_mul_ps(nf, _mm256_set1_ps(1.428606765330187045e-06f)));
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(0.5f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
  const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, scale));  // 0 below −87
}

// The double sums of 16 lanes: d[0..3] lanes 0-15 in fours.
struct Sums16 {
  __m256d d[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  void add(__m256 lo8, __m256 hi8) {  // lanes 0-7, 8-15
    d[0] = _mm256_add_pd(d[0], _mm256_cvtps_pd(_mm256_castps256_ps128(lo8)));
    d[1] = _mm256_add_pd(d[1], _mm256_cvtps_pd(_mm256_extractf128_ps(lo8, 1)));
    d[2] = _mm256_add_pd(d[2], _mm256_cvtps_pd(_mm256_castps256_ps128(hi8)));
    d[3] = _mm256_add_pd(d[3], _mm256_cvtps_pd(_mm256_extractf128_ps(hi8, 1)));
  }
};

void reduce_row_vec(const float* l, int64_t vocab, int32_t target, int k, ReducedRow* out) {
  const bool has_target = target >= 0;
  const float tl = has_target ? l[target] : 0.0f;
  const __m256 vtl = _mm256_set1_ps(tl);
  TopK top;
  top.k = std::max(1, k);
  float run_max = -INFINITY;
  Sums16 sum, sum_ez;
  __m256i greater[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};  // counts ≤ vocab / 8 < 2^31
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (int64_t b0 = 0; b0 < vocab; b0 += kBlock) {
    const int64_t n = std::min(kBlock, vocab - b0);
    const float* x = l + b0;
    const int64_t n_full = n / kLanes * kLanes;
    // Look 1: block maximum and rank count (masked tail lanes: −inf, counted by no compare).
    __m256 bmax[2] = {ninf, ninf};
    auto scan = [&](int h, __m256 v) {
      bmax[h] = _mm256_max_ps(v, bmax[h]);  // v > bmax ? v : bmax, as the portable select
      greater[h] = _mm256_sub_epi32(greater[h], _mm256_castps_si256(_mm256_cmp_ps(v, vtl, _CMP_GT_OQ)));
    };
    for (int64_t i = 0; i < n_full; i += kLanes) {
      scan(0, _mm256_loadu_ps(x + i));
      scan(1, _mm256_loadu_ps(x + i + 8));
    }
    const int64_t rest = n - n_full;
    const __m256i tail0 = lanes_below(rest), tail1 = lanes_below(rest - 8);
    if (rest > 0) {
      scan(0, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + n_full, tail0), _mm256_castsi256_ps(tail0)));
      scan(1, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + n_full + 8, tail1), _mm256_castsi256_ps(tail1)));
    }
    alignas(32) float bm[kLanes];
    _mm256_store_ps(bm, bmax[0]);
    _mm256_store_ps(bm + 8, bmax[1]);
    float m = bm[0];
    for (int j = 1; j < kLanes; ++j) m = bm[j] > m ? bm[j] : m;
    top.offer_block(x, n, b0, m);
    if (m > run_max) {
      if (run_max != -INFINITY) {
        const double d = static_cast<double>(run_max) - static_cast<double>(m);
        const __m256d c = _mm256_set1_pd(std::exp(d)), vd = _mm256_set1_pd(d);
        for (int q = 0; q < 4; ++q) {
          sum_ez.d[q] = _mm256_mul_pd(c, _mm256_add_pd(sum_ez.d[q], _mm256_mul_pd(vd, sum.d[q])));
          sum.d[q] = _mm256_mul_pd(sum.d[q], c);
        }
      }
      run_max = m;
    }
    // Look 2 (from L1): exponential sums against the running maximum.
    const __m256 vm = _mm256_set1_ps(run_max);
    for (int64_t i = 0; i < n_full; i += kLanes) {
      const __m256 z0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm), z1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
      const __m256 e0 = exp_nonpos8(z0), e1 = exp_nonpos8(z1);
      sum.add(e0, e1);
      sum_ez.add(_mm256_mul_ps(e0, z0), _mm256_mul_ps(e1, z1));
    }
    if (rest > 0) {  // lanes past the row add +0 (e and e·z zeroed)
      const __m256 z0 = _mm256_sub_ps(_mm256_maskload_ps(x + n_full, tail0), vm);
      const __m256 z1 = _mm256_sub_ps(_mm256_maskload_ps(x + n_full + 8, tail1), vm);
      const __m256 e0 = _mm256_and_ps(exp_nonpos8(z0), _mm256_castsi256_ps(tail0));
      const __m256 e1 = _mm256_and_ps(exp_nonpos8(z1), _mm256_castsi256_ps(tail1));
      sum.add(e0, e1);
      sum_ez.add(_mm256_and_ps(_mm256_mul_ps(e0, z0), _mm256_castsi256_ps(tail0)),
                 _mm256_and_ps(_mm256_mul_ps(e1, z1), _mm256_castsi256_ps(tail1)));
    }
  }
  alignas(32) double sl[kLanes], el[kLanes];
  alignas(32) int32_t gl[kLanes];
  for (int q = 0; q < 4; ++q) {
    _mm256_store_pd(sl + 4 * q, sum.d[q]);
    _mm256_store_pd(el + 4 * q, sum_ez.d[q]);
  }
  _mm256_store_si256(reinterpret_cast<__m256i*>(gl), greater[0]);
  _mm256_store_si256(reinterpret_cast<__m256i*>(gl + 8), greater[1]);
  double S = 0.0, E = 0.0;
  int64_t g = 0;
  for (int j = 0; j < kLanes; ++j) {
    S += sl[j];
    E += el[j];
    g += gl[j];
  }
  finish_row(run_max, S, E, g, has_target, tl, top, k, out);
}

}  // namespace

void reduce_row(const float* l, int64_t vocab, int32_t target, int k, ReducedRow* out) {
  reduce_row_vec(l, vocab, target, k, out);
}

}  // namespace lsc::analysis::avx2
