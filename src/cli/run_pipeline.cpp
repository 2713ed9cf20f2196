// `logitscope run`: orchestration. Phase 0 validates everything (dataset, checkpoints,
// tokenizers, agreement over answers) before any forward pass; phase 1 runs each model over a
// group of texts keeping only final hidden states; phase 2 recomputes LM-head rows of all models
// side by side, measures positions and pairs, and commits each text in one transaction.
#include "cli/run_pipeline.h"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "analysis/keywords.h"
#include "analysis/position_metrics.h"
#include "analysis/text_layout.h"
#include "cli/progress.h"
#include "cli/shard.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "io/sha256.h"
#include "kernels/cpu/kernels.h"
#include "model/model.h"
#include "report/aggregate.h"
#include "report/html_report.h"
#include "report/stats_input.h"
#include "report/results_db.h"
#include "tokenizer/tokenizer.h"

namespace lsc::cli {

namespace {

namespace fs = std::filesystem;
using analysis::Span;

constexpr const char* kProgramVersion = "0.1.0";
// Hidden states kept between phase 1 and phase 2: texts are grouped so that all models' final
// hidden states of a group fit in this many bytes (LSC_GROUP_BYTES overrides it; tests use it
// to show that grouping does not change results).
int64_t group_hidden_bytes() {
  const char* env = std::getenv("LSC_GROUP_BYTES");
  return env != nullptr && *env != '\0' ? std::max<int64_t>(1, std::atoll(env)) : int64_t{1} << 30;
}

// Rows of one forward pass when several short texts share it (LSC_BATCH_TOKENS; 1 = one text per
// pass). One bf16 tile is 512 rows; results do not depend on it (forward_hidden_batch).
int64_t batch_token_limit() {
  const char* env = std::getenv("LSC_BATCH_TOKENS");
  return env != nullptr && *env != '\0' ? std::max<int64_t>(1, std::atoll(env)) : 512;
}

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

struct LoadedModel {
  std::string name, dir, tokenizer_path, tokenizer_sha256;
  std::unique_ptr<model::Model> model;
  std::shared_ptr<const tok::Tokenizer> tokenizer;  // shared by models whose tokenizer.json is the same file content
  analysis::Template tmpl;
};

// One record as one model reads it.
struct TextPlan {
  analysis::TextLayout layout;
  std::vector<int32_t> ids;
  std::vector<std::pair<int64_t, int64_t>> offsets;
  std::vector<Span> spans;
  int64_t n_full = 0;
  bool truncated = false;
  int64_t answer_first = 0, n_answer = 0;  // answer positions [answer_first, answer_first + n_answer)
};

struct TextJob {
  int64_t text_idx = 0;
  const io::Record* rec = nullptr;
  std::vector<TextPlan> plans;  // per model
  int64_t n_common = 0;         // answer tokens present (and identical) under every model
};

analysis::Template template_for(const std::string& spec, const tok::Tokenizer& t, const std::string& model_name) {
  if (spec != "chat") return analysis::make_template(spec);
  if (t.token_to_id("<|im_start|>") >= 0) return analysis::chatml_template();
  if (t.token_to_id("<｜User｜>") >= 0) return analysis::r1_template();
  throw UsageError("--template chat: model '" + model_name +
                   "' has neither ChatML (<|im_start|>) nor R1 (<｜User｜>) special tokens; give a pattern instead");
}

TextPlan plan_text(const LoadedModel& m, const io::Record& r, int64_t max_tokens) {
  TextPlan p;
  p.layout = analysis::apply_template(m.tmpl, r.query, r.answer);
  tok::Encoding enc = m.tokenizer->encode(p.layout.text, m.tmpl.add_special_tokens);
  p.n_full = static_cast<int64_t>(enc.ids.size());
  const size_t keep = static_cast<size_t>(std::min<int64_t>(p.n_full, max_tokens));
  p.truncated = keep < enc.ids.size();
  p.ids.assign(enc.ids.begin(), enc.ids.begin() + static_cast<long>(keep));
  for (size_t i = 0; i < keep; ++i) p.offsets.emplace_back(enc.offsets[i].first, enc.offsets[i].second);
  p.spans = analysis::token_spans(p.layout, p.offsets);
  p.answer_first = static_cast<int64_t>(p.ids.size());
  for (size_t i = 0; i < p.spans.size(); ++i) {
    if (analysis::in_answer(p.spans[i])) {
      if (p.n_answer == 0) p.answer_first = static_cast<int64_t>(i);
      ++p.n_answer;
    }
  }
  return p;
}

std::string canonical_args(const RunOptions& o, const std::vector<LoadedModel>& models, const std::string& data_sha) {
  io::Json j;
  io::Json ms = io::Json::array();
  for (const auto& m : models) {
    ms.push_back({{"name", m.name},
                  {"path", fs::absolute(m.dir).lexically_normal().string()},
                  {"config_sha256", io::sha256_file(io::join_path(m.dir, "config.json"))}});
  }
  j["models"] = ms;
  j["data"] = {{"path", fs::absolute(o.data_path).lexically_normal().string()}, {"sha256", data_sha}};
  j["keywords"] = o.keywords;
  j["template"] = o.template_spec;
  j["max_tokens"] = o.max_tokens;
  j["top_k"] = o.top_k;
  j["window"] = o.window;
  j["limit"] = o.limit;
  j["skip_invalid"] = o.skip_invalid;
  j["fields"] = o.fields;
  j["precision"] = o.precision;
  return j.dump();
}

// Phase 2 for one text: every row of every model, pairs over the common answer, occurrences and
// windows; all rows of the text go into the database in one transaction.
class TextMeasurer {
 public:
  TextMeasurer(const std::vector<LoadedModel>& models, const std::vector<analysis::KeywordFamily>& families,
               const RunOptions& opt, model::Precision precision)
      : models_(models), families_(families), opt_(opt), precision_(precision) {}

  void measure_and_write(const TextJob& job, const std::vector<std::vector<float>>& hidden, report::ResultsDb& db);

 private:
  // rows[t] = summary of model m's row t−1 (the prediction of token t); rows[0] unused.
  void summarize_range(size_t m, const TextPlan& p, const std::vector<float>& hidden, int64_t pos_begin,
                       int64_t pos_end, std::vector<analysis::RowSummary>& rows);

  const std::vector<LoadedModel>& models_;
  const std::vector<analysis::KeywordFamily>& families_;
  const RunOptions& opt_;
  model::Precision precision_;
  std::vector<std::vector<float>> logits_;  // per model, one chunk
};

void TextMeasurer::summarize_range(size_t m, const TextPlan& p, const std::vector<float>& hidden, int64_t pos_begin,
                                   int64_t pos_end, std::vector<analysis::RowSummary>& rows) {
  const model::Model& mdl = *models_[m].model;
  const int64_t h = mdl.config().hidden_size, vocab = mdl.config().vocab_size;
  const int64_t chunk = mdl.chunk_rows(cpu::kBf16RowTile);
  pos_begin = std::max<int64_t>(pos_begin, 1);
  for (int64_t t0 = pos_begin; t0 < pos_end; t0 += chunk) {
    const int64_t n = std::min(chunk, pos_end - t0);
    logits_[m].resize(static_cast<size_t>(n * vocab));
    mdl.lm_head(hidden.data() + (t0 - 1) * h, n, logits_[m].data(), precision_);
    // Row i predicts token t0 + i. Each row is reduced whole by one thread (no thread dependence).
    analysis::summarize_rows(logits_[m].data(), n, vocab, p.ids.data() + t0, opt_.top_k, families_, &rows[size_t(t0)]);
  }
}

void TextMeasurer::measure_and_write(const TextJob& job, const std::vector<std::vector<float>>& hidden,
                                     report::ResultsDb& db) {
  const size_t n_models = models_.size();
  logits_.resize(n_models);
  std::vector<std::vector<analysis::RowSummary>> rows(n_models);
  std::vector<std::vector<double>> kl_sum(n_models);
  std::vector<std::vector<int>> kl_n(n_models);
  for (size_t m = 0; m < n_models; ++m) {
    const int64_t T = static_cast<int64_t>(job.plans[m].ids.size());
    rows[m].resize(static_cast<size_t>(T));
    kl_sum[m].assign(static_cast<size_t>(T), 0.0);
    kl_n[m].assign(static_cast<size_t>(T), 0);
  }
  // Common answer positions of all models, in chunks, side by side: per-model rows and pairs.
  // answer index k sits at position answer_first_m + k in model m (templates may differ).
  int64_t k_begin = 0;
  for (size_t m = 0; m < n_models; ++m) k_begin = std::max<int64_t>(k_begin, 1 - job.plans[m].answer_first);
  const int64_t k_end = job.n_common;
  std::vector<std::vector<report::PairRow>> pair_rows(n_models * n_models);
  // One chunk of rows per model must fit summarize_range's single LM-head call; a whole bf16 row
  // tile, so the bf16 LM head computes no padding rows inside a text.
  int64_t chunk = cpu::kBf16RowTile;
  for (size_t m = 0; m < n_models; ++m) chunk = std::min(chunk, models_[m].model->chunk_rows(cpu::kBf16RowTile));
  for (int64_t k0 = k_begin; k0 < k_end; k0 += chunk) {
    const int64_t n = std::min(chunk, k_end - k0);
    for (size_t m = 0; m < n_models; ++m) {
      const int64_t p0 = job.plans[m].answer_first + k0;
      summarize_range(m, job.plans[m], hidden[m], p0, p0 + n, rows[m]);
    }
    // summarize_range left each model's last chunk of logits in logits_[m] (n ≤ its chunk size).
    for (size_t a = 0; a < n_models; ++a) {
      for (size_t b = a + 1; b < n_models; ++b) {
        const int64_t va = models_[a].model->config().vocab_size, vb = models_[b].model->config().vocab_size;
        std::vector<report::PairRow> chunk_rows(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
          const int64_t k = k0 + i;
          const int64_t pa = job.plans[a].answer_first + k, pb = job.plans[b].answer_first + k;
          report::PairRow& r = chunk_rows[size_t(i)];
          r.answer_idx = k;
          r.pos_a = pa;
          r.pos_b = pb;
          const auto& ra = rows[a][size_t(pa)];
          const auto& rb = rows[b][size_t(pb)];
          analysis::compare_rows({logits_[a].data() + i * va, size_t(va)}, {logits_[b].data() + i * vb, size_t(vb)},
                                 ra, rb, &r.d);
          r.dlogp = rb.logprob - ra.logprob;
          r.top1_agree = ra.top1 == rb.top1;
          r.rank_shift = rb.rank - ra.rank;
        }
        for (int64_t i = 0; i < n; ++i) {
          const report::PairRow& r = chunk_rows[size_t(i)];
          kl_sum[a][size_t(r.pos_a)] += r.d.kl_ab;
          ++kl_n[a][size_t(r.pos_a)];
          kl_sum[b][size_t(r.pos_b)] += r.d.kl_ba;
          ++kl_n[b][size_t(r.pos_b)];
          pair_rows[a * n_models + b].push_back(r);
        }
      }
    }
  }
  // Every other position of each model (prompt, template suffix, answer past the common part).
  for (size_t m = 0; m < n_models; ++m) {
    const TextPlan& p = job.plans[m];
    const int64_t T = static_cast<int64_t>(p.ids.size());
    const int64_t c0 = p.answer_first + k_begin, c1 = p.answer_first + k_end;
    if (c0 < c1) {
      summarize_range(m, p, hidden[m], 1, c0, rows[m]);
      summarize_range(m, p, hidden[m], c1, T, rows[m]);
    } else {
      summarize_range(m, p, hidden[m], 1, T, rows[m]);
    }
  }

  io::Transaction tx(db.db());
  db.delete_text_rows(job.text_idx);
  for (size_t m = 0; m < n_models; ++m) {
    const TextPlan& p = job.plans[m];
    const int64_t T = static_cast<int64_t>(p.ids.size());
    report::TextModelRow tm{T, p.n_full, p.answer_first, p.n_answer, p.truncated, p.layout.text,
                            p.layout.answer_begin, p.layout.answer_end};
    db.insert_text_model(job.text_idx, int64_t(m), tm);
    std::vector<report::PositionRow> pos(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
      auto& r = pos[size_t(t)];
      r.pos = t;
      r.token = p.ids[size_t(t)];
      r.char_begin = p.offsets[size_t(t)].first;
      r.char_end = p.offsets[size_t(t)].second;
      r.span = p.spans[size_t(t)];
      r.has_metrics = t >= 1;
      if (t >= 1) r.m = std::move(rows[m][size_t(t)]);
    }
    // Occurrences of keywords in this model's token layout, and windows around them.
    const auto occs = analysis::find_occurrences(p.layout.text, p.layout.answer_begin, p.layout.answer_end, families_,
                                                 p.offsets);
    for (const auto& o : occs) {
      if (o.char_end > p.offsets.back().second || o.tok_begin < 1) continue;  // cut by truncation, or no prediction
      report::OccurrenceRow row;
      row.occ = o;
      row.family = families_[size_t(o.family)].name;
      for (int64_t t = o.tok_begin; t < o.tok_end; ++t) row.logprob_word += pos[size_t(t)].m.logprob;
      row.logprob_first = pos[size_t(o.tok_begin)].m.logprob;
      row.rank_first = pos[size_t(o.tok_begin)].m.rank;
      row.entropy_before = pos[size_t(o.tok_begin)].m.entropy_nats;
      const int64_t occ_idx = db.insert_occurrence(job.text_idx, int64_t(m), o.family, row);
      for (int64_t off = -opt_.window; off <= opt_.window; ++off) {
        const int64_t t = o.tok_begin + off;
        if (t < 1 || t >= T) continue;
        report::WindowRow w;
        w.offset = off;
        w.pos = t;
        w.logprob = pos[size_t(t)].m.logprob;
        w.entropy = pos[size_t(t)].m.entropy_nats;
        w.rank = pos[size_t(t)].m.rank;
        w.propensity = static_cast<double>(pos[size_t(t)].m.propensity[size_t(o.family)]);
        w.has_kl = kl_n[m][size_t(t)] > 0;
        if (w.has_kl) w.kl_mean = kl_sum[m][size_t(t)] / kl_n[m][size_t(t)];
        db.insert_window(occ_idx, int64_t(m), w);
      }
    }
    db.insert_positions(job.text_idx, int64_t(m), pos);
  }
  for (size_t a = 0; a < n_models; ++a) {
    for (size_t b = a + 1; b < n_models; ++b) db.insert_pairs(job.text_idx, int64_t(a), int64_t(b), pair_rows[a * n_models + b]);
  }
  db.mark_done(job.text_idx);
  tx.commit();
}

// The memory a run needs at its largest moment, and what is there: the largest model's weights
// (memory-mapped; the pages of the others can be dropped while it runs) plus the working memory
// of its largest pass (Model::activation_bytes, as `inspect --tokens` reports it), the hidden
// states of the largest group, and the LM-head chunks of the measuring step.
struct MemoryPlan {
  int64_t weights = 0, working = 0, hidden = 0, measuring = 0;
  int64_t total() const { return weights + working + hidden + measuring; }
};

MemoryPlan plan_memory(const std::vector<LoadedModel>& models, const std::vector<const TextJob*>& texts,
                       int64_t cut, int64_t batch_tokens, int64_t group_bytes) {
  MemoryPlan plan;
  int64_t total_hidden = 0, largest_text_hidden = 0;
  std::vector<int64_t> hidden_of(texts.size(), 0);
  for (size_t m = 0; m < models.size(); ++m) {
    const model::Model& mdl = *models[m].model;
    int64_t longest = 0, rows = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const int64_t n = std::min<int64_t>(cut, static_cast<int64_t>(texts[i]->plans[m].ids.size()));
      longest = std::max(longest, n);
      rows += n;
      hidden_of[i] += n * mdl.config().hidden_size * 4;
    }
    int64_t weights = 0;
    for (const auto& [dtype, bytes] : mdl.checkpoint().used_bytes_by_dtype()) weights += static_cast<int64_t>(bytes);
    const int64_t pass_rows = std::max(longest, std::min(batch_tokens, rows));  // batched short texts
    const int64_t working = mdl.activation_bytes(pass_rows);
    if (weights + working > plan.weights + plan.working) {
      plan.weights = weights;
      plan.working = working;
    }
    plan.measuring += mdl.chunk_rows(cpu::kBf16RowTile) * mdl.config().vocab_size * 4;
  }
  for (const int64_t b : hidden_of) {
    total_hidden += b;
    largest_text_hidden = std::max(largest_text_hidden, b);
  }
  plan.hidden = std::min(total_hidden, std::max(largest_text_hidden, group_bytes));
  return plan;
}

std::string gib(int64_t bytes) {
  char b[32];
  if (bytes >= int64_t{1} << 30) {
    std::snprintf(b, sizeof b, "%.2f GiB", double(bytes) / double(int64_t{1} << 30));
  } else {
    std::snprintf(b, sizeof b, "%.1f MiB", double(bytes) / double(1 << 20));
  }
  return b;
}

// Prints the longest text and what the run needs; refuses (before any forward pass) when that is
// more than the memory there is, naming the text and the options that fit.
void check_memory(const std::vector<LoadedModel>& models, const std::vector<const TextJob*>& texts,
                  const RunOptions& opt, int64_t batch_tokens, int64_t group_bytes, bool print) {
  if (texts.empty()) return;
  const TextJob* longest_job = texts.front();
  size_t longest_model = 0;
  int64_t longest = 0;
  for (const TextJob* j : texts) {
    for (size_t m = 0; m < models.size(); ++m) {
      const int64_t n = static_cast<int64_t>(j->plans[m].ids.size());
      if (n > longest) {
        longest = n;
        longest_job = j;
        longest_model = m;
      }
    }
  }
  const MemoryPlan need = plan_memory(models, texts, INT64_MAX, batch_tokens, group_bytes);
  const bool limited = opt.max_memory_gib > 0;
  const int64_t avail = limited ? static_cast<int64_t>(opt.max_memory_gib * double(int64_t{1} << 30))
                                : io::available_memory_bytes();
  const std::string text = "record '" + longest_job->rec->id + "' (" + opt.data_path + ":" +
                           std::to_string(longest_job->rec->line) + ")";
  const std::string needs = gib(need.weights) + " weights + " + gib(need.working) + " working memory + " +
                            gib(need.hidden + need.measuring) + " hidden states and LM-head rows = " + gib(need.total());
  const std::string have = avail < 0 ? "unknown memory available"
                                     : gib(avail) + (limited ? " allowed (--max-memory)" : " available");
  if (print) {
    std::fprintf(stderr, "logitscope: longest text: %s, %lld tokens under model '%s'; memory: %s of %s\n", text.c_str(),
                 static_cast<long long>(longest), models[longest_model].name.c_str(), needs.c_str(), have.c_str());
  }
  if (avail < 0 || need.total() <= avail) return;
  // The longest cut at which the run fits.
  int64_t lo = 1, hi = longest;  // plan(lo) fits (or nothing does), plan(hi) does not
  if (plan_memory(models, texts, 2, batch_tokens, group_bytes).total() > avail) {
    lo = 0;
  } else {
    lo = 2;
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      (plan_memory(models, texts, mid, batch_tokens, group_bytes).total() <= avail ? lo : hi) = mid;
    }
  }
  std::string fits = lo >= 2 ? "--max-tokens " + std::to_string(lo) + " (texts cut at " + std::to_string(lo) +
                                   " tokens fit), or a machine with more memory"
                             : "nothing on this machine: model '" + models[longest_model].name +
                                   "' needs more than is available even for a short text; use a machine with more memory";
  if (!limited) fits += " (other processes hold memory too: free some and retry)";
  throw InputError("the run does not fit in memory: " + text + " is " + std::to_string(longest) +
                   " tokens under model '" + models[longest_model].name + "'; a run over it needs " + needs + ", and " +
                   have + ". Options that fit: " + fits);
}

}  // namespace

bool write_outputs(const std::string& out_dir, bool quiet) {
  report::ResultsDb db(out_dir, {}, false);
  report::write_summary(db, out_dir);
  if (!quiet) std::fprintf(stderr, "logitscope: statistics\n");
  report::write_stats(db, out_dir, stats::StatsOptions{});
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

std::pair<std::string, std::string> parse_model_spec(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) {
    std::string name = fs::path(spec).lexically_normal().filename().string();
    if (name.empty()) name = fs::path(spec).lexically_normal().parent_path().filename().string();
    return {name, spec};
  }
  if (eq == 0 || eq + 1 == spec.size()) throw UsageError("--model: expected NAME=DIR, found \"" + spec + "\"");
  return {spec.substr(0, eq), spec.substr(eq + 1)};
}

int run_pipeline(const RunOptions& opt_in) {
  RunOptions opt = opt_in;
  const auto t_start = std::chrono::steady_clock::now();
  if (opt.models.empty()) throw UsageError("give at least one --model NAME=DIR");
  if (opt.keywords.empty()) opt.keywords = analysis::default_keywords();
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  const model::Precision precision = model::parse_precision(opt.precision, "--precision");
  {
    std::set<std::string> names;
    for (const auto& [name, dir] : opt.models) {
      if (!names.insert(name).second) throw UsageError("--model: the name '" + name + "' is given twice");
    }
  }

  // Progress from the first moment: loading and tokenizing large inputs takes minutes too.
  Progress progress(opt.quiet, opt.progress_interval);
  progress.set_phase("reading " + opt.data_path);

  // Phase 0: validate everything before any forward pass.
  io::Dataset data = io::load_dataset(opt.data_path, opt.fields);
  if (!data.errors.empty() && !opt.skip_invalid) {
    std::string msg = std::to_string(data.errors.size()) + " of " + std::to_string(data.n_lines) +
                      " lines are invalid (fix them, or pass --skip-invalid to run on the others):";
    for (const auto& e : data.errors) msg += "\n  " + e;
    throw InputError(msg);
  }
  if (data.records.empty()) throw InputError(opt.data_path, "", "at least one valid record", "none");
  if (opt.limit > 0 && static_cast<int64_t>(data.records.size()) > opt.limit) data.records.resize(size_t(opt.limit));

  std::vector<LoadedModel> models;
  std::map<std::string, std::shared_ptr<const tok::Tokenizer>> tokenizer_by_sha;  // a family's models share one
  for (const auto& [name, dir] : opt.models) {
    progress.set_phase("loading model '" + name + "' (" + std::to_string(models.size() + 1) + "/" +
                       std::to_string(opt.models.size()) + ")");
    LoadedModel m;
    m.name = name;
    m.dir = dir;
    try {
      m.model = model::Model::load(dir);
      m.tokenizer_path = io::join_path(dir, "tokenizer.json");
      m.tokenizer_sha256 = io::file_exists(m.tokenizer_path) ? io::sha256_file(m.tokenizer_path) : "";
      auto& shared = tokenizer_by_sha[m.tokenizer_sha256];
      if (shared == nullptr || m.tokenizer_sha256.empty()) {
        shared = std::make_shared<const tok::Tokenizer>(tok::load_tokenizer(dir));
      }
      m.tokenizer = shared;
      // Every id the tokenizer can produce (and every keyword id) must index a row of the model.
      if (m.tokenizer->vocab_size() > m.model->config().vocab_size) {
        throw InputError(
            m.tokenizer_path, "vocabulary",
            "at most " + std::to_string(m.model->config().vocab_size) +
                " token ids (vocab_size in config.json)",
            std::to_string(m.tokenizer->vocab_size()) + " ids: the tokenizer of another model?");
      }
      m.tmpl = template_for(opt.template_spec, *m.tokenizer, name);
    } catch (InputError& e) {
      e.add_context("model '" + name + "'");
      throw;
    }
    models.push_back(std::move(m));
  }

  // The length cut: --max-tokens, else the models' context (the smallest max_position_embeddings).
  int64_t context = 0;
  std::string context_model;
  for (const auto& m : models) {
    const int64_t mpe = m.model->config().max_position_embeddings;
    if (mpe > 0 && (context == 0 || mpe < context)) {
      context = mpe;
      context_model = m.name;
    }
  }
  const int64_t max_tokens = opt.max_tokens > 0 ? opt.max_tokens : context > 0 ? context : INT64_MAX;
  const std::string cut_name = opt.max_tokens > 0 ? "--max-tokens " + std::to_string(opt.max_tokens)
                                                  : "the models' context (" + std::to_string(context) +
                                                        " tokens, max_position_embeddings of model '" + context_model + "')";
  const bool rank0 = !(opt.shard_by_rank && opt.shard.index != 0);  // warnings once under mpirun
  if (opt.max_tokens > 0 && context > 0 && opt.max_tokens > context && rank0) {
    std::fprintf(stderr, "logitscope: warning: --max-tokens %lld is longer than model '%s''s context (max_position_embeddings %lld): "
                 "positions past it are outside what the model was trained on\n",
                 static_cast<long long>(opt.max_tokens), context_model.c_str(), static_cast<long long>(context));
  }

  // Keyword families from the first model's vocabulary; every model must give the same sets.
  progress.set_phase("keyword families");
  std::vector<analysis::KeywordFamily> families;
  {
    std::vector<std::vector<analysis::KeywordFamily>> per_model;
    for (size_t i = 0; i < models.size(); ++i) {
      const LoadedModel& m = models[i];
      if (i > 0 && m.tokenizer == models[i - 1].tokenizer) {  // the same tokenizer gives the same sets
        per_model.push_back(per_model.back());
        continue;
      }
      std::vector<std::string> texts(static_cast<size_t>(m.tokenizer->vocab_size()));
      for (size_t id = 0; id < texts.size(); ++id) texts[id] = m.tokenizer->decode_token(static_cast<int32_t>(id));
      auto first = [&](const std::string& s) {
        auto e = m.tokenizer->encode(s, false);
        return e.ids.empty() ? -1 : e.ids[0];
      };
      std::vector<analysis::KeywordFamily> fs;
      for (const auto& k : opt.keywords) fs.push_back(analysis::build_family(k, texts, first));
      per_model.push_back(std::move(fs));
    }
    families = per_model[0];
    for (size_t m = 1; m < models.size(); ++m) {
      for (size_t f = 0; f < families.size(); ++f) {
        if (per_model[m][f].token_ids != families[f].token_ids) {
          throw InputError("model '" + models[m].name + "'", "keyword family '" + families[f].name + "'",
                           "the same token ids as model '" + models[0].name + "' (the tokenizers must agree)",
                           std::to_string(per_model[m][f].token_ids.size()) + " ids vs " +
                               std::to_string(families[f].token_ids.size()));
        }
      }
    }
  }

  // Tokenize every text under every model; answers must agree token for token.
  progress.set_phase("tokenizing " + std::to_string(data.records.size()) + " texts under " +
                     std::to_string(models.size()) + " model(s)");
  std::vector<TextJob> jobs;
  int64_t n_truncated = 0, total_tokens = 0;
  for (size_t i = 0; i < data.records.size(); ++i) {
    TextJob job;
    job.text_idx = static_cast<int64_t>(i);
    job.rec = &data.records[i];
    job.n_common = INT64_MAX;
    bool truncated = false;
    for (const auto& m : models) {
      job.plans.push_back(plan_text(m, *job.rec, max_tokens));
      job.n_common = std::min(job.n_common, job.plans.back().n_answer);
      truncated |= job.plans.back().truncated;
      total_tokens += static_cast<int64_t>(job.plans.back().ids.size());
    }
    n_truncated += truncated ? 1 : 0;
    const std::string where = opt.data_path + ":" + std::to_string(job.rec->line);
    for (size_t m = 1; m < models.size(); ++m) {
      const TextPlan& a = job.plans[0];
      const TextPlan& b = job.plans[m];
      const bool cut = a.truncated || b.truncated;
      const int64_t n = std::min(a.n_answer, b.n_answer);
      for (int64_t k = 0; k <= n; ++k) {
        if (k == n && (cut || a.n_answer == b.n_answer)) break;
        const int32_t ia = k < a.n_answer ? a.ids[size_t(a.answer_first + k)] : -1;
        const int32_t ib = k < b.n_answer ? b.ids[size_t(b.answer_first + k)] : -1;
        if (ia != ib) {
          throw InputError(where, "record '" + job.rec->id + "', answer token " + std::to_string(k),
                           "the same token id under model '" + models[0].name + "' and model '" + models[m].name +
                               "' (models compared must share a tokenizer over the answer)",
                           std::to_string(ia) + " vs " + std::to_string(ib) + " (\"" +
                               (ia >= 0 ? models[0].tokenizer->decode_token(ia) : std::string("end")) + "\" vs \"" +
                               (ib >= 0 ? models[m].tokenizer->decode_token(ib) : std::string("end")) + "\")");
        }
      }
    }
    if (job.n_common == 0) {
      std::fprintf(stderr, "logitscope: warning: %s: record '%s' has no answer tokens within %s\n", where.c_str(),
                   job.rec->id.c_str(), cut_name.c_str());
    }
    jobs.push_back(std::move(job));
  }
  // A warning, not progress: printed with --quiet too (once under mpirun: by rank 0).
  if (n_truncated > 0 && rank0) {
    std::fprintf(stderr, "logitscope: %lld of %zu texts are longer than %s and were truncated at the end\n",
                 static_cast<long long>(n_truncated), jobs.size(), cut_name.c_str());
  }

  // This process's texts: all of them, or its shard (balanced by tokens over all models).
  std::vector<const TextJob*> mine;
  {
    std::vector<int64_t> tokens;
    for (const auto& j : jobs) {
      int64_t n = 0;
      for (const auto& p : j.plans) n += static_cast<int64_t>(p.ids.size());
      tokens.push_back(n);
    }
    const std::vector<int> shard_of = assign_shards(tokens, opt.shard.count);
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (shard_of[i] == opt.shard.index) mine.push_back(&jobs[i]);
    }
  }
  const std::string results_dir = opt.shard.sharded() ? shard_dir(opt.out_dir, opt.shard) : opt.out_dir;
  const int64_t group_bytes = group_hidden_bytes();
  const int64_t batch_tokens = batch_token_limit();
  check_memory(models, mine, opt, batch_tokens, group_bytes, !opt.quiet);

  // The results directory: new, resumable, or refused.
  io::make_dirs(results_dir, "the results directory");
  const std::string data_sha = io::sha256_file(opt.data_path);
  const std::string args = canonical_args(opt, models, data_sha);
  const std::string args_hash = io::sha256_hex(args);
  const std::string db_path = io::join_path(results_dir, "results.sqlite");
  // A shard's work ends in a merge into <out>/results.sqlite: refuse now, not after the work,
  // when that holds another run.
  if (opt.shard.sharded() && !opt.force && io::file_exists(io::join_path(opt.out_dir, "results.sqlite"))) {
    report::ResultsDb merged(opt.out_dir, opt.keywords, false);
    if (merged.get_meta("args_hash") != args_hash) {
      throw InputError(merged.path(), "stored run", "the run these shards belong to (the shards are merged into it)",
                       "a run with different models, data or options; use --force to replace it, or another --out");
    }
  }
  if (io::file_exists(db_path)) {
    std::string stored;
    {
      report::ResultsDb old(results_dir, opt.keywords, false);
      stored = old.get_meta("args_hash");
    }
    if (stored != args_hash) {
      if (!opt.force) {
        throw InputError(db_path, "stored run", "the same arguments as this command (to resume it)",
                         "a run with different models, data or options; use --force to replace it, or another --out");
      }
      for (const char* f : {"results.sqlite", "results.sqlite-wal", "results.sqlite-shm"}) {
        if (std::error_code ec; !fs::remove(io::join_path(results_dir, f), ec) && ec) {
          throw IoError(io::join_path(results_dir, f) +
                        ": cannot remove it to replace the run (--force): " + ec.message());
        }
      }
    }
  }
  const bool fresh = !io::file_exists(db_path);
  report::ResultsDb db(results_dir, opt.keywords, true);
  if (fresh) {
    io::Transaction tx(db.db());
    db.set_meta("schema_version", std::to_string(report::kSchemaVersion));
    db.set_meta("program_version", kProgramVersion);
    db.set_meta("args_json", args);
    db.set_meta("args_hash", args_hash);
    db.set_meta("template", opt.template_spec);
    db.set_meta("top_k", std::to_string(opt.top_k));
    db.set_meta("window", std::to_string(opt.window));
    db.set_meta("max_tokens", max_tokens == INT64_MAX ? std::string("none") : std::to_string(max_tokens));
    db.set_meta("n_texts", std::to_string(jobs.size()));
    db.set_meta("n_truncated", std::to_string(n_truncated));
    db.set_meta("n_skipped", std::to_string(data.errors.size()));
    db.set_meta("data_path", opt.data_path);
    db.set_meta("data_sha256", data_sha);
    db.set_meta("compute_seconds", "0");
    if (opt.shard.sharded()) {
      db.set_meta("shard", std::to_string(opt.shard.index) + "/" + std::to_string(opt.shard.count));
      db.set_meta("shard_texts", std::to_string(mine.size()));
    }
    for (size_t m = 0; m < models.size(); ++m) {
      const auto& lm = models[m];
      const auto& c = lm.model->config();
      report::ModelRow r;
      r.name = lm.name;
      r.path = lm.dir;
      r.model_type = c.model_type;
      for (const auto& [dt, bytes] : lm.model->checkpoint().used_bytes_by_dtype()) r.dtypes += (r.dtypes.empty() ? "" : ",") + dt;
      r.n_params = model::parameter_count(c);
      r.vocab_size = c.vocab_size;
      r.config_sha256 = io::sha256_file(io::join_path(lm.dir, "config.json"));
      r.tokenizer_path = lm.tokenizer_path;
      r.tokenizer_sha256 = lm.tokenizer_sha256;
      r.template_name = lm.tmpl.name;
      const model::PrecisionUsed used = lm.model->precision_used(precision);
      r.precision = model::precision_name(used.precision);
      r.isa = used.isa;
      db.insert_model(int64_t(m), r);
    }
    for (size_t f = 0; f < families.size(); ++f) db.insert_family(int64_t(f), families[f]);
    for (const TextJob* job : mine) {
      const io::Record& r = *job->rec;
      db.insert_text(job->text_idx, {r.id, r.source, r.query, r.answer, r.line, r.level, r.is_correct});
    }
    for (size_t i = 0; i < data.errors.size(); ++i) db.insert_skipped(data.bad_lines[i], data.errors[i]);
    db.set_meta("status", "running");
    tx.commit();
  }

  // Phases 1 and 2 over groups of texts not yet done.
  std::vector<const TextJob*> todo;
  int64_t tokens_done = 0, texts_done = 0, my_tokens = 0;
  for (const TextJob* j : mine) {
    int64_t n = 0;
    for (const auto& p : j->plans) n += static_cast<int64_t>(p.ids.size());
    my_tokens += n;
    if (db.text_done(j->text_idx)) {
      tokens_done += n;
      ++texts_done;
    } else {
      todo.push_back(j);
    }
  }
  if (todo.empty()) {
    if (!opt.quiet) std::fprintf(stderr, "logitscope: nothing to do: all %zu texts in %s are done\n", mine.size(), db_path.c_str());
  }
  progress.set_totals(static_cast<int64_t>(mine.size()), my_tokens, texts_done, tokens_done);
  g_interrupted.store(false);
  auto old_int = std::signal(SIGINT, on_interrupt);
  auto old_term = std::signal(SIGTERM, on_interrupt);
  TextMeasurer measurer(models, families, opt, precision);
  // Groups: consecutive texts whose hidden states (all models) fit the budget; at least one each.
  std::vector<size_t> group_end;
  for (size_t begin = 0; begin < todo.size();) {
    size_t end = begin;
    int64_t bytes = 0;
    while (end < todo.size()) {
      int64_t b = 0;
      for (size_t m = 0; m < models.size(); ++m) {
        b += static_cast<int64_t>(todo[end]->plans[m].ids.size()) * models[m].model->config().hidden_size * 4;
      }
      if (end > begin && bytes + b > group_bytes) break;
      bytes += b;
      ++end;
    }
    group_end.push_back(end);
    begin = end;
  }
  size_t next = 0;
  for (size_t g = 0; g < group_end.size() && !g_interrupted.load(); ++g) {
    size_t end = group_end[g];
    const std::string group = group_end.size() > 1 ? ", group " + std::to_string(g + 1) + "/" + std::to_string(group_end.size()) : "";
    std::vector<std::vector<std::vector<float>>> hidden(end - next, std::vector<std::vector<float>>(models.size()));
    for (size_t m = 0; m < models.size() && !g_interrupted.load(); ++m) {
      const std::string model_phase = "model '" + models[m].name + "' (" + std::to_string(m + 1) + "/" +
                                      std::to_string(models.size()) + ")" + group;
      model::ForwardOptions fo;
      fo.precision = precision;
      fo.on_layer = [&progress](int layers) { progress.layer_done(layers); };
      if (g == 0 && models[m].model->precision_used(precision).precision == model::Precision::BF16) {
        progress.set_phase("preparing model '" + models[m].name + "' for the bf16 kernel (packing its weights)");
        models[m].model->prepare(precision);
      }
      progress.set_phase("forward passes, " + model_phase);
      size_t i = next;
      while (i < end && !g_interrupted.load()) {
        // One pass: consecutive texts up to batch_tokens rows together (a longer text alone).
        std::vector<size_t> idx;
        std::vector<std::span<const int32_t>> batch;
        int64_t rows = 0;
        for (; i < end; ++i) {
          const auto& ids = todo[i]->plans[m].ids;
          if (ids.empty()) continue;
          if (!batch.empty() && rows + static_cast<int64_t>(ids.size()) > batch_tokens) break;
          idx.push_back(i);
          batch.emplace_back(ids);
          rows += static_cast<int64_t>(ids.size());
        }
        if (batch.empty()) continue;
        progress.pass_begin(rows, models[m].model->config().num_hidden_layers);
        if (batch.size() == 1) {
          hidden[idx[0] - next][m] = models[m].model->forward_hidden(batch[0], fo);
        } else {
          auto out = models[m].model->forward_hidden_batch(batch, fo);
          for (size_t b = 0; b < idx.size(); ++b) hidden[idx[b] - next][m] = std::move(out[b]);
        }
        progress.pass_done();
      }
    }
    if (g_interrupted.load()) break;
    progress.set_phase("measuring and committing " + std::to_string(end - next) + " text(s), all models" + group);
    for (size_t i = next; i < end; ++i) {
      measurer.measure_and_write(*todo[i], hidden[i - next], db);
      progress.text_committed();
      if (g_interrupted.load()) {
        end = i + 1;
        break;
      }
    }
    next = end;
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  progress.set_phase(g_interrupted.load() ? "interrupted" : "forward passes and measuring done");
  progress.finish();
  const double session_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  const double before = std::atof(db.get_meta("compute_seconds").c_str());
  db.set_meta("compute_seconds", std::to_string(before + session_s));
  if (g_interrupted.load()) {
    db.set_meta("status", "interrupted");
    std::fprintf(stderr, "logitscope: interrupted: %lld of %zu texts done and saved in %s; run the same command again to continue\n",
                 static_cast<long long>(db.n_texts_done()), mine.size(), db_path.c_str());
    return kExitInterrupted;
  }
  db.set_meta("status", "finished");
  db.set_meta("n_tokens", std::to_string(my_tokens));
  {
    const double secs = std::atof(db.get_meta("compute_seconds").c_str());
    db.set_meta("tokens_per_second", std::to_string(secs > 0 ? double(my_tokens) / secs : 0.0));
  }
  if (opt.shard.sharded()) {
    if (!opt.quiet && !opt.shard_by_rank) {
      std::fprintf(stderr, "logitscope: shard %d/%d done: %zu of %zu texts, %lld tokens in %s; when every shard is done: logitscope merge --out %s\n",
                   opt.shard.index, opt.shard.count, mine.size(), jobs.size(), static_cast<long long>(my_tokens),
                   results_dir.c_str(), opt.out_dir.c_str());
    }
    return kExitOk;
  }
  const bool report_written = write_outputs(opt.out_dir, opt.quiet);
  if (!opt.quiet) {
    std::fprintf(stderr, "logitscope: done: %zu texts, %lld tokens over %zu model(s) in %s; results, stats%s in %s\n", jobs.size(),
                 static_cast<long long>(total_tokens), models.size(), format_duration(session_s).c_str(),
                 report_written ? " and report.html" : "", opt.out_dir.c_str());
  }
  return kExitOk;
}

}  // namespace lsc::cli
