// PCA and silhouette against scikit-learn 1.2 (reference.json); k-means determinism.
// PCA: explained variance (ratio) to 1e-9 relative — SVD of the same standardized matrix, LAPACK
// (gesdd) vs Eigen's Jacobi SVD; singular values are well conditioned (perturbation ≤ ‖ΔX‖₂).
// Components/scores to 1e-7 absolute: singular vectors' error scales with 1/gap between singular
// values (Davis-Kahan); the fixtures' smallest relative gap is > 1e-2, so ~1e-13 expected.
#include "analysis/stats/multivariate.h"

#include <gtest/gtest.h>

#include "stats/reference.h"

namespace lsc::stats {
namespace {

using testing::expect_rel;
using testing::reference;
using testing::vec;

Matrix matrix(const io::Json& j) {
  Matrix m;
  for (const auto& r : j) m.push_back(vec(r));
  return m;
}

TEST(StatsReference, PcaMatchesSklearn) {
  for (const auto& c : reference().at("pca")) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    const PcaResult p = pca_standardized(matrix(c.at("X")));
    ASSERT_TRUE(p.defined) << p.note;
    const auto ev = vec(c.at("explained_variance")), ratio = vec(c.at("explained_variance_ratio"));
    ASSERT_EQ(p.explained_variance.size(), ev.size());
    // Components beyond the rank (n ≤ p: the last one) have zero variance; compare absolutely.
    for (size_t i = 0; i < ev.size(); ++i) {
      if (ratio[i] > 1e-12) {
        expect_rel(p.explained_variance[i], ev[i], 1e-9, "pca.explained_variance");
        expect_rel(p.explained_variance_ratio[i], ratio[i], 1e-9, "pca.explained_variance_ratio");
      } else {
        EXPECT_LT(p.explained_variance_ratio[i], 1e-12);
      }
    }
    const Matrix comp = matrix(c.at("components")), scores = matrix(c.at("scores"));
    for (size_t k = 0; k < comp.size(); ++k) {
      if (ratio[k] < 1e-12) continue;  // null-space directions are arbitrary
      for (size_t j = 0; j < comp[k].size(); ++j) EXPECT_NEAR(p.components[k][j], comp[k][j], 1e-7);
      for (size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(p.scores[i][k], scores[i][k], 1e-7);
    }
  }
}

TEST(StatsReference, SilhouetteMatchesSklearn) {
  for (const auto& c : reference().at("silhouette")) {
    const Estimate s = silhouette_score(matrix(c.at("X")), c.at("labels").get<std::vector<int>>());
    ASSERT_TRUE(s.defined);
    expect_rel(s.value, c.at("silhouette").get<double>(), 1e-9, "silhouette");
  }
}

TEST(KMeans, DeterministicForSeedAndFindsSeparatedBlobs) {
  const Matrix x = matrix(reference().at("silhouette")[0].at("X"));  // 3 blobs of 10
  const KMeansResult a = kmeans(x, 3, 11), b = kmeans(x, 3, 11);
  ASSERT_TRUE(a.defined);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.inertia, b.inertia);
  // Blobs 2 apart with sd 0.7: the best of 10 inits recovers them up to label names.
  for (int blob = 0; blob < 3; ++blob) {
    int agree = 0;
    for (int i = 0; i < 10; ++i)
      agree += a.labels[size_t(blob * 10 + i)] == a.labels[size_t(blob * 10)];
    EXPECT_GE(agree, 8);
  }
}

TEST(KMeans, EdgeCasesAreDefined) {
  const Matrix two{{0.0, 1.0}, {1.0, 0.0}};
  EXPECT_FALSE(kmeans(two, 3, 1).defined);  // fewer samples than k
  const Matrix same{{1.0}, {1.0}, {1.0}, {1.0}};
  const KMeansResult k = kmeans(same, 2, 1);
  EXPECT_TRUE(k.defined);
  EXPECT_FALSE(silhouette_score(same, std::vector<int>{0, 0, 0, 0}).defined);  // one cluster
  const PcaResult p = pca_standardized(same);                                  // constant feature
  EXPECT_FALSE(p.defined);
  EXPECT_FALSE(p.note.empty());
}

}  // namespace
}  // namespace lsc::stats
