// PCA (Eigen SVD), k-means (k-means++ + Lloyd) and silhouette (multivariate.h).
#include "analysis/stats/multivariate.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "analysis/stats/bootstrap.h"
#include "io/error.h"

namespace lsc::stats {
namespace {

double sq_dist(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t j = 0; j < a.size(); ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

}  // namespace

PcaResult pca_standardized(const Matrix& rows) {
  PcaResult r;
  r.n_samples = int64_t(rows.size());
  r.n_features = rows.empty() ? 0 : int64_t(rows[0].size());
  if (r.n_samples < 2 || r.n_features == 0) {
    r.note = "need at least 2 samples and 1 feature";
    return r;
  }
  const auto n = Eigen::Index(r.n_samples), p = Eigen::Index(r.n_features);
  Eigen::MatrixXd x(n, p);
  for (Eigen::Index i = 0; i < n; ++i) {
    LSC_CHECK(rows[size_t(i)].size() == size_t(p));
    for (Eigen::Index j = 0; j < p; ++j) x(i, j) = rows[size_t(i)][size_t(j)];
  }
  // StandardScaler: population SD (ddof = 0); a zero-variance column keeps scale 1 (becomes 0).
  r.mean.resize(size_t(p));
  r.scale.resize(size_t(p));
  for (Eigen::Index j = 0; j < p; ++j) {
    const double m = x.col(j).mean();
    const double var = (x.col(j).array() - m).square().mean();
    r.mean[size_t(j)] = m;
    r.scale[size_t(j)] = var > 0.0 ? std::sqrt(var) : 1.0;
    x.col(j) = (x.col(j).array() - m) / r.scale[size_t(j)];
  }
  // PCA centres again (the scaled means are ~0 up to rounding), as sklearn does.
  const Eigen::RowVectorXd mu = x.colwise().mean();
  x.rowwise() -= mu;
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(x, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd s = svd.singularValues();
  Eigen::MatrixXd u = svd.matrixU();
  Eigen::MatrixXd v = svd.matrixV();
  const Eigen::Index n_comp = std::min(n, p);
  double total = 0.0;
  for (Eigen::Index c = 0; c < n_comp; ++c) total += s(c) * s(c);
  if (!(total > 0.0)) {
    r.note = "total variance is zero (every feature constant)";
    return r;
  }
  // svd_flip(u_based_decision=True): make the largest-|u| entry of each column positive.
  for (Eigen::Index c = 0; c < n_comp; ++c) {
    Eigen::Index arg = 0;
    for (Eigen::Index i = 1; i < n; ++i) {
      if (std::fabs(u(i, c)) > std::fabs(u(arg, c))) arg = i;
    }
    if (u(arg, c) < 0) {
      u.col(c) *= -1.0;
      v.col(c) *= -1.0;
    }
  }
  r.defined = true;
  r.components.assign(size_t(n_comp), std::vector<double>(size_t(p)));
  r.scores.assign(size_t(n), std::vector<double>(size_t(n_comp)));
  for (Eigen::Index c = 0; c < n_comp; ++c) {
    const double ev = s(c) * s(c) / double(n - 1);
    r.explained_variance.push_back(ev);
    r.explained_variance_ratio.push_back(s(c) * s(c) / total);
    for (Eigen::Index j = 0; j < p; ++j) r.components[size_t(c)][size_t(j)] = v(j, c);
  }
  const Eigen::MatrixXd scores = x * v.leftCols(n_comp);  // = transform(X) = U·S
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index c = 0; c < n_comp; ++c) r.scores[size_t(i)][size_t(c)] = scores(i, c);
  }
  return r;
}

KMeansResult kmeans(const Matrix& rows, int k, uint64_t seed, int n_init, int max_iter) {
  KMeansResult best;
  best.k = k;
  const size_t n = rows.size();
  if (k < 1 || n < size_t(k)) {
    best.note = "fewer samples than k";
    return best;
  }
  Rng rng(seed);
  best.inertia = std::numeric_limits<double>::infinity();
  for (int run = 0; run < n_init; ++run) {
    // k-means++ seeding (Arthur & Vassilvitskii 2007).
    Matrix centers;
    centers.push_back(rows[rng.below(n)]);
    std::vector<double> d2(n);
    for (size_t i = 0; i < n; ++i) d2[i] = sq_dist(rows[i], centers[0]);
    while (centers.size() < size_t(k)) {
      double total = 0.0;
      for (double v : d2) total += v;
      size_t pick = 0;
      if (total > 0.0) {
        const double target = rng.uniform() * total;
        double acc = 0.0;
        pick = n - 1;
        for (size_t i = 0; i < n; ++i) {
          acc += d2[i];
          if (acc > target && d2[i] > 0.0) {
            pick = i;
            break;
          }
        }
      } else {
        pick = rng.below(n);  // all points coincide with a centre already
      }
      centers.push_back(rows[pick]);
      for (size_t i = 0; i < n; ++i) d2[i] = std::min(d2[i], sq_dist(rows[i], centers.back()));
    }
    // Lloyd iterations.
    std::vector<int> labels(n, -1);
    int iter = 0;
    for (; iter < max_iter; ++iter) {
      bool changed = false;
      for (size_t i = 0; i < n; ++i) {
        int arg = 0;
        double dmin = sq_dist(rows[i], centers[0]);
        for (int c = 1; c < k; ++c) {
          const double d = sq_dist(rows[i], centers[size_t(c)]);
          if (d < dmin) {
            dmin = d;
            arg = c;
          }
        }
        if (labels[i] != arg) changed = true;
        labels[i] = arg;
      }
      if (!changed) break;
      for (int c = 0; c < k; ++c) {
        std::vector<double> sum(rows[0].size(), 0.0);
        int64_t count = 0;
        for (size_t i = 0; i < n; ++i) {
          if (labels[i] != c) continue;
          for (size_t j = 0; j < sum.size(); ++j) sum[j] += rows[i][j];
          ++count;
        }
        if (count == 0) continue;  // emptied cluster keeps its centre
        for (auto& v : sum) v /= double(count);
        centers[size_t(c)] = std::move(sum);
      }
    }
    double inertia = 0.0;
    for (size_t i = 0; i < n; ++i) inertia += sq_dist(rows[i], centers[size_t(labels[i])]);
    if (inertia < best.inertia) {
      best.inertia = inertia;
      best.labels = labels;
      best.centers = centers;
      best.n_iter = iter + 1;
    }
  }
  best.defined = true;
  return best;
}

Estimate silhouette_score(const Matrix& rows, const std::vector<int>& labels) {
  const size_t n = rows.size();
  LSC_CHECK(labels.size() == n);
  std::map<int, int64_t> sizes;
  for (int l : labels) ++sizes[l];
  const size_t n_labels = sizes.size();
  if (n_labels < 2 || n_labels + 1 > n) {
    return undefined_estimate(int64_t(n), "need 2 ≤ clusters ≤ n − 1 (sklearn raises)");
  }
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    std::map<int, double> dist_sum;
    for (size_t j = 0; j < n; ++j) {
      if (j != i) dist_sum[labels[j]] += std::sqrt(sq_dist(rows[i], rows[j]));
    }
    const int own = labels[i];
    if (sizes[own] == 1) continue;  // s(i) = 0
    const double a = dist_sum[own] / double(sizes[own] - 1);
    double b = std::numeric_limits<double>::infinity();
    for (const auto& [l, sz] : sizes) {
      if (l != own) b = std::min(b, dist_sum[l] / double(sz));
    }
    const double denom = std::max(a, b);
    if (denom > 0.0) total += (b - a) / denom;  // sklearn's nan_to_num turns 0/0 into 0
  }
  return Estimate{total / double(n), int64_t(n), true, ""};
}

}  // namespace lsc::stats
