// The Jensen-Shannon divergence one vocabulary id at a time, without cancellation. With
// p_a = m(1 + d), p_b = m(1 − d), m = (p_a + p_b)/2, d = tanh(y), y = |log p_a − log p_b|/2:
//   JS = ½ Σ [p_a log(p_a/m) + p_b log(p_b/m)] = ¼ Σ (p_a + p_b)·F(y),
//   F(y) = (1 + d) log(1 + d) + (1 − d) log(1 − d) = 2(y tanh y − log cosh y).
// F comes from the log-ratio, exact to fp32 even where the two probabilities agree to many digits
// (a model and its RL copy), never from H(m) − ½H(a) − ½H(b), whose entropies of ~11 nats cancel
// down to a JS of 1e-4 (that left errors of several percent). Below y = 0.4 by its series
// (F = ∫₀^y 2s·sech²s ds to y¹⁴: relative error < 1e-8), above from t = e^{−2y}:
// F = 2(log 2 − log(1 + t) − 2y·t/(1 + t)), → 2 log 2 as the supports separate.
// One definition for the CPU's scalar loops and the CUDA kernel (the AVX-512 loop repeats it in
// vectors: analysis/divergence_avx512.cpp); the caller supplies t and log(1 + t) (its own exp and
// log) where y ≥ 0.4.
#pragma once

#if defined(__CUDACC__)
#define LSC_HOST_DEVICE __host__ __device__
#else
#define LSC_HOST_DEVICE
#endif

namespace lsc::kernels {

template <typename T>
LSC_HOST_DEVICE inline T js_shape(T y, T t_exp_minus_2y, T log_1p_t) {
  if (y < T(0.4)) {
    const T s = y * y;
    return s * (T(1) + s * (T(-1) / T(2) + s * (T(2) / T(9) + s * (T(-17) / T(180) + s * (T(62) / T(1575) +
                s * (T(-1382) / T(85050) + s * (T(21844) / T(3274425))))))));
  }
  const T t = t_exp_minus_2y;
  return T(2) * (T(0.693147180559945309417) - log_1p_t - T(2) * y * t / (T(1) + t));
}

}  // namespace lsc::kernels
