// `logitscope run`: flags → pipeline::RunOptions → pipeline::run() (one shard per MPI rank under mpirun).
#include <cstdio>
#include <filesystem>
#include <string>

#include "analysis/keywords.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/guarded.h"
#include "cli/mpi_world.h"
#include "io/error.h"
#include "gpu/gpu.h"
#include "model/model.h"
#include "pipeline/run.h"
#include "results/shard.h"
#include "results/merge.h"

namespace lsc::cli {

namespace {

constexpr const char* kHelp =
    "usage: logitscope run --model NAME=DIR [--model NAME=DIR ...] --data FILE.jsonl --out DIR\n"
    "                      [--keywords wait,aha,...] [--template notebook|chat|'Q: {query}\\nA: {answer}']\n"
    "                      [--max-tokens N] [--top-k K] [--window W] [--threads N] [--limit N]\n"
    "                      [--field answer=response ...] [--precision exact|fp32|bf16] [--shard I/N]\n"
    "                      [--max-memory GIB] [--progress-interval S] [--skip-invalid] [--force] [--quiet]\n"
    "                      [--lens none|all|every:K|L1,L2,... [--lens-at keywords|answer]]\n"
    "                      [--device cpu|cuda|cuda:N|cuda:auto]\n"
    "  Runs every model over every record (query + answer, teacher-forced) and stores per-position\n"
    "  metrics, keyword occurrences, windows around them and cross-model divergences in\n"
    "  DIR/results.sqlite, then summary.json, stats and report.html. Interrupt at any time; the same\n"
    "  command resumes.\n"
    "  --model NAME=DIR  a checkpoint folder (config.json, safetensors, tokenizer.json); NAME labels it\n"
    "                    (a bare DIR is named after its folder)\n"
    "  --data FILE  JSONL, a record per line: query, answer, and optionally level (1-5), is_correct, id\n"
    "  --out DIR    the results directory (created; the same command resumes the run it holds)\n"
    "  --template T  notebook (default): 'Query: {query}\\nAnswer: {answer}'; chat: each model's own\n"
    "               chat format (ChatML with the system message its chat template writes, or R1's);\n"
    "               or a pattern with {query} then {answer} (\\n, \\t interpreted)\n"
    "  --precision P  exact (default, or LSC_PRECISION): the transformers reference to 1e-4 by the\n"
    "               fastest method on this CPU; fp32: the fp32 reference path, bit for bit; bf16: the\n"
    "               fast path (bf16 products, fp32 accumulation)\n"
    "  --threads N  OpenMP threads (default: all cores it may use, at most a container's CPU quota;\n"
    "               results are identical for any N)\n"
    "  --limit N    only the first N valid records\n"
    "  --field K=F  read the logical field K (query, answer, level, is_correct, id, source) from key F\n"
    "  --skip-invalid  run on the valid lines and record the bad ones in the skipped table (default:\n"
    "               any bad line stops the run before it starts, listing every bad line)\n"
    "  --force      replace a results directory that holds a run with other arguments\n"
    "  --quiet      no progress output\n"
    "  --max-tokens N  cut longer texts at the end (default: no cut below the models' context, the\n"
    "               smallest max_position_embeddings of the models). Before any forward pass the run\n"
    "               prints the longest text and the memory it needs, and refuses if that does not fit.\n"
    "  --max-memory GIB  plan for at most this much memory (default: what the machine has available,\n"
    "               at most what a container's memory limit leaves)\n"
    "  --top-k K    alternatives stored per position (default: %d)\n"
    "  --window W   offsets -W..+W stored around each keyword occurrence (default: %d)\n"
    "  --lens LAYERS  the logit lens at these layers (0-based: the residual stream after layer L),\n"
    "               and per model pair the CKA and mean cosine of the residual streams layer by layer\n"
    "               (tables lens, layer_similarity; default none)\n"
    "  --lens-at W  keywords: the rows predicting each keyword occurrence's first token +- --window\n"
    "               (default); answer: every answer row (also CKA over the whole answer)\n"
    "  --device D   where the passes run: cpu (default), or an NVIDIA GPU: cuda = cuda:0, cuda:N,\n"
    "               cuda:auto = one GPU per MPI rank (rank r takes GPU r %% the node's count)\n"
    "  --progress-interval S  seconds between progress lines when stderr is not a terminal (%g)\n"
    "  --shard I/N  run only shard I of N (0-based; texts balanced by tokens) into DIR/shards/I-of-N;\n"
    "               then 'logitscope merge --out DIR'. Under mpirun each rank takes its shard by itself\n"
    "               and rank 0 merges at the end.\n"
    "  --keywords   keyword families (default: " ;

// "NAME=DIR", or a bare DIR named by its folder.
std::pair<std::string, std::string> parse_model_spec(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) {
    std::string name = std::filesystem::path(spec).lexically_normal().filename().string();
    if (name.empty()) name = std::filesystem::path(spec).lexically_normal().parent_path().filename().string();
    return {name, spec};
  }
  if (eq == 0 || eq + 1 == spec.size()) throw UsageError("--model: expected NAME=DIR, found \"" + spec + "\"");
  return {spec.substr(0, eq), spec.substr(eq + 1)};
}

// The items of --keywords: comma-separated, spaces around each trimmed; an empty item (",," or a
// comma at either end) is a usage error rather than dropped.
std::vector<std::string> split_keywords(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    size_t e = s.find(',', p);
    if (e == std::string::npos) e = s.size();
    std::string item = s.substr(p, e - p);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) {
      throw UsageError("--keywords: item " + std::to_string(out.size() + 1) + " of \"" + s +
                       "\" is empty: expected comma-separated keywords");
    }
    out.push_back(item);
    p = e + 1;
  }
  return out;
}

// One shard per MPI rank; when every rank has finished, rank 0 merges and writes the outputs.
// A rank that fails still joins the exit-code exchange, so no rank waits forever.
int run_ranks(pipeline::RunOptions o, const MpiWorld& world) {
  o.shard = results::ShardSpec{world.rank(), world.size()};
  o.shard_by_rank = true;
  const bool quiet = o.quiet;
  o.quiet = quiet || world.rank() != 0;  // one progress display: rank 0's
  const std::string prefix = "rank " + std::to_string(world.rank()) + " of " + std::to_string(world.size()) + ": ";
  const int code = run_guarded("run", [&] { return pipeline::run(o); }, prefix);
  const int worst = world.max_over_ranks(code);
  if (worst != kExitOk) {
    if (world.rank() == 0 && code == kExitOk) {
      std::fprintf(stderr, "logitscope: another rank stopped (exit code %d); what every rank finished is saved in %s/shards; "
                   "run the same command again to resume\n", worst, o.out_dir.c_str());
    }
    return code != kExitOk ? code : worst;
  }
  if (world.rank() != 0) return kExitOk;
  return run_guarded("run", [&] {
    std::vector<std::string> dirs;
    for (int r = 0; r < world.size(); ++r) dirs.push_back(results::shard_dir(o.out_dir, results::ShardSpec{r, world.size()}));
    const auto merged = results::merge_shards(dirs, o.out_dir, o.force);
    for (const auto& w : merged.warnings) std::fprintf(stderr, "logitscope: warning: %s\n", w.c_str());
    const bool report_written = pipeline::write_outputs(o.out_dir, quiet);
    if (!quiet) {
      std::fprintf(stderr, "logitscope: done: %lld texts merged from %d ranks; results, stats%s in %s\n",
                   static_cast<long long>(merged.n_texts), merged.n_shards, report_written ? " and report.html" : "",
                   o.out_dir.c_str());
    }
    return kExitOk;
  });
}

}  // namespace

int cmd_run(int argc, char** argv) {
  Args args(argc, argv,
            {"model", "data", "out", "keywords", "template", "max-tokens", "top-k", "window", "threads", "limit",
             "field", "precision", "shard", "max-memory", "progress-interval", "lens", "lens-at", "device"},
            {"skip-invalid", "force", "quiet", "help"});
  if (args.has("help")) {
    std::string kw;
    for (const auto& k : analysis::default_keywords()) kw += (kw.empty() ? "" : ",") + k;
    const pipeline::RunOptions d;
    std::printf(kHelp, d.top_k, d.window, d.progress_interval);
    std::printf("%s)\n", kw.c_str());
    return 0;
  }
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  pipeline::RunOptions o;
  for (const auto& spec : args.all("model")) o.models.push_back(parse_model_spec(spec));
  o.data_path = args.require("data");
  o.out_dir = args.require("out");
  if (args.has("keywords")) {
    o.keywords = split_keywords(args.require("keywords"));
  }
  // Defaults are RunOptions' own (one place).
  o.template_spec = args.get_or("template", o.template_spec);
  o.max_tokens = args.get_int("max-tokens", o.max_tokens, 2, 1 << 20);
  o.max_memory_gib = args.get_double("max-memory", o.max_memory_gib, 1e-6, 1 << 20);
  o.progress_interval = args.get_double("progress-interval", o.progress_interval, 0.05, 86400);
  o.top_k = static_cast<int>(args.get_int("top-k", o.top_k, 1, 1000));
  o.window = static_cast<int>(args.get_int("window", o.window, 0, 1000));
  o.threads = static_cast<int>(args.get_int("threads", o.threads, 1, 1024));
  o.limit = args.get_int("limit", o.limit, 1, int64_t{1} << 40);
  for (const auto& f : args.all("field")) {
    const auto eq = f.find('=');
    static const char* kLogical[] = {"query", "answer", "level", "is_correct", "id", "source"};
    bool known = false;
    for (const char* k : kLogical) known = known || f.substr(0, eq) == k;
    if (eq == std::string::npos || eq + 1 == f.size() || !known) {
      throw UsageError("--field: expected FIELD=KEY with FIELD one of query, answer, level, is_correct, id, source; found \"" +
                       f + "\"");
    }
    const auto [it, fresh] = o.fields.emplace(f.substr(0, eq), f.substr(eq + 1));
    if (!fresh && it->second != f.substr(eq + 1)) {
      throw UsageError("--field: " + it->first + " is mapped twice, to \"" + it->second + "\" and to \"" +
                       f.substr(eq + 1) + "\": give it once");
    }
  }
  o.lens_spec = args.get_or("lens", o.lens_spec);
  o.lens_at = args.get_or("lens-at", o.lens_at);
  if (args.has("lens-at") && o.lens_spec == "none") throw UsageError("--lens-at: needs --lens (the layers to read)");
  o.precision = precision_from_environment();
  if (args.has("precision")) {
    o.precision = parse_precision_flag(args.require("precision"));
  }
  o.device = args.get_or("device", o.device);
  gpu::require_device(o.device);  // now, not after loading the models
  o.skip_invalid = args.has("skip-invalid");
  o.force = args.has("force");
  o.quiet = args.has("quiet");
  if (args.has("shard")) o.shard = results::parse_shard(args.require("shard"), "--shard");
  apply_environment(o);

  MpiWorld world;
  if (world.size() == 1) return pipeline::run(o);
  if (args.has("shard")) throw UsageError("--shard: not under mpirun (each of the " + std::to_string(world.size()) +
                                          " ranks takes its own shard)");
  return run_ranks(o, world);
}

}  // namespace lsc::cli
