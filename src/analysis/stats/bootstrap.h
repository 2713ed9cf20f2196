// Deterministic resampling: our own xoshiro256** generator (seeded through splitmix64) and
// percentile bootstrap CIs of a mean / paired mean difference. Same inputs + seed → the same
// bits on every platform (integer RNG, unbiased bounded draws, fixed summation order).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace lsc::stats {

// xoshiro256** (Blackman & Vigna 2018); state filled from splitmix64(seed).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  // Uniform integer in [0, n), n > 0, unbiased (Lemire 2019, multiply-shift with rejection).
  uint64_t below(uint64_t n);
  // Uniform double in [0, 1) with 53 random bits.
  double uniform();

 private:
  uint64_t s_[4];
};

// splitmix64 finalizer: a bijective 64-bit mix.
uint64_t splitmix64(uint64_t x);

// Seed for one analysis row: mixes the base seed with a 64-bit FNV-1a hash of key, so each
// row's resamples do not depend on which other rows were computed or in which order.
uint64_t derive_seed(uint64_t base_seed, std::string_view key);

struct BootstrapCI {
  double estimate = 0.0;  // the sample mean (of x, or of x − y)
  double low = 0.0, high = 0.0;
  int64_t n = 0;
  int n_resamples = 0;
  bool defined = false;
  std::string note;
};

// Percentile CI of the mean: n_resamples resamples of size n with replacement; the bounds are
// the (1−level)/2 and (1+level)/2 quantiles of the resampled means with numpy's default 'linear'
// interpolation (h = (B−1)·q). Undefined when n = 0; n = 1 gives the degenerate [x, x].
BootstrapCI bootstrap_mean_ci(std::span<const double> x, int n_resamples, uint64_t seed,
                              double level = 0.95);

// Same on the paired differences d = x − y (texts resampled as pairs).
BootstrapCI bootstrap_paired_diff_ci(std::span<const double> x, std::span<const double> y,
                                     int n_resamples, uint64_t seed, double level = 0.95);

}  // namespace lsc::stats
