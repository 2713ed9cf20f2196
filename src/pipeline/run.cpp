#include "pipeline/run.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "analysis/keywords.h"
#include "gpu/gpu.h"
#include "io/error.h"
#include "io/json.h"
#include "io/atomic_file.h"
#include "io/dir_lock.h"
#include "io/mapped_file.h"
#include "io/paths.h"
#include "io/sha256.h"
#include "io/sqlite.h"
#include "kernels/cpu/kernels.h"
#include "pipeline/build_info.h"
#include "pipeline/lens.h"
#include "pipeline/measure.h"
#include "pipeline/plan.h"
#include "pipeline/progress.h"
#include "pipeline/schedule.h"
#include "results/aggregate.h"
#include "report/html_report.h"
#include "results/results_db.h"
#include "results/stats_input.h"

namespace lsc::pipeline {

namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_signalled{false};
std::atomic<int> g_signal{0};  // which one: the exit status says it (130 SIGINT, 143 SIGTERM)
// The first SIGINT/SIGTERM asks the run to stop and says so (write(2): the one output a handler
// may do); the next one takes the default action, so a second Ctrl-C stops at once (committed
// texts are safe in SQLite's journal either way).
extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  g_signalled.store(true);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  static const char msg[] =
      "\nlogitscope: stopping: the current forward pass stops at its next layer, then the texts whose passes "
      "are done are measured and saved (Ctrl-C again stops at once)\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
}

// A run stopped by a signal exits as a process ended by it would: 143 for SIGTERM, else 130.
int interrupted_exit_code() { return g_signal.load() == SIGTERM ? 128 + SIGTERM : kExitInterrupted; }

// Thrown from a pass's per-layer callback when the run is asked to stop: the pass is dropped.
struct PassStopped {};

// SIGINT/SIGTERM set the run's interrupt flag while the run is in its loop (unless the caller
// brings its own flag), and are given back after (`release`: before the statistics and report,
// which a signal then stops as any program: their files are written whole or not at all).
class InterruptScope {
 public:
  explicit InterruptScope(const std::atomic<bool>* external) : flag_(external != nullptr ? external : &g_signalled) {
    if (external == nullptr) {
      g_signalled.store(false);
      g_signal.store(0);
      old_int_ = std::signal(SIGINT, on_signal);
      old_term_ = std::signal(SIGTERM, on_signal);
      installed_ = true;
    }
  }
  ~InterruptScope() { release(); }
  void release() {
    if (installed_) {
      std::signal(SIGINT, old_int_);
      std::signal(SIGTERM, old_term_);
      installed_ = false;
    }
  }
  bool requested() const { return flag_->load(); }

 private:
  const std::atomic<bool>* flag_;
  bool installed_ = false;
  void (*old_int_)(int) = SIG_DFL;
  void (*old_term_)(int) = SIG_DFL;
};

// The data file's records. Invalid lines stop the run, listed, unless --skip-invalid: then they
// are said (a warning, once under mpirun: `warn`) and recorded in the skipped table.
io::Dataset read_dataset(const RunOptions& opt, bool warn) {
  io::Dataset data = io::load_dataset(opt.data_path, opt.fields);
  const auto listed = [&](size_t most) {
    std::string list;
    for (size_t i = 0; i < data.errors.size() && i < most; ++i) list += "\n  " + data.errors[i];
    if (data.errors.size() > most) list += "\n  … and " + std::to_string(data.errors.size() - most) + " more";
    return list;
  };
  const std::string counted = std::to_string(data.errors.size()) + " of " + std::to_string(data.n_lines) + " lines";
  if (!data.errors.empty() && !opt.skip_invalid) {
    throw InputError(counted + " are invalid (fix them, or pass --skip-invalid to run on the others):" +
                     listed(data.errors.size()));
  }
  if (data.records.empty()) {
    throw InputError(opt.data_path, "", "at least one valid record",
                     data.errors.empty() ? "none" : "none: " + counted + " are invalid:" + listed(10));
  }
  if (!data.errors.empty() && warn) {
    std::fprintf(stderr, "logitscope: warning: --skip-invalid: %s of %s are invalid and left out (the results' "
                 "skipped table lists them):%s\n", counted.c_str(), opt.data_path.c_str(), listed(5).c_str());
  }
  if (opt.limit > 0 && static_cast<int64_t>(data.records.size()) > opt.limit) data.records.resize(size_t(opt.limit));
  // The same query and answer twice: kept (the user may mean it), but said, as each copy counts
  // as a text of its own in the statistics.
  if (warn) {
    std::map<std::pair<std::string_view, std::string_view>, const io::Record*> first;
    std::vector<std::string> repeats;
    for (const io::Record& r : data.records) {
      const auto [it, fresh] = first.try_emplace({r.query, r.answer}, &r);
      if (!fresh) repeats.push_back("record '" + r.id + "' (line " + std::to_string(r.line) + ") repeats record '" +
                                    it->second->id + "' (line " + std::to_string(it->second->line) + ")");
    }
    if (!repeats.empty()) {
      std::string list;
      for (size_t i = 0; i < repeats.size() && i < 3; ++i) list += (i ? "; " : "") + repeats[i];
      if (repeats.size() > 3) list += "; and " + std::to_string(repeats.size() - 3) + " more";
      std::fprintf(stderr, "logitscope: warning: %s: %zu record(s) have the query and answer of an earlier one; each "
                   "counts as a text of its own in the statistics: %s\n", opt.data_path.c_str(), repeats.size(), list.c_str());
    }
  }
  return data;
}

// This process's texts: all of them, or its shard (balanced by tokens over all models).
std::vector<const TextJob*> texts_of_this_process(const std::vector<TextJob>& jobs, const results::ShardSpec& shard) {
  std::vector<int64_t> tokens;
  for (const auto& j : jobs) tokens.push_back(j.tokens());
  const std::vector<int> shard_of = results::assign_shards(tokens, shard.count);
  std::vector<const TextJob*> mine;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (shard_of[i] == shard.index) mine.push_back(&jobs[i]);
  }
  return mine;
}

struct RunRecord {  // what the manifest records about this run
  const io::Dataset& data;
  const std::vector<LoadedModel>& models;
  const std::vector<analysis::KeywordFamily>& families;
  const std::vector<const TextJob*>& mine;
  int64_t n_texts, n_truncated, max_tokens;
  model::Precision precision;
  const gpu::GpuModels* gpu = nullptr;  // --device cuda: what runs there, for the models table
};

// The results directory: new (manifest written), resumable (same arguments), or refused.
std::unique_ptr<results::ResultsDb> open_results(const RunOptions& opt, const std::string& results_dir,
                                                std::optional<io::DirLock>& lock, const RunRecord& run) {
  const auto& models = run.models;
  const auto& families = run.families;
  const auto& data = run.data;
  const auto& mine = run.mine;
  const model::Precision precision = run.precision;
  const std::string data_sha = io::sha256_file(opt.data_path);
  const std::string args = canonical_args(opt, models, data_sha);
  const std::string args_hash = io::sha256_hex(args);
  const std::string db_path = io::join_path(results_dir, "results.sqlite");
  // Whether a stored run's hash is this command's run. One recorded before the models' weights
  // were is, when all else agrees (said: its weights cannot be checked).
  const auto same_run = [&](const std::string& stored, const std::string& where) {
    if (stored == args_hash) return true;
    if (stored.empty() || stored != io::sha256_hex(canonical_args(opt, models, data_sha, false))) return false;
    if (!opt.quiet && !(opt.shard_by_rank && opt.shard.index != 0)) {
      std::fprintf(stderr, "logitscope: warning: %s does not record its models' weights (an older logitscope "
                   "started it): going on without checking that the checkpoints are the ones it began with\n",
                   where.c_str());
    }
    return true;
  };
  // A shard's work ends in a merge into <out>/results.sqlite: refuse now, not after the work,
  // when that holds another run.
  if (opt.shard.sharded() && !opt.force && io::file_exists(io::join_path(opt.out_dir, "results.sqlite"))) {
    results::ResultsDb merged(opt.out_dir, opt.keywords, false);
    if (!same_run(merged.args_hash(), merged.path())) {
      throw InputError(merged.path(), "stored run", "the run these shards belong to (the shards are merged into it)",
                       results::another_run(merged.args_json(), args) + "; use --force to replace it, or another --out");
    }
    // This run, computed in one process: its texts are there, not in shards (which would redo them).
    if (const results::RunMeta m = merged.run_meta(); m.n_shards == 0) {
      throw InputError(merged.path(), "stored run", "a run computed in shards (to resume it in shards)",
                       "this run computed in one process (" + std::to_string(merged.n_texts_done()) + " of " +
                           std::to_string(m.n_texts) + " texts done): run the same command without --shard or mpirun " +
                           "to resume it there, or pass --force to compute it again in shards");
    }
  }
  // A run in one process where this run's shards are (an mpirun or --shard run, not merged yet):
  // their texts would be computed again.
  if (!opt.shard.sharded() && !opt.force && !io::file_exists(db_path) && io::is_directory(io::join_path(opt.out_dir, "shards"))) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(io::join_path(opt.out_dir, "shards"), ec)) {
      results::ShardSpec spec;
      const std::string shard_db = io::join_path(e.path().string(), "results.sqlite");
      if (!results::parse_shard_dir_name(e.path().filename().string(), &spec) || !io::file_exists(shard_db)) continue;
      results::ResultsDb shard(e.path().string(), opt.keywords, false);
      if (shard.args_hash() != args_hash) continue;
      throw InputError(io::join_path(opt.out_dir, "shards"), "", "no shards of this run (to compute it in one process)",
                       "this run split " + std::to_string(spec.count) + " ways (shard " + e.path().filename().string() +
                           " holds " + std::to_string(shard.n_texts_done()) + " texts done): resume it as it was started " +
                           "(mpirun -np " + std::to_string(spec.count) + ", or run --shard I/" + std::to_string(spec.count) +
                           " for each I, then logitscope merge --out " + opt.out_dir + "), or pass --force to compute it here");
    }
  }
  io::make_dirs(results_dir, "the results directory");  // (after the refusals above: they leave no folder)
  bool replace = false;  // the directory holds another run, replaced (--force) or one never stored
  if (io::file_exists(db_path)) {
    std::string stored, stored_args;
    {
      results::ResultsDb old(results_dir, opt.keywords, false);
      stored = old.args_hash();
      stored_args = old.args_json();
    }
    // A database without a stored run (its creation stopped before the run's first commit)
    // holds nothing to keep: it is replaced as with --force.
    replace = !same_run(stored, db_path);
    if (replace && !opt.force && !stored.empty()) {
      throw InputError(db_path, "stored run", "the same arguments as this command (to resume it)",
                       results::another_run(stored_args, args) + "; use --force to replace it, or another --out");
    }
  }
  lock.emplace(results_dir);  // before anything is removed or written (a refusal above leaves no lock file)
  if (replace) {
    // With the replaced run's outputs (a stop before the new run writes its own must not leave
    // them beside it).
    for (const char* f : {"results.sqlite", "results.sqlite-wal", "results.sqlite-shm", "summary.json", "stats.json",
                          "stats.md", "report.html"}) {
      if (std::error_code ec; !fs::remove(io::join_path(results_dir, f), ec) && ec) {
        throw IoError(io::join_path(results_dir, f) + ": cannot remove it to replace the run (--force): " + ec.message());
      }
    }
  }
  const bool fresh = !io::file_exists(db_path);
  auto db_owner = std::make_unique<results::ResultsDb>(results_dir, opt.keywords, true);
  results::ResultsDb& db = *db_owner;
  if (!fresh && !opt.quiet && !(opt.shard_by_rank && opt.shard.index != 0)) {
    // A run resumed by another logitscope: its texts may be computed by different code.
    const std::string started_by = db.run_meta().program_version;
    if (!started_by.empty() && started_by != program_version()) {
      std::fprintf(stderr, "logitscope: warning: %s was started by logitscope %s; this is %s: the texts each "
                   "computes may differ where the computations changed (use --force to redo them all)\n",
                   db_path.c_str(), started_by.c_str(), program_version().c_str());
    }
  }
  if (fresh) {
    io::Transaction tx(db.db());
    results::RunMeta meta;
    meta.program_version = program_version();
    meta.args_json = args;
    meta.args_hash = args_hash;
    meta.template_name = opt.template_spec;
    meta.top_k = opt.top_k;
    meta.window = opt.window;
    meta.lens = opt.lens_spec;
    meta.lens_at = opt.lens_at;
    if (opt.lens_spec != "none") meta.similarity_left_out = similarity_left_out(models);
    meta.max_tokens = run.max_tokens;
    meta.n_texts = run.n_texts;
    meta.n_truncated = run.n_truncated;
    meta.n_skipped = static_cast<int64_t>(data.errors.size());
    meta.data_path = io::absolute_path(opt.data_path);
    meta.data_sha256 = data_sha;
    meta.sharded = opt.shard.sharded();
    meta.shard = opt.shard;
    meta.shard_texts = static_cast<int64_t>(mine.size());
    db.write_new_run(meta);
    for (size_t m = 0; m < models.size(); ++m) {
      const auto& lm = models[m];
      const auto& c = lm.model->config();
      results::ModelRow r;
      r.name = lm.name;
      r.path = io::absolute_path(lm.dir);
      r.model_type = c.model_type;
      for (const auto& [dt, bytes] : lm.model->checkpoint().used_bytes_by_dtype()) r.dtypes += (r.dtypes.empty() ? "" : ",") + dt;
      r.n_params = model::parameter_count(c);
      r.vocab_size = c.vocab_size;
      r.config_sha256 = io::sha256_file(io::join_path(lm.dir, "config.json"));
      r.tokenizer_path = io::absolute_path(lm.tokenizer_path);
      r.tokenizer_sha256 = lm.tokenizer_sha256;
      r.template_name = lm.tmpl.name;
      const model::PrecisionUsed used = lm.model->precision_used(precision);
      r.precision = run.gpu != nullptr ? run.gpu->method(m) : used.method();
      r.isa = run.gpu != nullptr ? run.gpu->device().describe() : used.isa;  // the GPU: device, name, driver, runtime
      db.insert_model(int64_t(m), r);
    }
    for (size_t f = 0; f < families.size(); ++f) db.insert_family(int64_t(f), families[f]);
    for (const TextJob* job : mine) {
      const io::Record& r = *job->rec;
      db.insert_text(job->text_idx, {r.id, r.source, r.query, r.answer, r.line, r.level, r.is_correct});
    }
    for (size_t i = 0; i < data.errors.size(); ++i) db.insert_skipped(data.bad_lines[i], data.errors[i]);
    tx.commit();
  }

  return db_owner;
}

}  // namespace

bool write_outputs(const std::string& out_dir, bool quiet) {
  results::ResultsDb db(out_dir, {}, false);
  results::write_summary(db, out_dir);
  if (!quiet) std::fprintf(stderr, "logitscope: statistics\n");
  results::write_stats(db, out_dir, stats::StatsOptions{});
  if (!quiet) std::fprintf(stderr, "logitscope: report\n");
  report::ReportOptions ro;
  ro.quiet = quiet;
  // The results and statistics are committed by now: a report that cannot be built (plotly.js
  // not installed) is a warning with the fix, not a failed run. `logitscope report` redoes it.
  try {
    const auto rep = report::write_report(out_dir, io::join_path(out_dir, "report.html"), ro);
    if (!quiet) {
      for (const auto& w : rep.warnings) std::fprintf(stderr, "logitscope: report: %s\n", w.c_str());
    }
    return true;
  } catch (const InputError& e) {
    std::fprintf(stderr, "logitscope: warning: report.html not written: %s\n", e.what());
    return false;
  }
}

namespace {

// Whether the models' packed copies are kept one at a time (RunOptions::pack_residency). Says so
// when it matters (`print`: more than one group of texts, so models pack again).
bool one_packed_model_at_a_time(const std::vector<LoadedModel>& models, model::Precision precision,
                                const RunOptions& opt, bool print) {
  int64_t need = 0;
  int packing = 0;
  for (const LoadedModel& lm : models) {
    if (lm.model->precision_used(precision).precision == model::Precision::FP32) continue;
    need += lm.model->pack_bytes_needed(precision);
    ++packing;
  }
  if (packing < 2 || opt.pack_residency == RunOptions::PackResidency::AllModels) return false;
  const int64_t avail = opt.max_memory_gib > 0 ? static_cast<int64_t>(opt.max_memory_gib * double(int64_t{1} << 30))
                                               : io::available_memory_bytes();
  const bool one = opt.pack_residency == RunOptions::PackResidency::OneModel ||
                   (avail >= 0 && need + (int64_t{2} << 30) > avail);
  if (one && print) {
    std::fprintf(stderr, "logitscope: the packed bf16 weights of the %d models (%.2f GiB) do not fit together in %.2f GiB: "
                 "one model's are kept at a time (each model packs again for each group of texts)\n",
                 packing, double(need) / double(int64_t{1} << 30), double(avail) / double(int64_t{1} << 30));
  }
  return one;
}

}  // namespace

int run(const RunOptions& opt_in) {
  RunOptions opt = opt_in;
  const auto t_start = std::chrono::steady_clock::now();
  if (opt.models.empty()) throw UsageError("give at least one --model NAME=DIR");
  if (opt.keywords.empty()) opt.keywords = analysis::default_keywords();
  opt.lens_spec = canonical_lens_spec(opt.lens_spec);
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  const model::Precision precision = opt.precision;
  {
    std::set<std::string> names;
    for (const auto& [name, dir] : opt.models) {
      if (!names.insert(name).second) {
        throw UsageError("--model: the name '" + name + "' is given twice (a --model without NAME= is named after " +
                         "its folder: give NAME=DIR)");
      }
    }
  }
  {
    // Two keywords are one family when they fold to the same text, and two families share a
    // results column when they differ only in characters other than letters and digits.
    std::map<std::string, std::string> by_name, by_column;
    for (const auto& k : opt.keywords) {
      const std::string name = analysis::fold_case(k);
      if (const auto [it, fresh] = by_name.emplace(name, k); !fresh) {
        throw UsageError("--keywords: '" + it->second + "' and '" + k +
                         "' are the same keyword (keywords match case-insensitively): give it once");
      }
      const std::string column = results::ResultsDb::propensity_column(name);
      if (const auto [it, fresh] = by_column.emplace(column, k); !fresh) {
        throw UsageError("--keywords: '" + it->second + "' and '" + k + "' would share the results column " + column +
                         " (characters other than ASCII letters and digits become _): give only one of them");
      }
    }
  }
  const bool rank0 = !(opt.shard_by_rank && opt.shard.index != 0);  // warnings once under mpirun

  // Progress from the first moment: loading and tokenizing large inputs takes minutes too.
  Progress progress(opt.quiet, opt.progress_interval);

  // Before any forward pass: everything validated, planned and checked to fit.
  progress.set_phase("reading " + opt.data_path);
  const io::Dataset data = read_dataset(opt, rank0);
  std::vector<LoadedModel> models = load_models(opt, progress);
  check_lens_options(opt, models);  // sets each model's lens_layers
  // Tensors config.json does not call for (a layer count cut by hand, another architecture's
  // extras) mean the model that runs is not the one stored: said as inspect says it, --quiet too.
  for (const auto& m : models) {
    const std::string unused = model::unused_tensors_warning(*m.model);
    if (!unused.empty() && rank0) std::fprintf(stderr, "logitscope: warning: model '%s': %s\n", m.name.c_str(), unused.c_str());
  }
  const LengthCut cut = length_cut(models, opt.max_tokens);
  if (opt.max_tokens > 0 && cut.context > 0 && opt.max_tokens > cut.context && rank0) {
    std::fprintf(stderr, "logitscope: warning: --max-tokens %lld is longer than model '%s''s context (max_position_embeddings %lld): "
                 "positions past it are outside what the model was trained on\n",
                 static_cast<long long>(opt.max_tokens), cut.context_model.c_str(), static_cast<long long>(cut.context));
  }
  progress.set_phase("keyword families");
  const std::vector<analysis::KeywordFamily> families = agreed_families(models, opt.keywords);
  for (const auto& f : families) {
    if (!f.prefix || opt.quiet || !rank0) continue;
    std::fprintf(stderr, "logitscope: keyword '%s' is no single token of the vocabulary: its propensity is an upper bound, "
                 "the probability of the first tokens of its forms (%zu ids; the families table lists them, prefix = 1)\n",
                 f.name.c_str(), f.token_ids.size());
  }
  progress.set_phase("tokenizing " + counted(int64_t(data.records.size()), "text") + " under " +
                     std::to_string(models.size()) + " model(s)");
  TextPlans planned = plan_texts(data, models, cut, opt.data_path);
  add_lens_sites(planned.jobs, models, families, opt);
  if (opt.lens_spec != "none" && !opt.quiet && rank0) print_lens_plan(planned.jobs, models, opt);
  const std::vector<TextJob>& jobs = planned.jobs;
  // A warning, not progress: printed with --quiet too (once under mpirun: by rank 0).
  if (planned.n_truncated > 0 && rank0) {
    // Cut by a model's context, not by the user: say how to read them whole (a base model such as
    // Qwen2.5-Math-7B has 4096 positions, shorter than the traces of its RL descendants).
    const std::string longest = std::to_string(planned.longest_full);
    const std::string whole = opt.max_tokens > 0 ? ""
                              : "; the longest is " + longest + " tokens: --max-tokens " + longest +
                                    " reads them whole, past model '" + cut.context_model + "''s context";
    std::fprintf(stderr, "logitscope: %lld of %zu texts are longer than %s and were truncated at the end%s\n",
                 static_cast<long long>(planned.n_truncated), jobs.size(), cut.name.c_str(), whole.c_str());
  }
  const std::vector<const TextJob*> mine = texts_of_this_process(jobs, opt.shard);
  const std::string results_dir = opt.shard.sharded() ? results::shard_dir(opt.out_dir, opt.shard) : opt.out_dir;
  progress.clear_line();
  check_memory(models, mine, opt, !opt.quiet);
  // --device cuda: every model's weights onto the GPU once (checked against its free memory).
  std::unique_ptr<gpu::GpuModels> gpu_models;
  if (gpu::is_cuda_spec(opt.device)) {
    std::string why;
    const auto devices = gpu::cuda_devices(&why);
    if (devices.empty()) throw DeviceError("--device " + opt.device + ": " + why);
    const int device = gpu::parse_device(opt.device, opt.shard_by_rank ? opt.shard.index : 0, int(devices.size()));
    int64_t longest = 1;
    for (const TextJob* j : mine) {
      for (const TextPlan& p : j->plans) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.ids.size()));
    }
    std::vector<const model::Model*> ms;
    for (const LoadedModel& m : models) ms.push_back(m.model.get());
    progress.set_phase("uploading the models to cuda:" + std::to_string(device));
    gpu_models = gpu::GpuModels::create(device, ms, precision, longest, opt.top_k, families);
    if (!opt.quiet && rank0) {
      std::fprintf(stderr, "logitscope: device %s; products: %s\n", gpu_models->device().describe().c_str(),
                   gpu_models->method(0).c_str());
    }
  } else if (!opt.quiet && rank0) {
    // What computes, as the manifest records it: one method for all models, or each model's.
    std::vector<std::string> methods;
    for (const LoadedModel& m : models) {
      const model::PrecisionUsed used = m.model->precision_used(precision);
      methods.push_back(used.method() + " (" + used.isa + ")");
    }
    std::string products = methods[0];
    if (std::count(methods.begin(), methods.end(), methods[0]) != static_cast<long>(methods.size())) {
      products.clear();
      for (size_t m = 0; m < models.size(); ++m) {
        products += (m > 0 ? ", " : "") + std::string("model '") + models[m].name + "' " + methods[m];
      }
    }
    std::fprintf(stderr, "logitscope: CPU %s, %d threads; products: %s\n", cpu::cpu_model_name().c_str(),
                 omp_get_max_threads(), products.c_str());
  }
  std::optional<io::DirLock> lock;  // one run at a time writes here (taken by open_results)
  const auto db_owner = open_results(
      opt, results_dir, lock, RunRecord{data, models, families, mine, static_cast<int64_t>(jobs.size()), planned.n_truncated,
                                  cut.max_tokens, precision, gpu_models.get()});
  results::ResultsDb& db = *db_owner;
  const std::string db_path = db.path();

  // The texts not yet done: forward passes group by group, then the measuring step text by text.
  std::vector<const TextJob*> todo;
  int64_t tokens_done = 0, texts_done = 0, my_tokens = 0;
  for (const TextJob* j : mine) {
    const int64_t n = j->tokens();
    my_tokens += n;
    if (db.text_done(j->text_idx)) {
      tokens_done += n;
      ++texts_done;
    } else {
      todo.push_back(j);
    }
  }
  progress.clear_line();
  if (!todo.empty() && texts_done > 0 && !opt.quiet) {
    std::fprintf(stderr, "logitscope: resuming the run in %s: %lld of %zu texts are done, %zu to compute\n",
                 db_path.c_str(), static_cast<long long>(texts_done), mine.size(), todo.size());
  }
  if (todo.empty()) {
    if (!opt.quiet) {
      std::fprintf(stderr, "logitscope: nothing to do: %s in %s %s done\n",
                   mine.size() == 1 ? "the 1 text" : ("all " + counted(int64_t(mine.size()), "text")).c_str(),
                   db_path.c_str(), mine.size() == 1 ? "is" : "are");
    }
  }
  progress.set_totals(static_cast<int64_t>(mine.size()), my_tokens, texts_done, tokens_done);
  InterruptScope interrupt(opt.interrupt);
  TextMeasurer measurer(models, families, opt, precision, gpu_models.get());
  const std::vector<size_t> group_end = group_ends(todo, models, opt.group_bytes);
  const bool one_packed =
      !gpu_models && one_packed_model_at_a_time(models, precision, opt, !opt.quiet && group_end.size() > 1);
  int64_t committed = 0;
  size_t next = 0;
  // This session's time per model (forward passes, and preparing its weights for the bf16
  // kernel) and in the measuring step: stored in meta.timing_json and printed at the end, so a
  // slow model in a run of several stands out.
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  struct ModelTiming {
    int64_t tokens = 0;
    double forward_s = 0, prepare_s = 0;
  };
  std::vector<ModelTiming> timing(models.size());
  double measure_s = 0;
  for (size_t g = 0; g < group_end.size() && !interrupt.requested(); ++g) {
    size_t end = group_end[g];
    const std::string group = group_end.size() > 1 ? ", group " + std::to_string(g + 1) + "/" + std::to_string(group_end.size()) : "";
    std::vector<std::vector<std::vector<float>>> hidden(end - next, std::vector<std::vector<float>>(models.size()));
    // --lens: the rows of the lens layers at each text's lens sites, kept by the passes' tap.
    std::vector<std::vector<LensRows>> lens_rows(end - next, std::vector<LensRows>(models.size()));
    const bool lens = opt.lens_spec != "none";
    for (size_t i = next; lens && i < end; ++i) {
      for (size_t m = 0; m < models.size(); ++m) {
        LensRows& L = lens_rows[i - next][m];
        L.layers = models[m].lens_layers;
        L.sites = &todo[i]->lens[m];
      }
    }
    // Passes done per text of the group: a text is measured once every model's pass of it is.
    std::vector<size_t> passes_done(end - next, 0);
    for (size_t m = 0; m < models.size() && !interrupt.requested(); ++m) {
      const std::string model_phase = "model '" + models[m].name + "' (" + std::to_string(m + 1) + "/" +
                                      std::to_string(models.size()) + ")" + group;
      model::ForwardOptions fo;
      fo.precision = precision;
      fo.on_layer = [&progress, &interrupt, &opt, m](int layers) {
        progress.layer_done(layers);
        if (opt.on_layer) opt.on_layer(m, layers);
        if (interrupt.requested()) throw PassStopped{};
      };
      if (!gpu_models && (g == 0 || one_packed) &&
          models[m].model->precision_used(precision).precision != model::Precision::FP32) {
        if (one_packed) {
          for (size_t k = 0; k < models.size(); ++k) {
            if (k != m) models[k].model->release_packed();
          }
        }
        const std::string rounded = models[m].model->precision_used(precision).rounded;
        progress.set_phase("preparing model '" + models[m].name + "' for the bf16 kernel (packing its weights" +
                           (rounded.empty() ? "" : ", the " + rounded + " ones rounded to bf16") + ")");
        const auto t_prepare = Clock::now();
        models[m].model->prepare(precision);
        timing[m].prepare_s += since(t_prepare);
        // The next model's files into the page cache while this one runs, where they fit beside it.
        const auto& next_model = *models[(m + 1) % models.size()].model;
        if (one_packed && next_model.pack_bytes_needed(precision) + (int64_t{2} << 30) <= io::available_memory_bytes()) {
          next_model.checkpoint().prefetch();
        }
      }
      progress.set_phase("forward passes, " + model_phase);
      size_t i = next;
      while (i < end && !interrupt.requested()) {
        const Pass pass = next_pass(todo, m, &i, end, gpu_models ? 1 : opt.batch_tokens);  // the GPU: a text per pass
        if (pass.texts.empty()) continue;
        if (lens) {
          std::vector<LensRows*> rows;
          std::vector<int64_t> starts;
          int64_t row = 0;
          for (size_t b = 0; b < pass.texts.size(); ++b) {
            rows.push_back(&lens_rows[pass.texts[b] - next][m]);
            starts.push_back(row);
            row += static_cast<int64_t>(pass.ids[b].size());
          }
          fo.tap = lens_tap(std::move(rows), std::move(starts));
        }
        progress.pass_begin(pass.rows, models[m].model->config().num_hidden_layers);
        const auto t_pass = Clock::now();
        try {
          if (gpu_models) {
            hidden[pass.texts[0] - next][m] = gpu_models->forward_hidden(m, pass.ids[0], fo);
          } else if (pass.texts.size() == 1) {
            hidden[pass.texts[0] - next][m] = models[m].model->forward_hidden(pass.ids[0], fo);
          } else {
            auto out = models[m].model->forward_hidden_batch(pass.ids, fo);
            for (size_t b = 0; b < pass.texts.size(); ++b) hidden[pass.texts[b] - next][m] = std::move(out[b]);
          }
        } catch (const PassStopped&) {
          break;  // its time and rows are not the model's rate: left out of the timings
        }
        timing[m].forward_s += since(t_pass);
        timing[m].tokens += pass.rows;
        for (const size_t t : pass.texts) ++passes_done[t - next];
        progress.pass_done();
      }
    }
    // Stopped during the passes: the texts every model has run are still measured and saved (the
    // passes are the costly part); the others' passes are dropped and run again on resuming.
    size_t n_ready = 0;
    for (const size_t n : passes_done) n_ready += n == models.size() ? 1 : 0;
    if (interrupt.requested() && !opt.quiet) {
      progress.clear_line();
      std::fprintf(stderr, "logitscope: stopping: saving the %s whose passes every model has done (%zu more "
                   "of this group are left for the next run)\n",
                   counted(int64_t(n_ready), "text").c_str(), (end - next) - n_ready);
    }
    progress.set_phase("measuring and committing " + std::to_string(n_ready) + " text(s), all models" + group);
    for (size_t i = next; i < end; ++i) {
      if (passes_done[i - next] != models.size()) continue;
      progress.measure_begin();
      const auto t_measure = Clock::now();
      measurer.measure_and_write(*todo[i], hidden[i - next], lens_rows[i - next], db);
      measure_s += since(t_measure);
      hidden[i - next] = {};  // the text's rows are committed: give them back
      progress.text_committed(todo[i]->tokens());
      if (opt.on_text_committed) opt.on_text_committed(++committed);
    }
    next = end;
  }
  const bool interrupted = interrupt.requested();
  progress.set_phase(interrupted ? "interrupted" : "forward passes and measuring done");
  progress.finish();
  const double session_s = since(t_start);
  // A session that found every text done computed nothing: the run's compute time and its last
  // working session's timings stay as they were.
  const bool computed = !todo.empty();
  const results::RunMeta stored = db.run_meta();  // its status and compute time before this session's end
  const double compute_seconds = computed ? db.add_compute_seconds(session_s) : stored.compute_seconds;
  if (computed) {
    io::Json t = io::Json::object();
    t["session_s"] = session_s;
    t["measure_s"] = measure_s;
    io::Json per_model = io::Json::array();
    for (size_t m = 0; m < models.size(); ++m) {
      const ModelTiming& mt = timing[m];
      const double rate = mt.forward_s > 0 ? double(mt.tokens) / mt.forward_s : 0.0;
      io::Json j = io::Json::object();
      j["name"] = models[m].name;
      j["forward_tokens"] = mt.tokens;
      j["forward_s"] = mt.forward_s;
      j["tokens_per_second"] = rate;
      j["prepare_s"] = mt.prepare_s;
      per_model.push_back(j);
      if (!opt.quiet && mt.tokens > 0) {
        std::fprintf(stderr, "logitscope: model '%s': %lld tokens in %s of forward passes (%.1f tok/s)", models[m].name.c_str(),
                     static_cast<long long>(mt.tokens), format_seconds(mt.forward_s).c_str(), rate);
        if (mt.prepare_s > 0) std::fprintf(stderr, ", weights packed in %.1f s", mt.prepare_s);
        std::fprintf(stderr, "\n");
      }
    }
    t["models"] = per_model;
    db.set_session_timing(t.dump());
    if (!opt.quiet && measure_s > 0) {
      std::fprintf(stderr, "logitscope: measuring step (statistics of every row, divergences of every pair): %s\n",
                   format_seconds(measure_s).c_str());
    }
  }
  if (interrupted) {
    db.set_status("interrupted");
    std::fprintf(stderr, "logitscope: interrupted: %lld of %zu texts done and saved in %s; run the same command again to continue\n",
                 static_cast<long long>(db.n_texts_done()), mine.size(), db_path.c_str());
    return interrupted_exit_code();
  }
  if (computed || stored.status != "finished") db.mark_finished(my_tokens, compute_seconds);
  if (opt.shard.sharded()) {
    if (!opt.quiet && !opt.shard_by_rank) {
      std::fprintf(stderr, "logitscope: shard %d/%d done: %zu of %zu texts, %lld tokens in %s; when every shard is done: logitscope merge --out %s\n",
                   opt.shard.index, opt.shard.count, mine.size(), jobs.size(), static_cast<long long>(my_tokens),
                   results_dir.c_str(), opt.out_dir.c_str());
    }
    return kExitOk;
  }
  interrupt.release();  // a signal now stops the statistics and report as any program (exit 130/143)
  if (interrupt.requested()) {  // one that came after the last text
    std::fprintf(stderr, "logitscope: interrupted: every text is saved in %s; the same command writes the "
                 "statistics and report\n", db_path.c_str());
    return interrupted_exit_code();
  }
  const bool report_written = write_outputs(opt.out_dir, opt.quiet);
  if (!opt.quiet) {
    std::fprintf(stderr, "logitscope: done: %s, %s over %zu model(s) in %s; results, stats%s in %s\n",
                 counted(int64_t(jobs.size()), "text").c_str(), counted(planned.total_tokens, "token").c_str(),
                 models.size(), format_duration(session_s).c_str(),
                 report_written ? " and report.html" : "", opt.out_dir.c_str());
  }
  return kExitOk;
}

}  // namespace lsc::pipeline
