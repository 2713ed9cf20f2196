// Steps on 8 float lanes shared by the AVX2 kernels (the fp32 matmul, the fp32 attention): one
// definition, so both sum their lanes in the same order. Include only from translation units
// compiled with -mavx2.
#pragma once

#include <immintrin.h>

namespace lsc::cpu::avx2 {

// The 8 lanes summed in one fixed order: (i + i+4), then (+ i+2), then (+ i+1) — the last three
// steps of the reference's dot16 tree.
inline float reduce8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace lsc::cpu::avx2
