// Effect sizes: d_z, matched-pairs rank-biserial, pooled Cohen's d, Cliff's δ (effect_size.h).
#include "analysis/stats/effect_size.h"

#include <cmath>
#include <vector>

#include "analysis/stats/rank.h"
#include "io/error.h"

namespace lsc::stats {

Estimate cohens_dz(std::span<const double> x, std::span<const double> y) {
  LSC_CHECK(x.size() == y.size());
  const int64_t n = int64_t(x.size());
  if (n < 2) return undefined_estimate(n, "n < 2");
  std::vector<double> d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - y[i];
  const double m = mean_of(d), sd = std::sqrt(variance_of(d, m));
  if (sd == 0.0) return undefined_estimate(n, "differences have zero SD");
  return Estimate{m / sd, n, true, ""};
}

Estimate rank_biserial_paired(std::span<const double> x, std::span<const double> y) {
  LSC_CHECK(x.size() == y.size());
  std::vector<double> nz;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] - y[i] != 0.0) nz.push_back(x[i] - y[i]);
  }
  const int64_t n = int64_t(nz.size());
  if (n == 0) return undefined_estimate(int64_t(x.size()), "every difference is zero");
  std::vector<double> a(nz.size());
  for (size_t i = 0; i < nz.size(); ++i) a[i] = std::fabs(nz[i]);
  const std::vector<double> r = rank_average(a);
  double rp = 0.0, rm = 0.0;
  for (size_t i = 0; i < nz.size(); ++i) (nz[i] > 0 ? rp : rm) += r[i];
  return Estimate{(rp - rm) / (rp + rm), n, true, ""};
}

Estimate cohens_d(std::span<const double> x, std::span<const double> y) {
  const int64_t n1 = int64_t(x.size()), n2 = int64_t(y.size());
  if (n1 == 0 || n2 == 0 || n1 + n2 < 3)
    return undefined_estimate(n1 + n2, "a group is empty or n1 + n2 < 3");
  const double m1 = mean_of(x), m2 = mean_of(y);
  const double ss = variance_of(x, m1) * double(n1 - 1) + variance_of(y, m2) * double(n2 - 1);
  const double sp = std::sqrt(ss / double(n1 + n2 - 2));
  if (sp == 0.0) return undefined_estimate(n1 + n2, "pooled SD is zero");
  return Estimate{(m1 - m2) / sp, n1 + n2, true, ""};
}

Estimate cliffs_delta(std::span<const double> x, std::span<const double> y) {
  const int64_t n1 = int64_t(x.size()), n2 = int64_t(y.size());
  if (n1 == 0 || n2 == 0) return undefined_estimate(n1 + n2, "a group is empty");
  int64_t more = 0, less = 0;
  for (double a : x) {
    for (double b : y) {
      more += a > b;
      less += a < b;
    }
  }
  return Estimate{double(more - less) / (double(n1) * double(n2)), n1 + n2, true, ""};
}

}  // namespace lsc::stats
