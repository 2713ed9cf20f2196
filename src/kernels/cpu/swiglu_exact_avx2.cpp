// The fp32 precision's SwiGLU with AVX2: swiglu_exact_avx512.cpp's steps (the reference's
// operations, expf by libm_expf8) 8 elements at a time, so bit for bit ops.cpp's swiglu.
// Compiled with -mavx2 -mfma -ffp-contract=off (the exp's FMAs are explicit, nothing else fused).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/exp_avx2.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/lanes_avx2.h"

namespace lsc::cpu::avx2 {

void swiglu_exact(const float* gate, const float* up, int64_t n, float* out) {
  const int64_t n_vec = (n + 7) / 8;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n_vec; ++b) {
    const int64_t i = b * 8;
    const __m256i valid = lanes_below(n - i);
    const __m256 g = _mm256_maskload_ps(gate + i, valid), u = _mm256_maskload_ps(up + i, valid);
    const __m256 e = libm_expf8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
    const __m256 s = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    _mm256_maskstore_ps(out + i, valid, _mm256_mul_ps(s, u));
  }
}

}  // namespace lsc::cpu::avx2
