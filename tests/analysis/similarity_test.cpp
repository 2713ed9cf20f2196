#include "analysis/similarity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace lsc::analysis {
namespace {

std::vector<float> random_matrix(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> m(size_t(n * d));
  for (auto& v : m) v = nd(rng);
  return m;
}

// CKA from its HSIC definition with the centring matrix H = I − 11ᵀ/n on the uncentred linear
// kernels: tr(K H L H) / sqrt(tr(K H K H) · tr(L H L H)), in double (independent of the code's
// column centring and its Gram/feature forms).
double cka_by_hsic(const std::vector<float>& x, const std::vector<float>& y, int64_t n, int64_t d) {
  auto kernel = [&](const std::vector<float>& a) {
    std::vector<double> k(size_t(n * n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t c = 0; c < d; ++c) s += double(a[size_t(i * d + c)]) * double(a[size_t(j * d + c)]);
        k[size_t(i * n + j)] = s;
      }
    return k;
  };
  auto centre = [&](const std::vector<double>& k) {  // H K H
    std::vector<double> row(size_t(n), 0), col(size_t(n), 0), out(size_t(n * n));
    double all = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        row[size_t(i)] += k[size_t(i * n + j)] / double(n);
        col[size_t(j)] += k[size_t(i * n + j)] / double(n);
        all += k[size_t(i * n + j)] / double(n * n);
      }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) out[size_t(i * n + j)] = k[size_t(i * n + j)] - row[size_t(i)] - col[size_t(j)] + all;
    return out;
  };
  const auto kc = centre(kernel(x)), lc = centre(kernel(y));
  auto tr = [&](const std::vector<double>& a, const std::vector<double>& b) {  // tr(A B) for symmetric A, B
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
  };
  return tr(kc, lc) / std::sqrt(tr(kc, kc) * tr(lc, lc));
}

// A random orthogonal d × d matrix (Gram-Schmidt on a Gaussian one), as float.
std::vector<float> random_rotation(int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<double> q(size_t(d * d));
  for (auto& v : q) v = nd(rng);
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = 0; j < i; ++j) {
      double dot = 0;
      for (int64_t c = 0; c < d; ++c) dot += q[size_t(i * d + c)] * q[size_t(j * d + c)];
      for (int64_t c = 0; c < d; ++c) q[size_t(i * d + c)] -= dot * q[size_t(j * d + c)];
    }
    double norm = 0;
    for (int64_t c = 0; c < d; ++c) norm += q[size_t(i * d + c)] * q[size_t(i * d + c)];
    for (int64_t c = 0; c < d; ++c) q[size_t(i * d + c)] /= std::sqrt(norm);
  }
  return std::vector<float>(q.begin(), q.end());
}

std::vector<float> times(const std::vector<float>& x, const std::vector<float>& q, int64_t n, int64_t d, float s) {
  std::vector<float> y(size_t(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double acc = 0;
      for (int64_t c = 0; c < d; ++c) acc += double(x[size_t(i * d + c)]) * double(q[size_t(c * d + j)]);
      y[size_t(i * d + j)] = float(double(s) * acc);
    }
  return y;
}

TEST(LinearCka, EqualsTheHsicDefinitionInBothForms) {
  for (auto [n, d] : {std::pair<int64_t, int64_t>{12, 40}, {40, 12}, {25, 25}}) {
    const auto x = random_matrix(n, d, 1), noise = random_matrix(n, d, 2);
    std::vector<float> y(x.size());
    for (size_t i = 0; i < y.size(); ++i) y[i] = 0.6f * x[i] + noise[i] + 0.3f;  // related, shifted
    const double want = cka_by_hsic(x, y, n, d);
    EXPECT_NEAR(linear_cka(x.data(), y.data(), n, d), want, 1e-9) << n << " x " << d;
    EXPECT_GT(want, 0.05);
    EXPECT_LT(want, 0.99);
  }
}

TEST(LinearCka, IsOneForIdenticalAndInvariantToRotationAndScaling) {
  const int64_t n = 30, d = 16;
  const auto x = random_matrix(n, d, 3), z = random_matrix(n, d, 4);
  EXPECT_NEAR(linear_cka(x.data(), x.data(), n, d), 1.0, 1e-12);
  const auto q = random_rotation(d, 5);
  const auto xr = times(x, q, n, d, 3.5f), zr = times(z, q, n, d, 0.25f);
  EXPECT_NEAR(linear_cka(x.data(), xr.data(), n, d), 1.0, 1e-6);
  const double xz = linear_cka(x.data(), z.data(), n, d);
  EXPECT_NEAR(linear_cka(x.data(), zr.data(), n, d), xz, 1e-6);
  EXPECT_NEAR(linear_cka(xr.data(), z.data(), n, d), xz, 1e-6);
  EXPECT_LT(xz, 0.9);  // unrelated matrices are not similar
}

TEST(LinearCka, UndefinedWithoutVariance) {
  const int64_t d = 4;
  const std::vector<float> x = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, y = {1, 0, 0, 1, 0, 1, 1, 0, 2, 2, 0, 0};
  EXPECT_TRUE(std::isnan(linear_cka(x.data(), y.data(), 3, d)));  // x the same at every position
  EXPECT_TRUE(std::isnan(linear_cka(y.data(), y.data(), 1, d)));  // one position
  // Two positions: centred, each side is ± one vector, so CKA would be 1 for any two matrices.
  EXPECT_TRUE(std::isnan(linear_cka(y.data(), y.data() + 4, 2, d)));
  EXPECT_FALSE(std::isnan(linear_cka(y.data(), y.data(), 3, d)));
}

TEST(MeanCosine, AveragesTheRowsCosines) {
  const std::vector<float> x = {1, 0, 0, 2, 0, 0, 3, 3}, y = {2, 0, 0, -1, 0, 0, 1, 0};
  // cos: 1, -1, row 3 left out (x zero), (3·1)/(sqrt(18)·1)
  const double want = (1.0 - 1.0 + 3.0 / std::sqrt(18.0)) / 3.0;
  const std::vector<float> x4 = {1, 0, 0, 2, 0, 0, 3, 3}, y4 = {2, 0, 0, -1, 5, 5, 1, 0};
  EXPECT_NEAR(mean_cosine(x4.data(), y4.data(), 4, 2), want, 1e-12);
  EXPECT_TRUE(std::isnan(mean_cosine(x.data(), y.data(), 0, 2)));
}

// A row with itself (or its negative) rounds to within one ulp of ±1 and may land outside; the
// cosine stays in [-1, 1] (1.0000000000000002 was stored, breaking acos downstream).
TEST(MeanCosine, StaysWithinPlusMinusOne) {
  const int64_t d = 896;
  int outside_unclamped = 0;
  for (int seed = 0; seed < 50; ++seed) {
    const auto x = random_matrix(1, d, 100 + seed);
    std::vector<float> neg(x);
    for (float& v : neg) v = -v;
    double xx = 0;
    for (const float v : x) xx += double(v) * double(v);
    outside_unclamped += xx / (std::sqrt(xx) * std::sqrt(xx)) > 1.0;
    EXPECT_LE(mean_cosine(x.data(), x.data(), 1, d), 1.0) << seed;
    EXPECT_GE(mean_cosine(x.data(), neg.data(), 1, d), -1.0) << seed;
  }
  EXPECT_GT(outside_unclamped, 0) << "no row rounds outside: the test checks nothing";
}

}  // namespace
}  // namespace lsc::analysis
