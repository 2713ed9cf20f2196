// `logitscope stats DIR`: the model, level and correctness comparisons over a finished run
// (also run at the end of `logitscope run`).
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/error.h"
#include "results/results_db.h"
#include "results/stats_input.h"

namespace lsc::cli {

namespace {

constexpr const char* kHelp =
    "usage: logitscope stats DIR [--bootstrap N] [--seed S] [--min-n N] [--quiet]\n"
    "  Per-text measures of DIR/results.sqlite compared between models (paired), across levels\n"
    "  and between correct and incorrect answers; writes DIR/stats.json, DIR/stats.md and the\n"
    "  stats_tests table. --bootstrap resamples (default 10000), --seed (default 20261129),\n"
    "  --min-n: rows with fewer texts are flagged small_n (default 10). --quiet: no line on stderr.\n";

}  // namespace

int cmd_stats(int argc, char** argv) {
  Args args(argc, argv, {"bootstrap", "seed", "min-n"}, {"help", "quiet"});
  if (args.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.positionals().size() != 1) throw UsageError("stats takes one results directory\n" + std::string(kHelp));
  const std::string dir = args.positionals()[0];
  stats::StatsOptions opt;
  opt.n_bootstrap = static_cast<int>(args.get_int("bootstrap", opt.n_bootstrap, 100, 10000000));
  opt.seed = static_cast<uint64_t>(args.get_int("seed", static_cast<int64_t>(opt.seed), 0, INT64_MAX));
  opt.min_n = args.get_int("min-n", opt.min_n, 1, 1000000);
  results::ResultsDb db(dir, {}, false);
  if (db.n_texts_done() == 0) throw InputError(db.path(), "", "at least one finished text", "none");
  if (const std::string unfinished = results::unfinished_run(db); !unfinished.empty()) {
    std::fprintf(stderr, "logitscope: warning: %s: %s\n", db.path().c_str(), unfinished.c_str());
  }
  results::write_stats(db, dir, opt);
  if (!args.has("quiet")) std::fprintf(stderr, "logitscope: wrote %s/stats.json and %s/stats.md\n", dir.c_str(), dir.c_str());
  return 0;
}

}  // namespace lsc::cli
