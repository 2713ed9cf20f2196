// Rank correlations: Spearman ρ and Kendall τ-b with SciPy 1.10 p-values (hypothesis.h).
#include <algorithm>
#include <cmath>

#include "analysis/stats/distributions.h"
#include "analysis/stats/hypothesis.h"
#include "analysis/stats/rank.h"
#include "io/error.h"

namespace lsc::stats {
namespace {

// Two-sided exact p of Kendall's statistic for n untied pairs with c concordant pairs, as
// scipy.stats._mstats_basic._kendall_p_exact (Kendall 1970): counts of permutations with at most
// c inversions via the Mahonian recurrence, times 2/n!. The general branch runs only for n ≤ 33
// (SciPy 1.10 "auto"); for larger n only c ≤ 1 reaches here, handled in closed form.
double kendall_p_exact(int64_t n, int64_t c) {
  const int64_t tot = n * (n - 1) / 2;
  c = std::min(c, tot - c);  // symmetric: work in the left tail
  if (n <= 2) return 1.0;
  // (n−1)! and n! in double; they overflow to inf past 170!, where SciPy returns 0 as well.
  double fact_n1 = 1.0;
  for (int64_t i = 2; i < n; ++i) fact_n1 *= double(i);
  const double fact_n = fact_n1 * double(n);
  if (c == 0) return 2.0 / fact_n;
  if (c == 1) return 2.0 / fact_n1;
  if (4 * c == n * (n - 1)) return 1.0;
  std::vector<double> cnt(size_t(c) + 1, 0.0);
  cnt[0] = cnt[1] = 1.0;  // permutations of 2 items: 0 or 1 inversion
  for (int64_t j = 3; j <= n; ++j) {
    // Inserting item j adds 0..j−1 inversions: prefix sum, then subtract the part beyond j−1.
    for (size_t i = 1; i < cnt.size(); ++i) cnt[i] += cnt[i - 1];
    if (j <= c) {
      for (size_t i = cnt.size(); i-- > size_t(j);) cnt[i] -= cnt[i - size_t(j)];
    }
  }
  double sum = 0.0;
  for (double v : cnt) sum += v;
  return std::clamp(2.0 * sum / fact_n, 0.0, 1.0);
}

int sign_of(double v) { return (v > 0) - (v < 0); }

}  // namespace

TestResult spearman(std::span<const double> x, std::span<const double> y) {
  LSC_CHECK(x.size() == y.size());
  const int64_t n = int64_t(x.size());
  if (n < 3) return undefined_test(n, "n < 3");
  const std::vector<double> rx = rank_average(x), ry = rank_average(y);
  const double mx = mean_of(rx), my = mean_of(ry);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  if (sxx == 0.0 || syy == 0.0) return undefined_test(n, "a variable is constant (SciPy: nan)");
  TestResult res;
  res.n = n;
  res.defined = true;
  res.method = "t";
  res.df = double(n - 2);
  const double rho = std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
  res.statistic = rho;
  const double denom = (rho + 1.0) * (1.0 - rho);
  if (denom <= 0.0) {
    res.p_value = 0.0;  // |ρ| = 1: t = ±inf
  } else {
    const double t = rho * std::sqrt(std::max(0.0, res.df / denom));
    res.p_value = std::clamp(2.0 * detail::t_sf(std::fabs(t), res.df), 0.0, 1.0);
  }
  return res;
}

TestResult kendall_tau_b(std::span<const double> x, std::span<const double> y) {
  LSC_CHECK(x.size() == y.size());
  const int64_t n = int64_t(x.size());
  if (n < 2) return undefined_test(n, "n < 2");
  // Pair counts by direct enumeration, O(n²): fine for per-text sample sizes (≲ 10⁴).
  int64_t con_minus_dis = 0, dis = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t j = i + 1; j < x.size(); ++j) {
      const int s = sign_of(x[i] - x[j]) * sign_of(y[i] - y[j]);
      con_minus_dis += s;
      dis += s < 0;
    }
  }
  // Tie statistics per variable: Σ t(t−1)/2, Σ t(t−1)(t−2), Σ t(t−1)(2t+5) (SciPy names xtie, x0,
  // x1).
  struct Ties {
    double pairs = 0, t0 = 0, t1 = 0;
  };
  auto ties_of = [](std::span<const double> v) {
    Ties t;
    for (int64_t g : tie_group_sizes(v)) {
      if (g < 2) continue;
      const double gd = double(g);
      t.pairs += gd * (gd - 1.0) / 2.0;
      t.t0 += gd * (gd - 1.0) * (gd - 2.0);
      t.t1 += gd * (gd - 1.0) * (2.0 * gd + 5.0);
    }
    return t;
  };
  const Ties tx = ties_of(x), ty = ties_of(y);
  const double tot = double(n) * double(n - 1) / 2.0;
  if (tx.pairs == tot || ty.pairs == tot)
    return undefined_test(n, "a variable is constant (SciPy: nan)");
  TestResult res;
  res.n = n;
  res.defined = true;
  const double cmd = double(con_minus_dis);
  res.statistic =
      std::clamp(cmd / std::sqrt(tot - tx.pairs) / std::sqrt(tot - ty.pairs), -1.0, 1.0);
  const bool no_ties = tx.pairs == 0.0 && ty.pairs == 0.0;
  const int64_t tot_i = n * (n - 1) / 2;
  if (no_ties && (n <= 33 || std::min(dis, tot_i - dis) <= 1)) {
    res.method = "exact";
    res.p_value = kendall_p_exact(n, tot_i - dis);
  } else {
    res.method = "asymptotic";
    const double nd = double(n), m = nd * (nd - 1.0);
    const double var = (m * (2.0 * nd + 5.0) - tx.t1 - ty.t1) / 18.0 +
                       (2.0 * tx.pairs * ty.pairs) / m + tx.t0 * ty.t0 / (9.0 * m * (nd - 2.0));
    res.z = cmd / std::sqrt(var);
    res.p_value = std::clamp(detail::normal_two_sided(res.z), 0.0, 1.0);
  }
  return res;
}

}  // namespace lsc::stats
