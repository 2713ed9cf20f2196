// The results database (SQLite, results.sqlite): schema, writer and the resume bookkeeping.
// It is the one source for every later step (stats, report, export). The schema is documented in
// README.md ("Results database"); kSchemaVersion changes whenever it does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "analysis/keywords.h"
#include "analysis/divergence.h"
#include "analysis/text_layout.h"
#include "io/sqlite.h"

namespace lsc::results {

inline constexpr int kSchemaVersion = 1;

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
  double logprob_word = 0.0, logprob_first = 0.0, entropy_before = 0.0;
  int64_t rank_first = 0;
};

struct WindowRow {
  int64_t offset = 0, pos = 0;
  double logprob = 0.0, entropy = 0.0, propensity = 0.0, kl_mean = 0.0;
  int64_t rank = 0;
  bool has_kl = false;
};

struct PairRow {
  int64_t answer_idx = 0, pos_a = 0, pos_b = 0;
  analysis::PairSummary d;
  double dlogp = 0.0;  // log p_b − log p_a of the observed token
  bool top1_agree = false;
  int64_t rank_shift = 0;  // rank_b − rank_a
};

class ResultsDb {
 public:
  // Opens or creates <dir>/results.sqlite with the schema for these family names.
  ResultsDb(const std::string& dir, const std::vector<std::string>& family_names, bool create);

  io::Db& db() { return *db_; }
  const std::string& path() const { return path_; }

  // Manifest key/value (meta table).
  void set_meta(const std::string& key, const std::string& value);
  std::string get_meta(const std::string& key);

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
  // Removes every row of a text (a partial text from an interrupted run is redone whole).
  void delete_text_rows(int64_t text_idx);
  void mark_done(int64_t text_idx);

  // "prop_<family>" with the family name reduced to [a-z0-9_].
  static std::string propensity_column(const std::string& family);

 private:
  std::string path_;
  std::unique_ptr<io::Db> db_;
  std::vector<std::string> families_;
  std::unique_ptr<io::Stmt> ins_pos_, ins_occ_, ins_win_, ins_pair_;
};

}  // namespace lsc::results
