// `logitscope report DIR [--out FILE] [--max-texts N]`: the self-contained HTML report of a
// results directory (report::write_report; docs/report.md describes the sections).
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/error.h"
#include "report/html_report.h"

namespace lsc::cli {

namespace {

constexpr const char* kHelp =
    "usage: logitscope report DIR [--out FILE] [--max-texts N] [--max-cells N] [--top-k N] [--bootstrap N] "
    "[--quiet]\n"
    "  Writes one self-contained HTML file (plotly.js, script, style and data inline; opens "
    "offline)\n"
    "  from DIR/results.sqlite, with DIR/stats.json when present. Default FILE: DIR/report.html.\n"
    "  --max-texts  texts embedded in the token viewer and logits heatmap (default 200; all texts\n"
    "               if they fit, else the most divergent quarter and a stratified sample)\n"
    "  --max-cells  position×model cells the viewer may embed in all (default 120000, about 160 bytes\n"
    "               each: ~20 MB); a text longer than this over the models is left out, said\n"
    "  --top-k      top-k entries per position kept for the viewer's hover (default 10; at most the\n"
    "               run's --top-k)\n"
    "  --bootstrap  resamples of the report's CIs (default: stats.json's, else 10000: the report and\n"
    "               stats.json then print the same intervals; at least 100, as for stats)\n";

}  // namespace

int cmd_report(int argc, char** argv) {
  Args args(argc, argv, {"out", "max-texts", "max-cells", "top-k", "bootstrap"}, {"quiet", "help"});
  if (args.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.positionals().size() != 1)
    throw UsageError("report takes one results directory\n" + std::string(kHelp));
  report::ReportOptions opt;
  opt.max_texts = args.get_int("max-texts", opt.max_texts, 0, 100000);
  opt.max_viewer_cells = args.get_int("max-cells", opt.max_viewer_cells, 0, int64_t{1} << 40);
  opt.viewer_top_k = static_cast<int>(args.get_int("top-k", opt.viewer_top_k, 1, 1000));
  if (args.has("bootstrap")) {
    opt.stats.n_bootstrap = static_cast<int>(args.get_int("bootstrap", opt.stats.n_bootstrap, 100, 10000000));
    opt.stats_from_file = false;
  }
  opt.quiet = args.has("quiet");
  const report::ReportResult r =
      report::write_report(args.positionals()[0], args.get_or("out", ""), opt);
  for (const auto& w : r.warnings) std::fprintf(stderr, "logitscope: warning: %s\n", w.c_str());
  if (!opt.quiet) {
    std::fprintf(stderr,
                 "logitscope: report: %s (%.1f MB; %lld texts, %lld in the token viewer%s)\n",
                 r.out_path.c_str(), double(r.file_bytes) / 1e6, static_cast<long long>(r.n_texts),
                 static_cast<long long>(r.n_viewer_texts),
                 r.has_stats ? "; with stats.json"
                             : "; no stats.json: run `logitscope stats` for the tests");
  }
  return 0;
}

}  // namespace lsc::cli
