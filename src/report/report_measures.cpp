// Report sections 4-6 (and the keyword × model-pair heatmap of section 8): per-text measures
// (the unit of analysis, DESIGN §3), their group means with 95% percentile-bootstrap CIs over
// texts, paired differences between models, and a bounded sample of per-text values.
#include <algorithm>

#include "report/report_data.h"

namespace lsc::report {

namespace {

// Per-text measures; the extra family index F ("all tokens") holds the all-answer-token analogue.
enum Measure { kRate, kLpWord, kLpFirst, kProp, kEntBefore, kKlAt, kNumMeasures };
constexpr const char* kMeasureKeys[] = {"rate", "lp_word",    "lp_first",
                                        "prop", "ent_before", "kl_at"};
constexpr const char* kMeasureLabels[] = {"occurrences per 1k answer tokens",
                                          "mean log p of the whole keyword (nats)",
                                          "mean log p of the keyword's first token (nats)",
                                          "mean propensity over answer positions",
                                          "mean entropy of the row predicting the keyword (nats)",
                                          "mean KL to the other models at the keyword (nats)"};
constexpr const char* kAllTokensLabels[] = {
    "", "mean log p of every answer token", "mean log p of every answer token",
    "", "mean entropy over answer tokens",  "mean KL to the other models over answer tokens"};
// Groups of texts the means are computed over.
constexpr int kNumGroups = 8;             // all, level 1..5, correct, incorrect
constexpr size_t kMaxSampleTexts = 1500;  // per-text values embedded for box plots and scatters
// Past this many values a CI is mean ± 1.96 SE (the bootstrap's cost grows with n × resamples,
// and at such n the percentile interval and the normal one agree closely).
constexpr size_t kMaxBootstrapN = 3000;

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

double value(const results::RunAggregates& agg, size_t t, size_t m, size_t f, int k) {
  const results::TextModelAgg& a = agg.per_text[t][m];
  const size_t F = agg.families.size();
  const double n = double(a.n_answer);
  if (f == F) {  // all answer tokens
    switch (k) {
      case kLpWord:
      case kLpFirst:
        return a.n_answer ? a.sum_logprob / n : kNaN;
      case kEntBefore:
        return a.n_answer ? a.sum_entropy / n : kNaN;
      case kKlAt: {
        double s = 0;
        int64_t c = 0;
        for (size_t o = 0; o < a.kl_sum.size(); ++o) {
          s += a.kl_sum[o];
          c += a.kl_n[o];
        }
        return c ? s / double(c) : kNaN;
      }
      default:
        return kNaN;
    }
  }
  switch (k) {
    case kRate:
      return a.n_answer ? 1000.0 * double(a.n_occ[f]) / n : kNaN;
    case kLpWord:
      return mean_of(a.lp_word[f]);
    case kLpFirst:
      return mean_of(a.lp_first[f]);
    case kProp:
      return a.n_answer ? a.sum_propensity[f] / n : kNaN;
    case kEntBefore:
      return mean_of(a.entropy_before[f]);
    case kKlAt:
      return mean_of(a.kl_at[f]);
    default:
      return kNaN;
  }
}

uint64_t cell_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t h = seed;
  for (uint64_t v : {a, b, c, d}) h = (h ^ v) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
  return h;
}

MeanCi mean_ci(const std::vector<double>& x, int n_boot, uint64_t seed) {
  if (x.size() <= kMaxBootstrapN) return bootstrap_mean_ci(x, n_boot, seed);
  MeanCi c;
  c.n = int64_t(x.size());
  c.mean = mean_of(x);
  double ss = 0;
  for (double v : x) ss += (v - c.mean) * (v - c.mean);
  const double se = std::sqrt(ss / double(x.size() - 1) / double(x.size()));
  c.lo = c.mean - 1.96 * se;
  c.hi = c.mean + 1.96 * se;
  return c;
}

bool in_group(const results::TextInfo& t, int g) {
  if (g == 0) return true;
  if (g <= 5) return t.level == g;
  return t.is_correct == (g == 6 ? 1 : 0);
}

}  // namespace

io::Json build_measures(const results::RunAggregates& agg, const ReportOptions& opt) {
  const size_t M = agg.models.size(), F = agg.families.size(), N = agg.texts.size();
  io::Json j;
  j["keys"] = kMeasureKeys;
  j["labels"] = kMeasureLabels;
  j["all_tokens_labels"] = kAllTokensLabels;
  j["groups"] = {"all texts", "level 1", "level 2", "level 3",
                 "level 4",   "level 5", "correct", "incorrect"};
  j["n_bootstrap"] = opt.n_bootstrap;
  j["ci_rule"] = "95% percentile bootstrap over texts (" + std::to_string(opt.n_bootstrap) +
                 " resamples, fixed seed); mean ± 1.96 SE past " + std::to_string(kMaxBootstrapN) +
                 " texts";
  // cells[k][g][m][f] = [n, mean, lo, hi]; f == F is "all tokens".
  io::Json cells = io::Json::array();
  for (int k = 0; k < kNumMeasures; ++k) {
    io::Json per_g = io::Json::array();
    for (int g = 0; g < kNumGroups; ++g) {
      io::Json per_m = io::Json::array();
      for (size_t m = 0; m < M; ++m) {
        io::Json per_f = io::Json::array();
        for (size_t f = 0; f <= F; ++f) {
          std::vector<double> x;
          for (size_t t = 0; t < N; ++t) {
            if (in_group(agg.texts[t], g)) x.push_back(value(agg, t, m, f, k));
          }
          const int digits = k == kProp || k == kKlAt ? -4 : 3;
          per_f.push_back(
              ci_json(mean_ci(x, opt.n_bootstrap, cell_seed(opt.seed, k, g, m, f)), digits));
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
  for (int k = 0; k < kNumMeasures; ++k) {
    io::Json per_p = io::Json::array();
    for (const auto& p : pairs) {
      const size_t a = p[0], b = p[1];
      io::Json per_f = io::Json::array();
      for (size_t f = 0; f <= F; ++f) {
        std::vector<double> x;
        for (size_t t = 0; t < N; ++t) {
          const double va = value(agg, t, a, f, k), vb = value(agg, t, b, f, k);
          if (std::isfinite(va) && std::isfinite(vb)) x.push_back(vb - va);
        }
        const int digits = k == kProp || k == kKlAt ? -4 : 3;
        per_f.push_back(
            ci_json(mean_ci(x, opt.n_bootstrap, cell_seed(opt.seed ^ 0x5eed, k, a * M + b, f, 99)),
                    digits));
      }
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
        const int digits = k == kProp || k == kKlAt ? -4 : 3;
        for (size_t t : sample) v.push_back(round_num(value(agg, t, m, f, k), digits));
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
