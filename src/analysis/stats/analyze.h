// The analysis plan of `logitscope stats` (DESIGN §3): from per-text values (the text is the unit
// of analysis) to the stats.json document and its stats.md rendering. Knows texts, models,
// keyword families and measures; not tokens, logits or files (the caller reads and writes those).
//
// Tests and their BH families (q-values are computed within each family, over the defined tests):
//   model_comparisons.wilcoxon, model_comparisons.paired_t — every family × measure × model pair
//   friedman                                              — every family × measure (≥ 3 models)
//   difficulty.spearman, difficulty.kendall               — every family × measure × model
//   correctness.mann_whitney, correctness.welch           — every family × measure × model
//   presence.fisher, presence.chi2                        — every keyword family
// The same list, with each family's size, is written into the document ("test_families").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"

namespace lsc::stats {

struct StatsInput {
  std::vector<std::string> models;    // run order, e.g. base, sft, rl
  std::vector<std::string> families;  // keyword families, plus "all" (all answer tokens)
  std::vector<std::string> measures;  // e.g. "logp_at_occurrence", "rate_per_1k", "kl_to_<model>"
  // Measures tested in Benjamini-Hochberg families of their own ("<family>.<measure>"), so that
  // adding them (the logit lens's emergence depth, with --lens) leaves the other tests' q-values
  // as they were.
  std::vector<std::string> own_family_measures;
  struct Text {
    std::string id;
    int level = 0;     // 1..5, 0 = unknown
    int correct = -1;  // 1, 0, -1 = unknown
  };
  std::vector<Text> texts;
  std::vector<double> values;    // [text][model][family][measure] row-major; NaN = undefined
  std::vector<uint8_t> present;  // [text][family]: keyword occurs in the answer (1/0)
  double value(size_t text, size_t model, size_t family, size_t measure) const;
  // Throws InputError when sizes or codes (level, correct, present) are inconsistent.
  void validate() const;
};

struct StatsOptions {
  int n_bootstrap = 10000;
  uint64_t seed = 20261129;
  int64_t min_n = 10;  // rows with n below are flagged small_n (never hidden)
  double ci_level = 0.95;  // bootstrap percentile interval
  int kmeans_n_init = 10;
  int kmeans_k_max = 6;  // k = 2..kmeans_k_max
};

// Seed keys of the bootstrap CIs: every interval is bootstrap_mean_ci (or _paired_diff_ci) with
// derive_seed(options.seed, key), so the report, which draws its intervals from the same keys and
// options, prints the same interval as stats.json for the same group of texts.
//   group 0 = all texts ("mean/F/K/M"), 1..5 = that level ("level/F/K/M/L"),
//   6 = correct texts ("correct/F/K/M"), 7 = incorrect texts ("incorrect/F/K/M").
std::string mean_ci_key(int group, const std::string& family, const std::string& measure,
                        const std::string& model);
// The paired difference b − a of a model pair ("pairs/F/K/A/B").
std::string pair_ci_key(const std::string& family, const std::string& measure, const std::string& model_a,
                        const std::string& model_b);

// The whole stats.json document. Deterministic: the same input gives byte-identical dump().
// Throws InputError for inconsistent sizes/codes. ±inf values are treated as undefined (NaN) and
// counted in "n_infinite_values_as_undefined".
nlohmann::json analyze(const StatsInput& in, const StatsOptions& opt);

// Readable stats.md tables from an analyze() document.
std::string render_markdown(const nlohmann::json& stats);

}  // namespace lsc::stats
