// Report sections 1 (run manifest) and 2 (data): read straight from the results database.
#include <map>

#include "report/report_data.h"

namespace lsc::report {

namespace {

constexpr size_t kMaxListedRows =
    300;  // skipped lines / truncations listed (the count is always given)

std::string clip(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n) + "…";
}

}  // namespace

io::Json build_manifest(results::ResultsDb& db, const TokenNames& names) {
  io::Db& d = db.db();
  io::Json j;
  {
    const char* cols[] = {"name",          "path",           "model_type",
                          "dtypes",        "n_params",       "vocab_size",
                          "config_sha256", "tokenizer_path", "tokenizer_sha256",
                          "template",      "precision",      "isa"};
    io::Json m = io::Json::object();
    for (const char* c : cols) m[c] = io::Json::array();
    io::Stmt s(d,
               "SELECT name, path, model_type, dtypes, n_params, vocab_size, config_sha256, "
               "tokenizer_path, "
               "tokenizer_sha256, template, precision, isa FROM models ORDER BY model_idx");
    while (s.step()) {
      for (int i = 0; i < 12; ++i) {
        if (i == 4 || i == 5) {
          m[cols[i]].push_back(s.col_int(i));
        } else {
          m[cols[i]].push_back(s.col_text(i));
        }
      }
    }
    j["models"] = m;
  }
  {
    io::Json meta = io::Json::array();
    io::Stmt s(d, "SELECT key, value FROM meta ORDER BY key");
    while (s.step()) meta.push_back({s.col_text(0), s.col_text(1)});
    j["meta"] = meta;
  }
  {
    io::Json fams = io::Json::array();
    io::Stmt s(d, "SELECT name, prefix, token_ids FROM families ORDER BY family_idx");
    while (s.step()) {
      io::Json f;
      f["name"] = s.col_text(0);
      f["prefix"] = s.col_int(1) != 0;
      io::Json ids = io::parse_json(s.col_text(2), db.path() + ": families.token_ids");
      io::Json strs = io::Json::array();
      for (const auto& id : ids) strs.push_back(names.name(id.get<int32_t>()));
      f["ids"] = ids;
      f["strings"] = strs;
      fams.push_back(f);
    }
    j["families"] = fams;
  }
  {
    io::Json rows = io::Json::array();
    io::Stmt s(d, "SELECT line, error FROM skipped ORDER BY line");
    int64_t n = 0;
    while (s.step()) {
      if (size_t(n++) < kMaxListedRows) rows.push_back({s.col_int(0), clip(s.col_text(1), 400)});
    }
    j["skipped"] = {{"n", n}, {"rows", rows}};
  }
  {
    io::Json rows = io::Json::array();
    io::Stmt s(d,
               "SELECT tm.text_idx, t.record_id, m.name, tm.n_tokens, tm.n_tokens_full FROM "
               "text_models tm "
               "JOIN texts t USING(text_idx) JOIN models m ON m.model_idx = tm.model_idx "
               "WHERE tm.truncated != 0 ORDER BY tm.text_idx, tm.model_idx");
    int64_t n = 0;
    while (s.step()) {
      if (size_t(n++) < kMaxListedRows) {
        rows.push_back(
            {s.col_int(0), clip(s.col_text(1), 80), s.col_text(2), s.col_int(3), s.col_int(4)});
      }
    }
    j["truncated"] = {{"n", n}, {"rows", rows}};
  }
  {
    io::Json t;
    t["n_texts"] = d.query_int("SELECT count(*) FROM texts");
    t["n_done"] = d.query_int("SELECT count(*) FROM done");
    t["tokens"] = d.query_int("SELECT coalesce(sum(n_tokens), 0) FROM text_models");
    t["answer_tokens"] = d.query_int("SELECT coalesce(sum(n_answer_tokens), 0) FROM text_models");
    t["n_occurrences"] = d.query_int("SELECT count(*) FROM occurrences");
    t["n_pair_rows"] = d.query_int("SELECT count(*) FROM pairs");
    const results::RunMeta meta = db.run_meta();
    t["compute_seconds"] = rnum(meta.compute_seconds, 1);
    t["tokens_per_s"] = meta.tokens_per_second > 0 ? rnum(meta.tokens_per_second, 1) : io::Json(nullptr);
    j["totals"] = t;
  }
  j["decoded_tokens"] = names.available();
  return j;
}

io::Json build_texts(results::ResultsDb& db, const results::RunAggregates& agg) {
  io::Db& d = db.db();
  std::map<int64_t, std::string> source;
  std::map<int64_t, std::pair<int64_t, bool>> layout;  // model 0: n_tokens, any model truncated
  {
    io::Stmt s(d, "SELECT text_idx, coalesce(source, '') FROM texts");
    while (s.step()) source[s.col_int(0)] = s.col_text(1);
  }
  {
    io::Stmt s(d,
               "SELECT text_idx, max(CASE WHEN model_idx = 0 THEN n_tokens END), max(truncated) "
               "FROM text_models "
               "GROUP BY text_idx");
    while (s.step())
      layout[s.col_int(0)] = {s.col_is_null(1) ? 0 : s.col_int(1), s.col_int(2) != 0};
  }
  const size_t F = agg.families.size();
  io::Json idx = io::Json::array(), id = io::Json::array(), level = io::Json::array(),
           correct = io::Json::array(), src = io::Json::array(), n_answer = io::Json::array(),
           n_tokens = io::Json::array(), truncated = io::Json::array(), sources = io::Json::array();
  std::map<std::string, int> source_index;
  std::vector<io::Json> counts(F, io::Json::array());
  for (size_t t = 0; t < agg.texts.size(); ++t) {
    const results::TextInfo& ti = agg.texts[t];
    idx.push_back(ti.text_idx);
    id.push_back(clip(ti.record_id, 80));
    level.push_back(ti.level);
    correct.push_back(ti.is_correct);
    const std::string& so = source[ti.text_idx];
    auto it = source_index.find(so);
    if (it == source_index.end()) {
      it = source_index.emplace(so, int(sources.size())).first;
      sources.push_back(so);
    }
    src.push_back(it->second);
    n_answer.push_back(agg.per_text[t].empty() ? 0 : agg.per_text[t][0].n_answer);
    n_tokens.push_back(layout[ti.text_idx].first);
    truncated.push_back(layout[ti.text_idx].second ? 1 : 0);
    for (size_t f = 0; f < F; ++f)
      counts[f].push_back(agg.per_text[t].empty() ? 0 : agg.per_text[t][0].n_occ[f]);
  }
  io::Json j;
  j["idx"] = idx;
  j["id"] = id;
  j["level"] = level;
  j["correct"] = correct;
  j["sources"] = sources;
  j["source"] = src;
  j["n_answer"] = n_answer;
  j["n_tokens"] = n_tokens;
  j["truncated"] = truncated;
  j["counts"] = counts;  // [family][text]: occurrences in the first model's layout
  return j;
}

}  // namespace lsc::report
