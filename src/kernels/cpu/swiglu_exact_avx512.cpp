// The fp32 precision's SwiGLU with AVX-512: ops.cpp's swiglu (the reference) operation for
// operation, 16 elements at a time, so bit for bit its results: −g by its sign bit, e = expf(−g)
// by libm_expf16 (equal to libm's expf), then 1 + e, g / (1 + e) and the product with u, each one
// IEEE-rounded float operation as in the reference (-ffp-contract=off: nothing fused).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/lanes_avx512.h"

namespace lsc::cpu::avx512 {

void swiglu_exact(const float* gate, const float* up, int64_t n, float* out) {
  const int64_t n_vec = (n + 15) / 16;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n_vec; ++b) {
    const int64_t i = b * 16;
    const __mmask16 valid = first_lanes(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(valid, gate + i), u = _mm512_maskz_loadu_ps(valid, up + i);
    const __m512 neg_g = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(g), _mm512_set1_epi32(INT32_MIN)));
    const __m512 e = libm_expf16(neg_g);
    const __m512 s = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    _mm512_mask_storeu_ps(out + i, valid, _mm512_mul_ps(s, u));
  }
}

}  // namespace lsc::cpu::avx512
