// xoshiro256** RNG and percentile bootstrap CIs (bootstrap.h).
#include "analysis/stats/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "io/error.h"

namespace lsc::stats {
namespace {

// 128-bit product for Lemire's method; __extension__ keeps -Wpedantic quiet about __int128.
__extension__ using U128 = unsigned __int128;

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// numpy.quantile(sorted, q) with the default 'linear' method.
double quantile_linear(const std::vector<double>& sorted, double q) {
  const double h = double(sorted.size() - 1) * q;
  const auto i = size_t(std::floor(h));
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (h - double(i)) * (sorted[i + 1] - sorted[i]);
}

}  // namespace

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Rng::Rng(uint64_t seed) {
  uint64_t z = seed;
  for (auto& s : s_) {
    s = splitmix64(z);
    z += 0x9E3779B97F4A7C15ull;
  }
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Rng::below(uint64_t n) {
  LSC_CHECK(n > 0);
  // Lemire: the high 64 bits of x·n are uniform on [0, n) once the biased low region is rejected.
  U128 m = U128(next()) * n;
  auto low = uint64_t(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (low < threshold) {
      m = U128(next()) * n;
      low = uint64_t(m);
    }
  }
  return uint64_t(m >> 64);
}

double Rng::uniform() { return double(next() >> 11) * 0x1p-53; }

uint64_t derive_seed(uint64_t base_seed, std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return splitmix64(base_seed ^ splitmix64(h));
}

BootstrapCI bootstrap_mean_ci(std::span<const double> x, int n_resamples, uint64_t seed,
                              double level) {
  LSC_CHECK(n_resamples > 0 && level > 0.0 && level < 1.0);
  BootstrapCI ci;
  ci.n = int64_t(x.size());
  ci.n_resamples = n_resamples;
  if (x.empty()) {
    ci.note = "no values";
    ci.estimate = ci.low = ci.high = 0.0;
    return ci;
  }
  double sum = 0.0;
  for (double v : x) sum += v;
  ci.estimate = sum / double(x.size());
  ci.defined = true;
  if (x.size() == 1) {
    ci.low = ci.high = ci.estimate;
    ci.note = "n = 1: degenerate interval";
    return ci;
  }
  Rng rng(seed);
  std::vector<double> means(static_cast<size_t>(n_resamples));
  for (auto& m : means) {
    double s = 0.0;  // fixed order: draw i is added i-th
    for (size_t i = 0; i < x.size(); ++i) s += x[rng.below(x.size())];
    m = s / double(x.size());
  }
  std::sort(means.begin(), means.end());
  ci.low = quantile_linear(means, (1.0 - level) / 2.0);
  ci.high = quantile_linear(means, (1.0 + level) / 2.0);
  return ci;
}

BootstrapCI bootstrap_paired_diff_ci(std::span<const double> x, std::span<const double> y,
                                     int n_resamples, uint64_t seed, double level) {
  LSC_CHECK(x.size() == y.size());
  std::vector<double> d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - y[i];
  return bootstrap_mean_ci(d, n_resamples, seed, level);
}

}  // namespace lsc::stats
