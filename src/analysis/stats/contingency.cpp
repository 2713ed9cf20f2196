// 2×2 tables: Fisher exact (two-sided, SciPy's "as extreme") and chi-square with Yates correction.
#include <algorithm>
#include <cmath>

#include "analysis/stats/distributions.h"
#include "analysis/stats/hypothesis.h"

namespace lsc::stats {
namespace {

bool has_zero_margin(const Table2x2& t) {
  return t[0][0] + t[0][1] == 0 || t[1][0] + t[1][1] == 0 || t[0][0] + t[1][0] == 0 ||
         t[0][1] + t[1][1] == 0;
}

}  // namespace

TestResult fisher_exact(const Table2x2& t) {
  const int64_t total = t[0][0] + t[0][1] + t[1][0] + t[1][1];
  if (has_zero_margin(t))
    return undefined_test(total, "a row or column sum is zero (SciPy: odds ratio nan, p = 1)");
  const int64_t n1 = t[0][0] + t[0][1], n2 = t[1][0] + t[1][1], n = t[0][0] + t[1][0];
  // X = t[0][0] ~ Hypergeometric(population n1 + n2, n1 successes, n draws) — SciPy's
  // hypergeom(M = n1 + n2, n = n1, N = n). Boost: (r = successes, n = draws, N = population).
  const boost::math::hypergeometric_distribution<double> h(uint64_t(n1), uint64_t(n),
                                                           uint64_t(n1 + n2));
  const int64_t lo = std::max<int64_t>(0, n - n2), hi = std::min(n, n1);
  auto pmf = [&](int64_t x) { return (x < lo || x > hi) ? 0.0 : boost::math::pdf(h, uint64_t(x)); };

  TestResult res;
  res.n = total;
  res.defined = true;
  res.method = "hypergeometric";
  const double bc = double(t[1][0]) * double(t[0][1]);
  res.statistic =
      bc > 0 ? double(t[0][0]) * double(t[1][1]) / bc : std::numeric_limits<double>::infinity();
  if (bc == 0) res.note = "odds ratio infinite (a zero off-diagonal cell)";
  const int64_t mode = int64_t(double(n + 1) * double(n1 + 1) / double(n1 + n2 + 2));
  const int64_t a = t[0][0];
  const double p_exact = pmf(a), p_mode = pmf(mode);
  constexpr double kEps = 1e-14;  // SciPy's relative tolerance for "equally likely"
  if (std::fabs(p_exact - p_mode) / std::max(p_exact, p_mode) <= kEps) {
    res.p_value = 1.0;
    return res;
  }
  const double thr = p_exact * (1.0 + kEps);
  double p = 0.0;
  if (a < mode) {
    for (int64_t x = lo; x <= a; ++x) p += pmf(x);  // own tail: P(X ≤ a)
    for (int64_t x = mode; x <= hi; ++x) {
      if (pmf(x) < thr) p += pmf(x);  // far tail below the threshold
    }
  } else {
    for (int64_t x = a; x <= hi; ++x) p += pmf(x);  // P(X ≥ a)
    for (int64_t x = lo; x <= mode; ++x) {
      if (pmf(x) <= thr) p += pmf(x);
    }
  }
  res.p_value = std::min(p, 1.0);
  return res;
}

TestResult chi2_yates(const Table2x2& t) {
  const int64_t total = t[0][0] + t[0][1] + t[1][0] + t[1][1];
  if (has_zero_margin(t))
    return undefined_test(total,
                          "a row or column sum is zero (SciPy raises: zero expected frequency)");
  const double nd = double(total);
  const double row[2] = {double(t[0][0] + t[0][1]), double(t[1][0] + t[1][1])};
  const double col[2] = {double(t[0][0] + t[1][0]), double(t[0][1] + t[1][1])};
  double chi2 = 0.0;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      const double e = row[i] * col[j] / nd;
      const double o = double(t[size_t(i)][size_t(j)]);
      const double diff = e - o;
      // Yates: move O towards E by at most 0.5.
      const double o_adj = o + (diff > 0   ? 1.0
                                : diff < 0 ? -1.0
                                           : 0.0) *
                                   std::min(0.5, std::fabs(diff));
      chi2 += (o_adj - e) * (o_adj - e) / e;
    }
  }
  TestResult res;
  res.n = total;
  res.defined = true;
  res.method = "chi2_yates";
  res.df = 1.0;
  res.statistic = chi2;
  res.p_value = detail::chi2_sf(chi2, 1.0);
  return res;
}

}  // namespace lsc::stats
