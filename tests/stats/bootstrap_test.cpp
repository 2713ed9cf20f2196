// Bootstrap and RNG: bit-for-bit reproducibility, unbiased bounded draws, CI sanity properties.
#include "analysis/stats/bootstrap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace lsc::stats {
namespace {

std::vector<double> sample(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> x(static_cast<size_t>(n));
  for (auto& v : x) v = rng.uniform() * 4.0 - 1.0;
  return x;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(Bootstrap, SameSeedGivesIdenticalBits) {
  const auto x = sample(57, 1);
  const BootstrapCI a = bootstrap_mean_ci(x, 2000, 42), b = bootstrap_mean_ci(x, 2000, 42);
  EXPECT_TRUE(same_bits(a.low, b.low));
  EXPECT_TRUE(same_bits(a.high, b.high));
  const BootstrapCI c = bootstrap_mean_ci(x, 2000, 43);
  EXPECT_FALSE(same_bits(a.low, c.low) && same_bits(a.high, c.high));
}

TEST(Bootstrap, XoshiroMatchesPublishedFirstOutputs) {
  // Self-consistency of seeding: splitmix64(0) = 0xE220A8397B1DCDAF (Vigna's reference
  // splitmix64.c, first output for state 0).
  EXPECT_EQ(splitmix64(0), 0xE220A8397B1DCDAFull);
}

TEST(Bootstrap, BoundedDrawsAreUniform) {
  // 60000 draws in [0, 6): each count ~ Binomial(60000, 1/6), sd = 91.3; 6 sd bound.
  Rng rng(7);
  int counts[6] = {};
  for (int i = 0; i < 60000; ++i) ++counts[rng.below(6)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 6 * 91.3);
}

TEST(Bootstrap, CiContainsMeanAndShrinksWithN) {
  const auto small = sample(20, 3), large = sample(2000, 3);
  const BootstrapCI a = bootstrap_mean_ci(small, 10000, 9), b = bootstrap_mean_ci(large, 10000, 9);
  EXPECT_LE(a.low, a.estimate);
  EXPECT_GE(a.high, a.estimate);
  EXPECT_LE(b.low, b.estimate);
  EXPECT_GE(b.high, b.estimate);
  // Width ∝ 1/√n: 100× the texts → about 10× narrower; require at least 5×.
  EXPECT_LT((b.high - b.low) * 5.0, a.high - a.low);
  // Normal theory: width ≈ 2·1.96·sd/√n within 10% for n = 2000 (sampling error of the bootstrap
  // quantiles with B = 10⁴ is ~1-2%).
  double m = 0, s = 0;
  for (double v : large) m += v;
  m /= double(large.size());
  for (double v : large) s += (v - m) * (v - m);
  const double sd = std::sqrt(s / double(large.size()));
  EXPECT_NEAR(b.high - b.low, 2 * 1.959964 * sd / std::sqrt(2000.0), 0.1 * (b.high - b.low));
}

TEST(Bootstrap, PairedDifferenceAndEdgeCases) {
  const std::vector<double> x{1, 2, 3, 4, 5}, y{0, 1, 2, 3, 4};
  const BootstrapCI d = bootstrap_paired_diff_ci(x, y, 500, 1);
  EXPECT_EQ(d.estimate, 1.0);  // constant difference: every resample mean is exactly 1
  EXPECT_EQ(d.low, 1.0);
  EXPECT_EQ(d.high, 1.0);
  EXPECT_FALSE(bootstrap_mean_ci(std::vector<double>{}, 100, 1).defined);
  const BootstrapCI one = bootstrap_mean_ci(std::vector<double>{3.5}, 100, 1);
  EXPECT_TRUE(one.defined);
  EXPECT_EQ(one.low, 3.5);
  EXPECT_EQ(one.high, 3.5);
}

TEST(Bootstrap, DerivedSeedsDependOnKeyOnly) {
  EXPECT_EQ(derive_seed(5, "wait/rate/sft-rl"), derive_seed(5, "wait/rate/sft-rl"));
  EXPECT_NE(derive_seed(5, "wait/rate/sft-rl"), derive_seed(5, "wait/rate/base-rl"));
  EXPECT_NE(derive_seed(5, "a"), derive_seed(6, "a"));
}

}  // namespace
}  // namespace lsc::stats
