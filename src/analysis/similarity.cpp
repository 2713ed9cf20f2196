#include "analysis/similarity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace lsc::analysis {

namespace {

// Column-centred copy of x [n, d] in double.
std::vector<double> centred(const float* x, int64_t n, int64_t d) {
  std::vector<double> c(static_cast<size_t>(n * d));
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) mean[size_t(j)] += double(x[i * d + j]);
  }
  for (double& m : mean) m /= double(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) c[size_t(i * d + j)] = double(x[i * d + j]) - mean[size_t(j)];
  }
  return c;
}

// g = aᵀ b for a [n, p], b [n, q] (column products: the feature form), or a bᵀ for a [p, n],
// b [q, n] (row products: the Gram form) — one routine, rows of a and b read contiguously.
// Rows of the result are independent: parallel over them.
std::vector<double> row_products(const std::vector<double>& a, const std::vector<double>& b, int64_t p, int64_t q,
                                 int64_t len) {
  std::vector<double> g(static_cast<size_t>(p * q));
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < p; ++i) {
    const double* ai = a.data() + i * len;
    for (int64_t j = 0; j < q; ++j) {
      const double* bj = b.data() + j * len;
      double s = 0.0;
      for (int64_t k = 0; k < len; ++k) s += ai[k] * bj[k];
      g[size_t(i * q + j)] = s;
    }
  }
  return g;
}

std::vector<double> transposed(const std::vector<double>& a, int64_t n, int64_t d) {
  std::vector<double> t(a.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) t[size_t(j * n + i)] = a[size_t(i * d + j)];
  }
  return t;
}

double frobenius_dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

double linear_cka(const float* x, const float* y, int64_t n, int64_t d) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (n < 3 || d < 1) return nan;  // two centred positions are ± one vector: CKA 1 whatever they are
  const std::vector<double> xc = centred(x, n, d), yc = centred(y, n, d);
  double num, xx, yy;
  if (n <= d) {
    // Gram form: K = Xc Xcᵀ, L = Yc Ycᵀ; ‖Ycᵀ Xc‖²_F = ⟨K, L⟩_F, ‖Xcᵀ Xc‖_F = ‖K‖_F.
    const auto k = row_products(xc, xc, n, n, d), l = row_products(yc, yc, n, n, d);
    num = frobenius_dot(k, l);
    xx = frobenius_dot(k, k);
    yy = frobenius_dot(l, l);
  } else {
    const auto xt = transposed(xc, n, d), yt = transposed(yc, n, d);
    const auto xy = row_products(xt, yt, d, d, n);
    const auto xxm = row_products(xt, xt, d, d, n), yym = row_products(yt, yt, d, d, n);
    num = frobenius_dot(xy, xy);
    xx = frobenius_dot(xxm, xxm);
    yy = frobenius_dot(yym, yym);
  }
  if (!(xx > 0.0) || !(yy > 0.0)) return nan;
  return std::min(1.0, num / (std::sqrt(xx) * std::sqrt(yy)));  // ≤ 1 by Cauchy-Schwarz; rounding aside
}

double mean_cosine(const float* x, const float* y, int64_t n, int64_t d) {
  double sum = 0.0;
  int64_t rows = 0;
  for (int64_t i = 0; i < n; ++i) {
    double xy = 0.0, xx = 0.0, yy = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const double a = x[i * d + j], b = y[i * d + j];
      xy += a * b;
      xx += a * a;
      yy += b * b;
    }
    if (xx == 0.0 || yy == 0.0) continue;
    sum += std::clamp(xy / (std::sqrt(xx) * std::sqrt(yy)), -1.0, 1.0);  // in [-1, 1] by Cauchy-Schwarz; rounding aside
    ++rows;
  }
  return rows > 0 ? sum / double(rows) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace lsc::analysis
