// Exploratory multivariate views: PCA on standardized features (as sklearn StandardScaler + PCA),
// k-means (our own k-means++ init and Lloyd iterations, seeded), silhouette score
// (sklearn.metrics.silhouette_score, euclidean). Exploratory only: never used as evidence.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/stats/result.h"

namespace lsc::stats {

// rows[i] is the feature vector of sample i; all rows have the same length.
using Matrix = std::vector<std::vector<double>>;

struct PcaResult {
  bool defined = false;
  std::string note;
  int64_t n_samples = 0, n_features = 0;
  std::vector<double> mean, scale;         // StandardScaler: mean, population SD (1 if SD = 0)
  std::vector<double> explained_variance;  // S²/(n − 1), per component
  std::vector<double> explained_variance_ratio;
  Matrix components;  // [n_components][n_features] = sklearn components_
  Matrix scores;      // [n_samples][n_components] = transform(X)
};

// sklearn: PCA().fit(StandardScaler().fit_transform(X)) with svd_solver='full' and
// n_components = min(n_samples, n_features). Sign convention = sklearn 1.2 svd_flip
// (u_based_decision=True): in each score column the entry of largest |value| (first such row) is
// positive. Undefined: n_samples < 2, no features, or total variance zero.
PcaResult pca_standardized(const Matrix& rows);

struct KMeansResult {
  int k = 0;
  bool defined = false;
  std::string note;
  std::vector<int> labels;  // per sample, 0..k−1
  double inertia = 0.0;     // Σ squared distance to the assigned centre
  int n_iter = 0;           // Lloyd iterations of the chosen run
  Matrix centers;           // [k][n_features]
};

// k-means with n_init k-means++ starts (first centre uniform, next ∝ D²) and Lloyd iterations
// until labels stop changing (or max_iter); the run with the lowest inertia wins (first on ties).
// Distance ties go to the lower centre index; an emptied cluster keeps its previous centre.
// Undefined: k < 1 or fewer samples than k.
KMeansResult kmeans(const Matrix& rows, int k, uint64_t seed, int n_init = 10, int max_iter = 300);

// sklearn.metrics.silhouette_score(X, labels, metric='euclidean'): mean over samples of
// (b − a)/max(a, b); a sample alone in its cluster scores 0. Undefined unless
// 2 ≤ #distinct labels ≤ n − 1 (sklearn raises).
Estimate silhouette_score(const Matrix& rows, const std::vector<int>& labels);

}  // namespace lsc::stats
