// The results database (SQLite, results.sqlite): schema, writer and the resume bookkeeping.
// It is the one source for every later step (stats, report, export). The schema is documented in
// README.md ("Results database"); kSchemaVersion changes whenever it does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "analysis/derived_metrics.h"
#include "analysis/keywords.h"
#include "analysis/divergence.h"
#include "analysis/text_layout.h"
#include "io/sqlite.h"
#include "results/shard.h"

namespace lsc::results {

inline constexpr int kSchemaVersion = 3;

struct ModelRow {
  std::string name, path, model_type, dtypes, config_sha256, tokenizer_path, tokenizer_sha256, template_name;
  std::string precision, isa;
  int64_t n_params = 0, vocab_size = 0;
};

struct TextRow {
  std::string record_id, source, query, answer;
  int64_t line = 0;
  int level = 0;       // 0 = unknown → NULL
  int is_correct = -1; // -1 = unknown → NULL
};

// One model's token layout of one text.
struct TextModelRow {
  int64_t n_tokens = 0, n_tokens_full = 0, answer_first_pos = 0, n_answer_tokens = 0;
  bool truncated = false;
  std::string text;  // the templated text this model read (positions' char spans index into it)
  int64_t answer_char_begin = 0, answer_char_end = 0;  // code points
};

// Per-position data ready to insert: pos 0 has no probability (metrics NULL).
struct PositionRow {
  int64_t pos = 0;
  int32_t token = 0;
  int64_t char_begin = 0, char_end = 0;
  analysis::Span span = analysis::Span::Prompt;
  bool has_metrics = false;
  analysis::RowSummary m;
};

struct OccurrenceRow {
  analysis::Occurrence occ;
  std::string family;
  analysis::OccurrenceMetrics metrics;
  // Mean KL to the other models at the row that predicts the first token (as windows.kl_mean at
  // offset 0); none with one model or outside the common answer.
  double kl_at = 0.0;
  bool has_kl_at = false;
};

struct WindowRow {
  int64_t offset = 0, pos = 0;
  analysis::WindowPoint point;
  double kl_mean = 0.0;  // mean KL to the other models at pos, if has_kl
  bool has_kl = false;
};

struct PairRow {
  int64_t answer_idx = 0, pos_a = 0, pos_b = 0;
  analysis::PairSummary d;
  analysis::PairDelta delta;
};

// The logit lens of one model at one layer and position (run --lens): the row's metrics as in
// positions, from softmax(LM head(final norm(h_layer))), and KL(final ‖ lens) to the model's own
// output at the same position.
struct LensRow {
  int64_t layer = 0, pos = 0;
  analysis::RowSummary m;
  double kl_final = 0.0;
};

// Similarity of two models' residual streams after one layer over one scope of positions.
struct SimilarityRow {
  int64_t layer = 0;
  std::string scope;  // "answer" or "keywords"
  double cka = 0.0, mean_cos = 0.0;  // NaN (stored NULL) where undefined
  int64_t n_positions = 0;
};

// The run's manifest (the meta table), typed: what the run was asked and how far it got. Its keys
// are written and read in results_db.cpp only.
struct RunMeta {
  // Written once, when the run's database is created.
  std::string program_version, args_json, args_hash, template_name, data_path, data_sha256;
  int top_k = 0, window = 0;
  // The logit lens (run --lens; "none" without it), where it was read, and the model pairs the
  // layer_similarity table leaves out with why (stored as a JSON list).
  std::string lens = "none", lens_at = "keywords";
  std::vector<std::string> similarity_left_out;
  int64_t max_tokens = INT64_MAX;  // INT64_MAX: no cut (stored "none")
  int64_t n_texts = 0, n_truncated = 0, n_skipped = 0;
  bool sharded = false;            // a shard's database (shard, shard_texts below)
  ShardSpec shard;
  int64_t shard_texts = 0;
  // Progress of the run.
  std::string status;  // "running", "interrupted", "finished"
  double compute_seconds = 0;
  int64_t n_tokens = 0;            // forward-pass tokens over all models, once finished
  double tokens_per_second = 0;    // n_tokens / compute_seconds, once finished
  int n_shards = 0;                // a merged run: how many shards it joins
};

// What differs between two runs' canonical arguments (meta.args_json), in a user's words with
// the labels of the two (e.g. "stored", "this command"): "top_k (stored 20, this command 5)",
// "the data file's contents, sha256 (stored 1a2b3c4d…, this command 5e6f7a8b…)", "config.json of
// model 'rl'"; several joined by "; ". Empty when either cannot be read as canonical arguments
// or none differs.
std::string describe_args_change(const std::string& args_a, const std::string& args_b, const std::string& label_a = "stored",
                                 const std::string& label_b = "this command");
// What a refusal says it found: "a run with different models, data or options", followed by
// " (differs in: …)" where describe_args_change names what.
std::string another_run(const std::string& args_a, const std::string& args_b, const std::string& label_a = "stored",
                        const std::string& label_b = "this command");

class ResultsDb {
 public:
  // Opens or creates <dir>/results.sqlite with the schema for these family names.
  ResultsDb(const std::string& dir, const std::vector<std::string>& family_names, bool create);

  io::Db& db() { return *db_; }
  const std::string& path() const { return path_; }

  // The manifest. write_new_run: everything a new run records (status "running"); run_meta:
  // what is stored (fields absent stay at their defaults).
  void write_new_run(const RunMeta& m);
  RunMeta run_meta();
  std::string args_hash();
  std::string args_json() { return get_meta("args_json"); }
  void set_status(const std::string& status);
  double add_compute_seconds(double seconds);  // returns the run's total
  // The last session's time per model and step, a JSON object (meta.timing_json; README).
  void set_session_timing(const std::string& json) { set_meta("timing_json", json); }
  // Finished: status, tokens, the total compute time and the rate (computed here only).
  void mark_finished(int64_t n_tokens, double compute_seconds, int n_shards = 0);

  bool text_done(int64_t text_idx);
  int64_t n_texts_done();

  // Writers; call inside a transaction (begin_text/commit_text).
  void insert_model(int64_t model_idx, const ModelRow& m);
  void insert_family(int64_t family_idx, const analysis::KeywordFamily& f);
  void insert_text(int64_t text_idx, const TextRow& t);
  void insert_skipped(int64_t line, const std::string& error);
  void insert_text_model(int64_t text_idx, int64_t model_idx, const TextModelRow& r);
  void insert_positions(int64_t text_idx, int64_t model_idx, const std::vector<PositionRow>& rows);
  int64_t insert_occurrence(int64_t text_idx, int64_t model_idx, int64_t family_idx, const OccurrenceRow& o);
  void insert_window(int64_t occ_idx, int64_t model_idx, const WindowRow& w);
  void insert_pairs(int64_t text_idx, int64_t model_a, int64_t model_b, const std::vector<PairRow>& rows);
  void insert_lens(int64_t text_idx, int64_t model_idx, const std::vector<LensRow>& rows);
  void insert_similarity(int64_t text_idx, int64_t model_a, int64_t model_b, const std::vector<SimilarityRow>& rows);
  // Removes every row of a text (a partial text from an interrupted run is redone whole).
  void delete_text_rows(int64_t text_idx);
  void mark_done(int64_t text_idx);

  // "prop_<family>" with the family name reduced to [a-z0-9_].
  static std::string propensity_column(const std::string& family);

 private:
  std::string path_;
  std::unique_ptr<io::Db> db_;
  std::vector<std::string> families_;
  std::unique_ptr<io::Stmt> ins_pos_, ins_occ_, ins_win_, ins_pair_, ins_lens_, ins_sim_;
  void set_meta(const std::string& key, const std::string& value);
  std::string get_meta(const std::string& key);
};

}  // namespace lsc::results
