// `logitscope merge`: joins the shards of one run (`run --shard I/N` jobs, or MPI ranks) into one
// results directory, then writes summary.json, the statistics and report.html as `run` does.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "pipeline/run.h"
#include "io/error.h"
#include "results/merge.h"

namespace lsc::cli {

namespace {

constexpr const char* kHelp =
    "usage: logitscope merge --out DIR [SHARD_DIR ...] [--force] [--quiet]\n"
    "  Checks that the shard directories (default: every DIR/shards/I-of-N) are all N shards of one run,\n"
    "  each finished, and writes DIR/results.sqlite with the rows a single-process run writes, then\n"
    "  summary.json, stats.json, stats.md and report.html. A database of another run in DIR is replaced\n"
    "  only with --force.\n";

}  // namespace

int cmd_merge(int argc, char** argv) {
  Args args(argc, argv, {"out"}, {"force", "quiet", "help"});
  if (args.has("help")) {
    std::printf("%s", kHelp);
    return kExitOk;
  }
  const std::string out = args.require("out");
  const bool quiet = args.has("quiet");
  const std::vector<std::string> dirs = args.positionals().empty() ? results::find_shard_dirs(out) : args.positionals();
  const auto merged = results::merge_shards(dirs, out, args.has("force"));
  for (const auto& w : merged.warnings) std::fprintf(stderr, "logitscope: warning: %s\n", w.c_str());
  const bool report_written = pipeline::write_outputs(out, quiet);
  if (!quiet) {
    std::fprintf(stderr, "logitscope: merged %d shards (%lld texts) into %s; summary, stats%s written\n",
                 merged.n_shards, static_cast<long long>(merged.n_texts), out.c_str(),
                 report_written ? " and report.html" : "");
  }
  return kExitOk;
}

}  // namespace lsc::cli
