// Report sections 4-6 (and the keyword × model-pair heatmap of section 8): per-text measures
// (the unit of analysis, DESIGN §3) as the statistics define them (results/stats_input.h), their
// group means with the statistics library's 95% percentile-bootstrap CIs over texts (the same
// seed keys and options as stats.json, so both print the same interval for the same group),
// paired differences between models, and a bounded sample of per-text values.
#include <algorithm>

#include "analysis/stats/analyze.h"
#include "analysis/stats/bootstrap.h"
#include "report/report_data.h"
#include "results/stats_input.h"

namespace lsc::report {

namespace {

// Per-text measures; the extra family index F ("all tokens") holds the all-answer-token analogue.
// Each is a measure of the statistics (stats_measure), except the first-token log p, which the
// report alone shows (its CIs are keyed as the statistics would key a measure "logp_first").
enum Measure { kRate, kLpWord, kLpFirst, kProp, kEntBefore, kKlAt, kNumMeasures };
constexpr const char* kMeasureKeys[] = {"rate", "lp_word",    "lp_first",
                                        "prop", "ent_before", "kl_at"};
constexpr const char* kStatsMeasures[] = {"rate_per_1k", "logp",    "logp_first",
                                          "propensity",  "entropy", "kl"};
constexpr const char* kMeasureLabels[] = {"occurrences per 1k answer tokens",
                                          "mean log p of the whole keyword (nats)",
                                          "mean log p of the keyword's first token (nats)",
                                          "mean propensity over answer positions",
                                          "mean entropy of the row predicting the keyword (nats)",
                                          "mean KL to the other models at the keyword (nats)"};
constexpr const char* kAllTokensLabels[] = {"",
                                            "mean log p of every answer token",
                                            "mean log p of every answer token",
                                            "",
                                            "mean entropy over answer tokens",
                                            "mean over the other models of the mean KL over answer tokens"};
// Groups of texts the means are computed over (stats::mean_ci_key's group numbers).
constexpr int kNumGroups = 8;             // all, level 1..5, correct, incorrect
constexpr size_t kMaxSampleTexts = 1500;  // per-text values embedded for box plots and scatters

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

// The per-text values: the statistics' input, plus the first-token log p.
class Values {
 public:
  explicit Values(const results::RunAggregates& agg) : agg_(agg), in_(results::build_stats_input(agg)) {
    for (int k = 0; k < kNumMeasures; ++k) {
      const auto it = std::find(in_.measures.begin(), in_.measures.end(), kStatsMeasures[k]);
      stats_index_[k] = it == in_.measures.end() ? -1 : int(it - in_.measures.begin());
    }
  }
  const stats::StatsInput& input() const { return in_; }
  // NaN where undefined (±inf counts as undefined, as in the statistics).
  double operator()(size_t t, size_t m, size_t f, int k) const {
    double v = kNaN;
    if (stats_index_[k] >= 0) {
      v = in_.value(t, m, f, size_t(stats_index_[k]));
    } else if (f < agg_.families.size()) {
      v = mean_of(agg_.per_text[t][m].lp_first[f]);
    } else {
      const results::TextModelAgg& a = agg_.per_text[t][m];
      v = a.n_answer ? a.sum_logprob / double(a.n_answer) : kNaN;
    }
    return std::isfinite(v) ? v : kNaN;
  }

 private:
  const results::RunAggregates& agg_;
  stats::StatsInput in_;
  int stats_index_[kNumMeasures];
};

bool in_group(const results::TextInfo& t, int g) {
  if (g == 0) return true;
  if (g <= 5) return t.level == g;
  return t.is_correct == (g == 6 ? 1 : 0);
}

int digits_of(int k) { return k == kProp || k == kKlAt ? -4 : 3; }

}  // namespace

io::Json build_measures(const results::RunAggregates& agg, const ReportOptions& opt) {
  const size_t M = agg.models.size(), F = agg.families.size(), N = agg.texts.size();
  io::Json j;
  j["keys"] = kMeasureKeys;
  j["labels"] = kMeasureLabels;
  j["all_tokens_labels"] = kAllTokensLabels;
  j["groups"] = {"all texts", "level 1", "level 2", "level 3",
                 "level 4",   "level 5", "correct", "incorrect"};
  const stats::StatsOptions& so = opt.stats;
  j["n_bootstrap"] = so.n_bootstrap;
  j["ci_rule"] = std::to_string(int(std::lround(so.ci_level * 100))) +
                 "% percentile bootstrap over texts (" + std::to_string(so.n_bootstrap) +
                 " resamples, seed " + std::to_string(so.seed) + ", as in stats.json)";
  const Values value(agg);
  const stats::StatsInput& in = value.input();
  // Every interval is independent (its own derived seed), so they are computed in parallel and
  // placed afterwards: the file does not depend on the thread count.
  // cells[k][g][m][f] = [n, mean, lo, hi]; f == F is "all tokens".
  const size_t n_cells = size_t(kNumMeasures) * kNumGroups * M * (F + 1);
  std::vector<MeanCi> cell_ci(n_cells);
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < int64_t(n_cells); ++i) {
    const size_t f = size_t(i) % (F + 1), m = size_t(i) / (F + 1) % M;
    const int g = int(size_t(i) / ((F + 1) * M) % kNumGroups), k = int(size_t(i) / ((F + 1) * M * kNumGroups));
    std::vector<double> x;
    for (size_t t = 0; t < N; ++t) {
      const double v = value(t, m, f, k);
      if (in_group(agg.texts[t], g) && !std::isnan(v)) x.push_back(v);
    }
    const std::string key = stats::mean_ci_key(g, in.families[f], kStatsMeasures[k], in.models[m]);
    cell_ci[size_t(i)] =
        to_mean_ci(stats::bootstrap_mean_ci(x, so.n_bootstrap, stats::derive_seed(so.seed, key), so.ci_level));
  }
  io::Json cells = io::Json::array();
  for (int k = 0; k < kNumMeasures; ++k) {
    io::Json per_g = io::Json::array();
    for (int g = 0; g < kNumGroups; ++g) {
      io::Json per_m = io::Json::array();
      for (size_t m = 0; m < M; ++m) {
        io::Json per_f = io::Json::array();
        for (size_t f = 0; f <= F; ++f) {
          per_f.push_back(ci_json(cell_ci[((size_t(k) * kNumGroups + size_t(g)) * M + m) * (F + 1) + f], digits_of(k)));
        }
        per_m.push_back(per_f);
      }
      per_g.push_back(per_m);
    }
    cells.push_back(per_g);
  }
  j["cells"] = cells;
  // Paired differences b − a over texts where both are defined: diff[k][pair][f].
  io::Json pairs = io::Json::array(), diff = io::Json::array();
  for (size_t a = 0; a < M; ++a) {
    for (size_t b = a + 1; b < M; ++b) pairs.push_back({a, b});
  }
  std::vector<std::pair<size_t, size_t>> pair_idx;
  for (const auto& p : pairs) pair_idx.emplace_back(p[0].get<size_t>(), p[1].get<size_t>());
  const size_t P = pair_idx.size(), n_diffs = size_t(kNumMeasures) * P * (F + 1);
  std::vector<MeanCi> diff_ci(n_diffs);
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < int64_t(n_diffs); ++i) {
    const size_t f = size_t(i) % (F + 1), p = size_t(i) / (F + 1) % P;
    const int k = int(size_t(i) / ((F + 1) * P));
    const auto [a, b] = pair_idx[p];
    std::vector<double> xa, xb;
    for (size_t t = 0; t < N; ++t) {
      const double va = value(t, a, f, k), vb = value(t, b, f, k);
      if (!std::isnan(va) && !std::isnan(vb)) {
        xa.push_back(va);
        xb.push_back(vb);
      }
    }
    const std::string key = stats::pair_ci_key(in.families[f], kStatsMeasures[k], in.models[a], in.models[b]);
    diff_ci[size_t(i)] = to_mean_ci(
        stats::bootstrap_paired_diff_ci(xb, xa, so.n_bootstrap, stats::derive_seed(so.seed, key), so.ci_level));
  }
  for (int k = 0; k < kNumMeasures; ++k) {
    io::Json per_p = io::Json::array();
    for (size_t p = 0; p < P; ++p) {
      io::Json per_f = io::Json::array();
      for (size_t f = 0; f <= F; ++f) per_f.push_back(ci_json(diff_ci[(size_t(k) * P + p) * (F + 1) + f], digits_of(k)));
      per_p.push_back(per_f);
    }
    diff.push_back(per_p);
  }
  j["pairs"] = pairs;
  j["diff"] = diff;
  // A bounded, evenly spaced sample of texts with their per-text values: sample[k][m][f][i].
  std::vector<size_t> sample;
  const size_t step = std::max<size_t>(1, (N + kMaxSampleTexts - 1) / kMaxSampleTexts);
  for (size_t t = 0; t < N; t += step) sample.push_back(t);
  io::Json rows = io::Json::array();
  for (size_t t : sample) rows.push_back(t);
  io::Json vals = io::Json::array();
  for (int k = 0; k < kNumMeasures; ++k) {
    io::Json per_m = io::Json::array();
    for (size_t m = 0; m < M; ++m) {
      io::Json per_f = io::Json::array();
      for (size_t f = 0; f <= F; ++f) {
        io::Json v = io::Json::array();
        for (size_t t : sample) v.push_back(round_num(value(t, m, f, k), digits_of(k)));
        per_f.push_back(v);
      }
      per_m.push_back(per_f);
    }
    vals.push_back(per_m);
  }
  j["sample_rows"] = rows;  // indices into the texts table (section 2)
  j["sample"] = vals;
  j["sample_rule"] = N <= kMaxSampleTexts
                         ? "every text"
                         : "every " + std::to_string(step) + "th text (" +
                               std::to_string(sample.size()) + " of " + std::to_string(N) + ")";
  return j;
}

}  // namespace lsc::report
