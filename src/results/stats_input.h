// From the results database to the statistics step: per-text values (the unit of analysis,
// DESIGN §3) in the shape lsc::stats::analyze() takes, and the stats outputs (stats.json,
// stats.md and the stats_tests table). Which per-text measures exist is defined here.
#pragma once

#include <string>

#include "analysis/stats/analyze.h"
#include "results/aggregate.h"
#include "results/results_db.h"

namespace lsc::results {

// Measures per text × model × family ("all" = every answer token):
//   logp        keyword: mean whole-word log p over its occurrences; all: mean log p of answer tokens
//   rate_per_1k keyword: occurrences per 1000 answer tokens (all: undefined)
//   propensity  keyword: mean probability mass of the family over answer positions (all: undefined)
//   entropy     keyword: mean entropy of the row that predicts the occurrence; all: mean over answer
//   kl          keyword: mean KL(P_model ‖ P_other) at the occurrence, averaged over the other
//               models; all: the same over every common answer position (undefined with one model)
// Undefined values (a text without occurrences) are NaN and drop out of each test pairwise.
stats::StatsInput build_stats_input(const RunAggregates& agg);

// "" for a finished run; else what the statistics of a run cut short cover ("an unfinished run
// (interrupted): 22 of 60 texts done; …"): stats.json's "unfinished", stats.md's first line, the
// stats command's and the report's warning.
std::string unfinished_run(ResultsDb& db);

// Runs the analysis and writes <dir>/stats.json, <dir>/stats.md (atomically) and the
// stats_tests table (one row per test result, replaced as a whole). Returns the document.
nlohmann::json write_stats(ResultsDb& db, const std::string& dir, const stats::StatsOptions& opt);

}  // namespace lsc::results
