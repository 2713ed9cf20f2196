// Steps on 8 float lanes shared by the AVX2 kernels (the fp32 matmul, the fp32 attention): one
// definition, so both sum their lanes in the same order. Include only from translation units
// compiled with -mavx2.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace lsc::cpu::avx2 {

// Lanes [0, n) of 8 (n clamped to 0..8) as a maskload/maskstore/blend mask; the tail of a loop
// over n elements in steps of 8 is lanes_below(n − i).
inline __m256i lanes_below(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(n, 0, 8))), idx);
}

// The 8 lanes summed in one fixed order: (i + i+4), then (+ i+2), then (+ i+1) — the last three
// steps of the reference's dot16 tree.
inline float reduce8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace lsc::cpu::avx2
