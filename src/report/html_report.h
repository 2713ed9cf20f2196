// The report: one self-contained HTML file (plotly.js, our script and style, and the data inline)
// built from a results directory (results.sqlite, plus stats.json and summary.json when present).
// It reads the results only; it never runs a model. docs/report.md lists the sections.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/stats/analyze.h"

namespace lsc::report {

struct ReportOptions {
  // Texts the token viewer and logits heatmap embed (the rest of the report covers every text).
  int64_t max_texts = 200;
  // Position × model cells the viewer may embed in all (about 160 bytes each, so ≤ ~20 MB): with
  // plotly.js (4.8 MB) and the rest (≤ ~2 MB) a report stays under ~30 MB for any run.
  int64_t max_viewer_cells = 120000;
  int viewer_top_k = 10;     // top-k entries per position kept for hover and heatmap (≤ run's k)
  // run --lens: lens propensities (layer × family × lens row) the viewer may embed for its
  // colouring by lens propensity (about 8 bytes each); past it, layers are thinned evenly.
  int64_t max_viewer_lens_values = 1000000;
  // The CIs' resamples, seed and level. Unless stats_from_file is false, the options recorded in
  // <dir>/stats.json replace these where it exists, so the report's intervals are stats.json's.
  stats::StatsOptions stats;
  bool stats_from_file = true;
  uint64_t sample_seed = 20240607;  // the viewer's stratified text sample: same input, same file
  bool quiet = false;  // for callers: write_report itself never prints (warnings are returned)
};

// What write_report did, for the command's message and for tests.
struct ReportResult {
  std::string out_path;
  int64_t file_bytes = 0;
  int64_t n_texts = 0, n_viewer_texts = 0;
  bool has_stats = false;
  std::vector<std::string>
      warnings;  // e.g. unreadable tokenizer or stats.json (also in the report)
};

// Reads <results_dir>/results.sqlite (InputError if absent), stats.json and summary.json if
// present, and writes out_path atomically (IoError if it cannot). out_path "" means
// <results_dir>/report.html. Needs plotly.min.js: see plotly_js_path().
ReportResult write_report(const std::string& results_dir, const std::string& out_path,
                          const ReportOptions& opt);

// Where plotly.min.js is read from: $LSC_WEB_DIR, else the compiled-in <source>/web, then
// node_modules/plotly.js-dist-min/plotly.min.js.
std::string plotly_js_path();

// Escaping used for everything that enters the page.
std::string html_escape(std::string_view s);
// JSON text safe inside <script type="application/json">: "</" becomes "<\/" and U+2028/9 are
// escaped, so no record text can end the element.
std::string json_for_script(std::string_view json);

}  // namespace lsc::report
