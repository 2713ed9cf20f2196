// Hypothesis tests, effect sizes and BH q-values against SciPy 1.10 reference values
// (reference.json from make_reference.py). Tolerance 1e-9 relative for statistics and p-values:
// both sides evaluate the same closed forms in double, differing only in summation order
// (~n·2^-53) and in the special-function backends (SciPy's cephes vs Boost.Math, both ≲ 1e-14
// relative in the ranges used here).
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis/stats/effect_size.h"
#include "analysis/stats/hypothesis.h"
#include "analysis/stats/multiple_testing.h"
#include "stats/reference.h"

namespace lsc::stats {
namespace {

using testing::expect_rel;
using testing::reference;
using testing::vec;

constexpr double kRel = 1e-9;

void expect_matches(const TestResult& got, const io::Json& ref, const std::string& what) {
  const bool ref_defined = ref.at("defined").get<bool>();
  ASSERT_EQ(got.defined, ref_defined) << what << " (" << got.note << ")";
  if (!ref_defined) return;
  // what = "<test>@<case>": the error log groups by <test>.statistic / <test>.p.
  const std::string kind = what.substr(0, what.find('@')), where = what.substr(what.find('@'));
  expect_rel(got.statistic, ref.at("statistic").get<double>(), kRel, kind + ".statistic" + where);
  expect_rel(got.p_value, ref.at("pvalue").get<double>(), kRel, kind + ".p" + where);
}

TEST(StatsReference, WilcoxonAndPairedTMatchScipy) {
  for (const auto& c : reference().at("paired")) {
    const auto x = vec(c.at("x")), y = vec(c.at("y"));
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    expect_matches(wilcoxon_signed_rank(x, y), c.at("wilcoxon"), "wilcoxon@" + name);
    expect_matches(paired_t(x, y), c.at("ttest_rel"), "ttest_rel@" + name);
    const Estimate rb = rank_biserial_paired(x, y);
    ASSERT_EQ(rb.defined, c.contains("rank_biserial"));
    if (rb.defined)
      expect_rel(rb.value, c.at("rank_biserial").get<double>(), kRel, "rank_biserial@");
    const Estimate dz = cohens_dz(x, y);
    ASSERT_EQ(dz.defined, c.contains("d_z"));
    if (dz.defined) expect_rel(dz.value, c.at("d_z").get<double>(), kRel, "d_z@");
  }
}

TEST(StatsReference, WilcoxonMethodFollowsScipyAuto) {
  // n ≤ 50 without zeros → exact (ties allowed); zeros or n > 50 → approx.
  for (const auto& c : reference().at("paired")) {
    const auto x = vec(c.at("x")), y = vec(c.at("y"));
    const TestResult r = wilcoxon_signed_rank(x, y);
    if (!r.defined) continue;
    bool zeros = false;
    for (size_t i = 0; i < x.size(); ++i) zeros |= x[i] == y[i];
    EXPECT_EQ(r.method, (x.size() <= 50 && !zeros) ? "exact" : "approx") << c.at("name");
  }
}

bool has_ties(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) != v.end();
}

TEST(StatsReference, MannWhitneyAndKendallMethodsFollowScipyAuto) {
  int n_exact = 0;
  for (const auto& c : reference().at("two_sample")) {
    const auto x = vec(c.at("x")), y = vec(c.at("y"));
    const TestResult r = mann_whitney_u(x, y);
    if (!r.defined) continue;
    std::vector<double> xy = x;
    xy.insert(xy.end(), y.begin(), y.end());
    const bool exact = !(x.size() > 8 && y.size() > 8) && !has_ties(xy);
    EXPECT_EQ(r.method, exact ? "exact" : "asymptotic") << c.at("name");
    n_exact += exact;
  }
  EXPECT_GE(n_exact, 4);  // the fixture exercises the exact path, n1 < n2 and n1 > n2
  for (const auto& c : reference().at("correlation")) {
    const auto x = vec(c.at("x")), y = vec(c.at("y"));
    const TestResult r = kendall_tau_b(x, y);
    if (!r.defined) continue;
    const bool no_ties = !has_ties(x) && !has_ties(y);
    if (no_ties && x.size() <= 33) {
      EXPECT_EQ(r.method, "exact") << c.at("name");
    }
    if (!no_ties) {
      EXPECT_EQ(r.method, "asymptotic") << c.at("name");
    }
  }
}

TEST(StatsReference, FriedmanMatchesScipy) {
  for (const auto& c : reference().at("friedman")) {
    std::vector<std::vector<double>> groups;
    for (const auto& g : c.at("groups")) groups.push_back(vec(g));
    expect_matches(friedman(groups), c.at("result"), "friedman@" + c.at("name").get<std::string>());
  }
}

TEST(StatsReference, MannWhitneyWelchAndEffectSizesMatchScipy) {
  for (const auto& c : reference().at("two_sample")) {
    const auto x = vec(c.at("x")), y = vec(c.at("y"));
    const std::string name = c.at("name").get<std::string>();
    expect_matches(mann_whitney_u(x, y), c.at("mannwhitneyu"), "mannwhitneyu@" + name);
    expect_matches(welch_t(x, y), c.at("welch"), "welch@" + name);
    const Estimate cd = cliffs_delta(x, y);
    ASSERT_EQ(cd.defined, c.contains("cliffs_delta")) << name;
    if (cd.defined) expect_rel(cd.value, c.at("cliffs_delta").get<double>(), kRel, "cliffs_delta@");
    const Estimate d = cohens_d(x, y);
    ASSERT_EQ(d.defined, c.contains("cohens_d")) << name;
    if (d.defined) expect_rel(d.value, c.at("cohens_d").get<double>(), kRel, "cohens_d@");
  }
}

TEST(StatsReference, SpearmanAndKendallMatchScipy) {
  for (const auto& c : reference().at("correlation")) {
    const auto x = vec(c.at("x")), y = vec(c.at("y"));
    const std::string name = c.at("name").get<std::string>();
    const TestResult s = spearman(x, y);
    const auto& sr = c.at("spearmanr");
    ASSERT_EQ(s.defined, sr.at("defined").get<bool>()) << name;
    if (s.defined) {
      expect_rel(s.statistic, sr.at("statistic").get<double>(), kRel, "spearman.statistic@");
      // |ρ| = 1: SciPy's ρ is 1 − 2^-52 from rounding in corrcoef, so its t (~1e8) and p (~0)
      // are rounding artefacts; we check only that both p-values are below 1e-12.
      if (std::fabs(sr.at("statistic").get<double>()) > 1.0 - 1e-12) {
        EXPECT_LT(s.p_value, 1e-12);
        EXPECT_LT(sr.at("pvalue").get<double>(), 1e-12);
      } else {
        // Near |ρ| = 1 the p-value amplifies the last-bit rounding of ρ (SciPy: corrcoef; we: a
        // direct sum): in the t tail p ∝ t^−df and d ln t/dρ = 1/(ρ(1−ρ²)), so
        // δp/p ≈ df·δρ/(|ρ|(1−ρ²)) with δρ ≤ 4·2^-53. Added to 1e-9; it matters only for the
        // n = 100 case with one discordant pair (1 − ρ ≈ 1.2e-5 → ~1.8e-9).
        const double rho = sr.at("statistic").get<double>(), df = double(x.size()) - 2.0;
        const double tol = kRel + df * 4.0 * 0x1p-53 / (std::fabs(rho) * (1.0 - rho * rho));
        expect_rel(s.p_value, sr.at("pvalue").get<double>(), tol, "spearman.p@" + name);
      }
    }
    expect_matches(kendall_tau_b(x, y), c.at("kendalltau"), "kendalltau@" + name);
  }
}

TEST(StatsReference, FisherAndChiSquareMatchScipy) {
  for (const auto& c : reference().at("tables")) {
    const auto t = c.at("table");
    const Table2x2 tab{{{t[0][0].get<int64_t>(), t[0][1].get<int64_t>()},
                        {t[1][0].get<int64_t>(), t[1][1].get<int64_t>()}}};
    expect_matches(fisher_exact(tab), c.at("fisher_exact"), "fisher_exact@" + t.dump());
    expect_matches(chi2_yates(tab), c.at("chi2_contingency"), "chi2_contingency@" + t.dump());
  }
}

TEST(StatsReference, BenjaminiHochbergMatchesStepUpFormula) {
  for (const auto& c : reference().at("bh")) {
    const auto q = bh_qvalues(vec(c.at("p")));
    const auto ref = vec(c.at("q"));
    ASSERT_EQ(q.size(), ref.size());
    for (size_t i = 0; i < q.size(); ++i) expect_rel(q[i], ref[i], 1e-12, "bh_q");
  }
}

TEST(StatsEdgeCases, UndefinedInputsAreExplicit) {
  const std::vector<double> empty, one{1.0}, same{2.0, 2.0, 2.0, 2.0};
  EXPECT_FALSE(wilcoxon_signed_rank(empty, empty).defined);
  EXPECT_FALSE(wilcoxon_signed_rank(same, same).defined);  // every difference zero
  EXPECT_FALSE(paired_t(one, one).defined);                // n < 2
  EXPECT_FALSE(mann_whitney_u(one, empty).defined);        // one group empty
  EXPECT_FALSE(welch_t(one, same).defined);
  EXPECT_FALSE(spearman(same, same).defined);  // constant
  EXPECT_FALSE(kendall_tau_b(same, same).defined);
  EXPECT_FALSE(friedman({same, same}).defined);        // k < 3
  EXPECT_FALSE(friedman({same, same, same}).defined);  // all tied in every subject
  EXPECT_FALSE(cliffs_delta(empty, same).defined);
  EXPECT_FALSE(cohens_d(same, same).defined);  // pooled SD 0
  EXPECT_FALSE(cohens_dz(same, same).defined);
  EXPECT_FALSE(rank_biserial_paired(same, same).defined);
  const TestResult mw = mann_whitney_u(same, same);  // SciPy: U = n1n2/2, p = 1
  EXPECT_TRUE(mw.defined);
  EXPECT_EQ(mw.p_value, 1.0);
  for (const auto& r :
       {wilcoxon_signed_rank(same, same), paired_t(one, one), spearman(same, same)}) {
    EXPECT_TRUE(std::isnan(r.p_value));
    EXPECT_FALSE(r.note.empty());
  }
}

TEST(StatsEdgeCases, BhSkipsUndefinedAndCapsAtOne) {
  const std::vector<double> p{0.01, kNaN, 0.02, 0.9};
  const auto q = bh_qvalues(p);
  EXPECT_TRUE(std::isnan(q[1]));
  EXPECT_DOUBLE_EQ(q[0], 0.03);  // m = 3 defined p-values: 3·0.01/1
  EXPECT_DOUBLE_EQ(q[2], 0.03);  // 3·0.02/2
  EXPECT_DOUBLE_EQ(q[3], 0.9);
  EXPECT_LE(bh_qvalues(std::vector<double>{1.0, 1.0})[0], 1.0);
}

}  // namespace
}  // namespace lsc::stats
