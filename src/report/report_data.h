// The data the report embeds, built section by section from the results database. Each builder
// returns compact JSON (column arrays, rounded numbers); report.js draws it. Internal to the
// report library: html_report.cpp calls these in order and assembles the page.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "analysis/stats/bootstrap.h"
#include "io/json.h"
#include "results/aggregate.h"
#include "report/html_report.h"
#include "results/results_db.h"

namespace lsc::tok {
class Tokenizer;
}

namespace lsc::report {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A finite number rounded to `digits` decimals, or null.
inline io::Json rnum(double v, int digits = 3) {
  if (!std::isfinite(v)) return nullptr;
  const double s = std::pow(10.0, digits);
  return std::round(v * s) / s;
}
// A finite number rounded to `sig` significant digits (KL values span many decades), or null.
io::Json rsig(double v, int sig = 4);

// A mean and its CI over n values (the statistics library's bootstrap: report_measures.cpp);
// NaN where undefined.
struct MeanCi {
  int64_t n = 0;
  double mean = kNaN, lo = kNaN, hi = kNaN;
};
// The statistics library's interval as a MeanCi (undefined: NaN mean and bounds).
MeanCi to_mean_ci(const stats::BootstrapCI& c);
// digits ≥ 0: rnum(v, digits); digits < 0: rsig(v, −digits).
inline io::Json round_num(double v, int digits) {
  return digits >= 0 ? rnum(v, digits) : rsig(v, -digits);
}
// [n, mean, lo, hi] rounded as round_num, for the JSON.
io::Json ci_json(const MeanCi& c, int digits = 3);

// Decodes token ids for display; "#<id>" when there is no tokenizer or no such token.
class TokenNames {
 public:
  explicit TokenNames(const tok::Tokenizer* t) : tok_(t) {}
  std::string name(int32_t id) const;
  bool available() const { return tok_ != nullptr; }

 private:
  const tok::Tokenizer* tok_;
};

// Section 1: models, meta, families (ids and decoded strings), skipped records, truncations.
io::Json build_manifest(results::ResultsDb& db, const TokenNames& names);
// Section 2: one row per text (columns): level, correctness, source, answer tokens, counts.
io::Json build_texts(results::ResultsDb& db, const results::RunAggregates& agg);
// Sections 4-6 and 8 (keyword × pair): per-text measures, group means with bootstrap CIs,
// paired differences, and a bounded sample of per-text values for box plots and scatters.
io::Json build_measures(const results::RunAggregates& agg, const ReportOptions& opt);
// Section 3: answer-position histograms of log p and entropy, rank buckets, per model.
io::Json build_distributions(results::ResultsDb& db, const results::RunAggregates& agg);
// Section 7: windows around occurrences, mean and 95% band per family × model × offset.
io::Json build_windows(results::ResultsDb& db, const results::RunAggregates& agg);
// Section 8: per model pair divergence distributions, agreement, position profile, top
// tokens/texts.
io::Json build_pairs(results::ResultsDb& db, const results::RunAggregates& agg, const TokenNames& names);
// Sections 9 and 11: the selected texts with per-position values of every model.
io::Json build_viewer(results::ResultsDb& db, const results::RunAggregates& agg, const ReportOptions& opt,
                      const TokenNames& names);

// Section 12 (run --lens): lens propensity and KL(final ‖ lens) over depth per model with CIs, and
// a sample of occurrences' lens top-k at every layer; {"available": false} without lens rows.
io::Json build_lens(results::ResultsDb& db, const results::RunAggregates& agg, const ReportOptions& opt,
                    const TokenNames& names);

}  // namespace lsc::report
