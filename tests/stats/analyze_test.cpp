// analyze() on synthetic inputs: a planted effect is found (q < 0.01), null families mostly are
// not, the document is byte-for-byte deterministic, and edge cases give explicit undefined rows.
#include "analysis/stats/analyze.h"

#include <gtest/gtest.h>

#include <map>

#include <cmath>
#include <iostream>
#include <limits>

#include "analysis/stats/bootstrap.h"
#include "analysis/stats/result.h"
#include "io/error.h"

namespace lsc::stats {
namespace {

using Json = nlohmann::json;

// "t<i>" built by append: GCC 12 raises a false -Wrestrict on "t" + std::to_string(i).
std::string text_id(size_t i) {
  std::string id = "t";
  id += std::to_string(i);
  return id;
}

// Standard normal draws from our RNG (Box-Muller), so the fixture is fixed by a seed.
struct Normal {
  Rng rng;
  explicit Normal(uint64_t seed) : rng(seed) {}
  double operator()() {
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
};

// 3 models × 5 families × 3 measures over n texts. Family "wait": rl = sft + 1 + |noise| on
// every text and measure (a planted, consistent increase). Other families: pure noise.
StatsInput synthetic(size_t n_texts, uint64_t seed = 1) {
  StatsInput in;
  in.models = {"base", "sft", "rl"};
  in.families = {"wait", "hmm", "check", "so", "all"};
  in.measures = {"rate_per_1k", "logp_at_occurrence", "entropy"};
  Normal z(seed);
  for (size_t t = 0; t < n_texts; ++t) {
    in.texts.push_back({text_id(t), int(t % 5) + 1, int(t % 3 != 0)});
  }
  in.values.resize(n_texts * 3 * 5 * 3);
  for (size_t t = 0; t < n_texts; ++t) {
    for (size_t f = 0; f < 5; ++f) {
      for (size_t k = 0; k < 3; ++k) {
        const double text_effect = z();  // shared across models: the pairing matters
        for (size_t m = 0; m < 3; ++m) {
          double v = text_effect + 0.5 * z();
          if (f == 0 && m == 2)
            v = in.values[((t * 3 + 1) * 5 + f) * 3 + k] + 1.0 + std::fabs(0.2 * z());
          in.values[((t * 3 + m) * 5 + f) * 3 + k] = v;
        }
      }
    }
  }
  for (size_t t = 0; t < n_texts; ++t) {
    for (size_t f = 0; f < 5; ++f) in.present.push_back(uint8_t((t + f) % 4 != 0));
  }
  return in;
}

StatsOptions fast() {
  StatsOptions o;
  o.n_bootstrap = 500;  // keeps the test quick; the default 10000 is exercised in bootstrap_test
  return o;
}

TEST(Analyze, PlantedEffectHasSmallQ) {
  const Json doc = analyze(synthetic(40), fast());
  int planted = 0;
  for (const auto& r : doc["model_comparisons"]) {
    if (r["family"] != "wait" || r["model_a"] != "sft" || r["model_b"] != "rl") continue;
    ++planted;
    EXPECT_EQ(r["n"], 40);
    EXPECT_LT(r["wilcoxon"]["q"].get<double>(), 0.01);
    EXPECT_LT(r["paired_t"]["q"].get<double>(), 0.01);
    EXPECT_GT(r["mean_diff_ci"][0].get<double>(), 0.0);  // CI excludes 0
    EXPECT_EQ(r["rank_biserial"].get<double>(), 1.0);    // rl above sft on every text
  }
  EXPECT_EQ(planted, 3);
}

TEST(Analyze, NullFamiliesMostlyNotSignificant) {
  const Json doc = analyze(synthetic(40), fast());
  int n_null = 0, n_sig = 0;
  for (const auto& r : doc["model_comparisons"]) {
    if (r["family"] == "wait" && r["model_b"] == "rl") continue;  // planted rows
    ++n_null;
    n_sig += r["wilcoxon"]["q"].get<double>() < 0.05;
  }
  std::cout << "null comparisons with Wilcoxon q < 0.05: " << n_sig << " of " << n_null << "\n";
  EXPECT_LE(n_sig, n_null / 10);
}

TEST(Analyze, DocumentIsByteIdenticalAcrossRuns) {
  const StatsInput in = synthetic(30, 5);
  const std::string a = analyze(in, fast()).dump(1), b = analyze(in, fast()).dump(1);
  EXPECT_EQ(a, b);
  EXPECT_EQ(render_markdown(analyze(in, fast())), render_markdown(analyze(in, fast())));
}

TEST(Analyze, EveryRowHasNAndSmallNFlag) {
  StatsOptions o = fast();
  o.min_n = 25;
  const Json doc = analyze(synthetic(20), o);
  for (const auto* section : {&doc["model_comparisons"], &doc["friedman"],
                              &doc["difficulty"]["correlations"], &doc["difficulty"]["level_means"],
                              &doc["correctness"]["groups"], &doc["correctness"]["presence"]}) {
    ASSERT_FALSE(section->empty());
    for (const auto& r : *section) {
      ASSERT_TRUE(r.contains("n")) << r.dump();
      EXPECT_TRUE(r["small_n"].get<bool>()) << r.dump();  // every n ≤ 20 < 25
    }
  }
}

TEST(Analyze, BhFamiliesCountDefinedTests) {
  const Json doc = analyze(synthetic(30), fast());
  const auto& fams = doc["test_families"];
  EXPECT_EQ(fams["model_comparisons.wilcoxon"]["m"], 5 * 3 * 3);  // families × measures × pairs
  EXPECT_EQ(fams["friedman"]["m"], 5 * 3);
  EXPECT_EQ(fams["difficulty.spearman"]["m"], 5 * 3 * 3);
  EXPECT_EQ(fams["presence.fisher"]["m"], 5);
  // q ≥ p for every test, and within [0, 1].
  for (const auto& r : doc["model_comparisons"]) {
    EXPECT_GE(r["wilcoxon"]["q"].get<double>(), r["wilcoxon"]["p"].get<double>());
    EXPECT_LE(r["wilcoxon"]["q"].get<double>(), 1.0);
  }
}

// A measure with BH families of its own (the lens's emergence depth): the other measures' tests
// keep the q-values they have without it.
TEST(Analyze, AMeasureInItsOwnFamiliesLeavesTheOthersQValues) {
  const StatsInput with = [] {
    StatsInput in = synthetic(30);
    in.own_family_measures = {"entropy"};
    return in;
  }();
  StatsInput without = synthetic(30);  // the same values without the third measure
  without.measures.pop_back();
  without.values.clear();
  for (size_t i = 0; i < with.values.size(); ++i) {
    if (i % 3 != 2) without.values.push_back(with.values[i]);
  }
  const Json a = analyze(with, fast()), b = analyze(without, fast());
  EXPECT_EQ(a["test_families"]["model_comparisons.wilcoxon"]["m"], 5 * 2 * 3);
  EXPECT_EQ(a["test_families"]["model_comparisons.wilcoxon.entropy"]["m"], 5 * 3);
  EXPECT_EQ(a["test_families"]["difficulty.kendall.entropy"]["m"], 5 * 3);
  std::map<std::string, double> q_without;
  for (const auto& r : b["model_comparisons"]) {
    q_without[r["family"].get<std::string>() + r["measure"].get<std::string>() + r["model_a"].get<std::string>() +
              r["model_b"].get<std::string>()] = r["wilcoxon"]["q"].get<double>();
  }
  size_t compared = 0;
  for (const auto& r : a["model_comparisons"]) {
    if (r["measure"] == "entropy") continue;
    const std::string key = r["family"].get<std::string>() + r["measure"].get<std::string>() +
                            r["model_a"].get<std::string>() + r["model_b"].get<std::string>();
    EXPECT_EQ(r["wilcoxon"]["q"].get<double>(), q_without.at(key)) << key;
    ++compared;
  }
  EXPECT_EQ(compared, 5u * 2 * 3);
}

TEST(Analyze, UndefinedValuesReduceN) {
  StatsInput in = synthetic(30);
  // Model base has no "wait" value for the first 12 texts (e.g. no occurrence).
  for (size_t t = 0; t < 12; ++t) {
    for (size_t k = 0; k < 3; ++k) in.values[((t * 3 + 0) * 5 + 0) * 3 + k] = kNaN;
  }
  const Json doc = analyze(in, fast());
  for (const auto& r : doc["model_comparisons"]) {
    if (r["family"] == "wait" && r["model_a"] == "base") {
      EXPECT_EQ(r["n"], 18);
    }
  }
  for (const auto& r : doc["friedman"]) {
    if (r["family"] == "wait") {
      EXPECT_EQ(r["n"], 18);
    }
  }
  // Columns with NaN are dropped from the exploratory features, and say why.
  EXPECT_EQ(doc["exploratory"]["dropped_features"].size(), 3u);
}

TEST(Analyze, EdgeCasesGiveExplicitUndefinedRows) {
  StatsInput in;
  in.models = {"sft", "rl"};
  in.families = {"wait"};
  in.measures = {"rate_per_1k"};
  // 3 texts, all level 2 (levels 1, 3, 4, 5 empty), all correct (incorrect group empty),
  // identical values for both models (every difference zero), all values equal.
  for (int t = 0; t < 3; ++t) in.texts.push_back({text_id(size_t(t)), 2, 1});
  in.values.assign(3 * 2, 4.0);
  in.present = {1, 1, 1};
  const Json doc = analyze(in, fast());
  const auto& mc = doc["model_comparisons"][0];
  EXPECT_FALSE(mc["wilcoxon"]["defined"].get<bool>());
  EXPECT_TRUE(mc["wilcoxon"]["p"].is_null());
  EXPECT_FALSE(mc["wilcoxon"]["note"].get<std::string>().empty());
  EXPECT_TRUE(mc["wilcoxon"]["q"].is_null());
  EXPECT_FALSE(mc["paired_t"]["defined"].get<bool>());
  EXPECT_TRUE(mc["d_z"].is_null());
  EXPECT_EQ(mc["mean_diff"], 0.0);
  EXPECT_TRUE(doc["friedman"].empty());  // only 2 models
  for (const auto& r : doc["difficulty"]["correlations"])
    EXPECT_FALSE(r["spearman"]["defined"].get<bool>());
  int empty_levels = 0;
  for (const auto& r : doc["difficulty"]["level_means"]) {
    if (r["n"] == 0) {
      ++empty_levels;
      EXPECT_TRUE(r["mean"].is_null());
      EXPECT_TRUE(r["ci"].is_null());
    }
  }
  EXPECT_EQ(empty_levels, 2 * 4);  // 2 models × levels 1, 3, 4, 5
  for (const auto& r : doc["correctness"]["groups"]) {
    EXPECT_EQ(r["n_incorrect"], 0);
    EXPECT_FALSE(r["mann_whitney"]["defined"].get<bool>());
    EXPECT_TRUE(r["cliffs_delta"].is_null());
  }
  EXPECT_FALSE(doc["correctness"]["presence"][0]["fisher"]["defined"].get<bool>());
  // Exploratory: every feature constant → PCA undefined with a note, no k-means.
  EXPECT_FALSE(doc["exploratory"]["pca"]["defined"].get<bool>());
  EXPECT_EQ(doc["test_families"]["model_comparisons.wilcoxon"]["m"], 0);
  const std::string md = render_markdown(doc);
  EXPECT_NE(md.find("small n"), std::string::npos);
}

TEST(Analyze, FewerTextsThanKLeavesThoseKUndefined) {
  const Json doc = analyze(synthetic(4), fast());
  const auto& km = doc["exploratory"]["kmeans"];
  ASSERT_EQ(km.size(), 5u);                    // k = 2..6
  EXPECT_TRUE(km[0]["defined"].get<bool>());   // k = 2 ≤ n − 1 = 3
  EXPECT_TRUE(km[1]["defined"].get<bool>());   // k = 3
  EXPECT_FALSE(km[2]["defined"].get<bool>());  // k = 4 > n − 1
  EXPECT_FALSE(km[4]["defined"].get<bool>());
}

TEST(Analyze, RejectsInconsistentInput) {
  StatsInput in = synthetic(5);
  in.values.pop_back();
  EXPECT_THROW(analyze(in, fast()), InputError);
  in = synthetic(5);
  in.texts[2].level = 7;
  EXPECT_THROW(analyze(in, fast()), InputError);
}

TEST(Analyze, InfiniteValuesCountAsUndefinedAndAreReported) {
  StatsInput in = synthetic(20);
  in.values[((3 * 3 + 1) * 5 + 0) * 3 + 0] =
      -std::numeric_limits<double>::infinity();  // text 3, sft
  const Json doc = analyze(in, fast());
  EXPECT_EQ(doc["n_infinite_values_as_undefined"], 1);
  for (const auto& r : doc["model_comparisons"]) {
    if (r["family"] == "wait" && r["measure"] == "rate_per_1k" && r["model_b"] == "sft") {
      EXPECT_EQ(r["n"], 19);
      EXPECT_TRUE(r["paired_t"]["defined"].get<bool>());
    }
  }
}

TEST(Analyze, MarkdownHasEverySection) {
  const std::string md = render_markdown(analyze(synthetic(25), fast()));
  for (const char* h :
       {"## Model comparisons", "## Friedman", "## Difficulty", "### Per-level means",
        "## Correctness", "### Keyword presence", "## Exploratory", "## Test families"}) {
    EXPECT_NE(md.find(h), std::string::npos) << h;
  }
}

}  // namespace
}  // namespace lsc::stats
