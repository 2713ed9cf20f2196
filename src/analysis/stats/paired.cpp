// Paired tests: Wilcoxon signed-rank, paired t, Friedman (SciPy 1.10 definitions, hypothesis.h).
#include <algorithm>
#include <cmath>

#include "analysis/stats/distributions.h"
#include "analysis/stats/hypothesis.h"
#include "analysis/stats/rank.h"
#include "io/error.h"

namespace lsc::stats {
namespace {

// Exact null pmf of R+ for n distinct ranks, index r = 0 … n(n+1)/2. Built like SciPy's
// _get_wilcoxon_distr: adding rank k either contributes 0 or k, each with probability ½.
std::vector<double> wilcoxon_pmf(int64_t n) {
  std::vector<double> c(1, 1.0);
  for (int64_t k = 1; k <= n; ++k) {
    std::vector<double> next(size_t(k * (k + 1) / 2 + 1), 0.0);
    const size_t m = c.size();
    for (size_t i = 0; i < m; ++i) next[i] += 0.5 * c[i];
    for (size_t i = 0; i < m; ++i) next[next.size() - m + i] += 0.5 * c[i];
    c = std::move(next);
  }
  return c;
}

}  // namespace

TestResult wilcoxon_signed_rank(std::span<const double> x, std::span<const double> y) {
  LSC_CHECK(x.size() == y.size());
  std::vector<double> d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - y[i];
  const int64_t n_all = int64_t(d.size());
  if (n_all == 0) return undefined_test(0, "no pairs");
  const int64_t n_zero = std::count(d.begin(), d.end(), 0.0);
  if (n_zero == n_all) {
    return undefined_test(n_all, "every difference is zero (SciPy raises ValueError)");
  }
  const bool exact = n_all <= 50 && n_zero == 0;  // SciPy 1.10 method='auto'
  std::vector<double> nz;
  for (double v : d) {
    if (v != 0.0) nz.push_back(v);  // zero_method='wilcox' drops zeros (only reachable on approx)
  }
  const int64_t n = int64_t(nz.size());
  std::vector<double> abs_d(nz.size());
  for (size_t i = 0; i < nz.size(); ++i) abs_d[i] = std::fabs(nz[i]);
  const std::vector<double> r = rank_average(abs_d);
  double r_plus = 0.0, r_minus = 0.0;
  for (size_t i = 0; i < nz.size(); ++i) (nz[i] > 0 ? r_plus : r_minus) += r[i];

  TestResult res;
  res.n = n;
  res.defined = true;
  res.statistic = std::min(r_plus, r_minus);
  if (exact) {
    res.method = "exact";
    const std::vector<double> pmf = wilcoxon_pmf(n);
    // SciPy truncates R+ with int(); with tied |d| R+ may be a half-integer.
    const auto rp = size_t(r_plus);
    if (std::floor(r_plus) != r_plus)
      res.note = "tied |d|: R+ truncated to an integer for the exact pmf (as SciPy 1.10)";
    if (rp == (pmf.size() - 1) / 2) {
      res.p_value = 1.0;
    } else {
      double p_less = 0.0, p_greater = 0.0;
      for (size_t i = 0; i <= rp; ++i) p_less += pmf[i];
      for (size_t i = rp; i < pmf.size(); ++i) p_greater += pmf[i];
      res.p_value = std::clamp(2.0 * std::min(p_less, p_greater), 0.0, 1.0);
    }
  } else {
    res.method = "approx";
    const double nd = double(n);
    const double mn = nd * (nd + 1.0) * 0.25;
    double se = nd * (nd + 1.0) * (2.0 * nd + 1.0);
    se -= 0.5 * tie_term(r);  // tie correction; ranks tie exactly where |d| ties
    se = std::sqrt(se / 24.0);
    res.z = (res.statistic - mn) / se;
    res.p_value = std::clamp(detail::normal_two_sided(res.z), 0.0, 1.0);
    if (n_zero > 0)
      res.note = std::to_string(n_zero) + " zero differences dropped (zero_method='wilcox')";
  }
  return res;
}

TestResult paired_t(std::span<const double> x, std::span<const double> y) {
  LSC_CHECK(x.size() == y.size());
  const int64_t n = int64_t(x.size());
  if (n < 2) return undefined_test(n, "n < 2");
  std::vector<double> d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - y[i];
  const double m = mean_of(d);
  const double v = variance_of(d, m);
  if (v == 0.0) {
    return undefined_test(n, m == 0.0
                                 ? "every difference is zero (SciPy: t = nan)"
                                 : "differences constant and nonzero (SciPy: t = ±inf, p = 0)");
  }
  TestResult res;
  res.n = n;
  res.defined = true;
  res.method = "t";
  res.df = double(n - 1);
  res.statistic = m / std::sqrt(v / double(n));
  res.p_value = std::clamp(2.0 * detail::t_sf(std::fabs(res.statistic), res.df), 0.0, 1.0);
  return res;
}

TestResult friedman(const std::vector<std::vector<double>>& groups) {
  const int64_t k = int64_t(groups.size());
  if (k < 3) return undefined_test(0, "fewer than 3 models");
  const size_t n = groups[0].size();
  for (const auto& g : groups) LSC_CHECK(g.size() == n);
  if (n == 0) return undefined_test(0, "no complete subjects");
  std::vector<double> rank_sums(size_t(k), 0.0);
  double ties = 0.0;
  std::vector<double> row(static_cast<size_t>(k));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < size_t(k); ++j) row[j] = groups[j][i];
    const std::vector<double> r = rank_average(row);
    for (size_t j = 0; j < size_t(k); ++j) rank_sums[j] += r[j];
    ties += tie_term(row);
  }
  const double kd = double(k), nd = double(n);
  const double c = 1.0 - ties / (kd * (kd * kd - 1.0) * nd);
  if (c <= 0.0) return undefined_test(int64_t(n), "every subject has all values tied (SciPy: nan)");
  double ssbn = 0.0;
  for (double s : rank_sums) ssbn += s * s;
  TestResult res;
  res.n = int64_t(n);
  res.defined = true;
  res.method = "chi2";
  res.df = kd - 1.0;
  res.statistic = (12.0 / (kd * nd * (kd + 1.0)) * ssbn - 3.0 * nd * (kd + 1.0)) / c;
  res.p_value = detail::chi2_sf(res.statistic, res.df);
  return res;
}

}  // namespace lsc::stats
