// Two independent samples: Mann-Whitney U and Welch t (SciPy 1.10 definitions, hypothesis.h).
#include <algorithm>
#include <cmath>

#include "analysis/stats/distributions.h"
#include "analysis/stats/hypothesis.h"
#include "analysis/stats/rank.h"

namespace lsc::stats {
namespace {

// P(U ≤ k_max) under H0 for sample sizes (m, n), no ties: counts f(i, j, k) of arrangements with
// U = k obey f(i, j, k) = f(i−1, j, k−j) + f(i, j−1, k) (Mann & Whitney 1947; SciPy's _MWU). We
// sweep j over the larger size and keep i ≤ the smaller one, truncated at degree k_max.
double mwu_cdf(int64_t m, int64_t n, int64_t k_max) {
  if (m > n) std::swap(m, n);  // U's null distribution is symmetric in (m, n)
  const size_t K = size_t(k_max) + 1;
  // f[i][k] for the current j; f[i][·] at j = 0 is 1 at k = 0 (no y below any x).
  std::vector<std::vector<double>> f(size_t(m) + 1, std::vector<double>(K, 0.0));
  for (auto& row : f) row[0] = 1.0;
  for (int64_t j = 1; j <= n; ++j) {
    // f(0, j, ·) = [1, 0, …] stays. Ascending i: f[i−1] already holds column j.
    for (size_t i = 1; i <= size_t(m); ++i) {
      for (size_t k = K; k-- > size_t(j);) f[i][k] += f[i - 1][k - size_t(j)];
    }
  }
  // binom(m + n, m) as a product in double (exact while it fits in 53 bits).
  double binom = 1.0;
  for (int64_t i = 1; i <= m; ++i) binom = binom * double(n + i) / double(i);
  double cdf = 0.0;
  for (size_t k = 0; k < K; ++k) cdf += f[size_t(m)][k] / binom;
  return cdf;
}

}  // namespace

TestResult mann_whitney_u(std::span<const double> x, std::span<const double> y) {
  const int64_t n1 = int64_t(x.size()), n2 = int64_t(y.size());
  if (n1 == 0 || n2 == 0) return undefined_test(n1 + n2, "a group is empty (SciPy raises)");
  std::vector<double> xy(x.begin(), x.end());
  xy.insert(xy.end(), y.begin(), y.end());
  const std::vector<double> ranks = rank_average(xy);
  double r1 = 0.0;
  for (int64_t i = 0; i < n1; ++i) r1 += ranks[size_t(i)];
  const double u1 = r1 - double(n1) * double(n1 + 1) / 2.0;
  const double u2 = double(n1) * double(n2) - u1;
  const double u = std::max(u1, u2);
  const double ties = tie_term(xy);
  const bool exact = !(n1 > 8 && n2 > 8) && ties == 0.0;  // SciPy 1.10 _mwu_choose_method

  TestResult res;
  res.n = n1 + n2;
  res.defined = true;
  res.statistic = u1;
  if (exact) {
    res.method = "exact";
    // sf(U) = cdf(m·n − U) by symmetry, as SciPy computes it.
    const auto k = int64_t(double(n1) * double(n2) - u);
    res.p_value = std::clamp(2.0 * mwu_cdf(n1, n2, k), 0.0, 1.0);
  } else {
    res.method = "asymptotic";
    const double n = double(n1 + n2);
    const double s2 = double(n1) * double(n2) / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    const double mu = double(n1) * double(n2) / 2.0;
    if (s2 <= 0.0) {
      // All values equal: SciPy computes z = −0.5/0 = −inf, p = 2·sf(−inf) = 2, clipped to 1.
      res.z = -std::numeric_limits<double>::infinity();
      res.p_value = 1.0;
      res.note = "all values equal (SciPy: p = 1)";
      return res;
    }
    res.z = (u - mu - 0.5) / std::sqrt(s2);  // continuity correction
    res.p_value = std::clamp(2.0 * detail::normal_sf(res.z), 0.0, 1.0);
  }
  return res;
}

TestResult welch_t(std::span<const double> x, std::span<const double> y) {
  const int64_t n1 = int64_t(x.size()), n2 = int64_t(y.size());
  if (n1 < 2 || n2 < 2) return undefined_test(n1 + n2, "a group has fewer than 2 values");
  const double m1 = mean_of(x), m2 = mean_of(y);
  const double vn1 = variance_of(x, m1) / double(n1), vn2 = variance_of(y, m2) / double(n2);
  if (vn1 + vn2 == 0.0) {
    return undefined_test(n1 + n2, m1 == m2 ? "both groups constant and equal (SciPy: nan)"
                                            : "both groups constant (SciPy: t = ±inf, p = 0)");
  }
  TestResult res;
  res.n = n1 + n2;
  res.defined = true;
  res.method = "t";
  res.df = (vn1 + vn2) * (vn1 + vn2) / (vn1 * vn1 / double(n1 - 1) + vn2 * vn2 / double(n2 - 1));
  res.statistic = (m1 - m2) / std::sqrt(vn1 + vn2);
  res.p_value = std::clamp(2.0 * detail::t_sf(std::fabs(res.statistic), res.df), 0.0, 1.0);
  return res;
}

}  // namespace lsc::stats
