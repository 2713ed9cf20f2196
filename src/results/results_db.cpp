// Results database schema and inserts.
#include "results/results_db.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"

namespace lsc::results {

std::string describe_args_change(const std::string& args_a, const std::string& args_b, const std::string& label_a,
                                 const std::string& label_b) {
  try {
    const io::Json a = io::Json::parse(args_a), b = io::Json::parse(args_b);
    if (!a.is_object() || !b.is_object()) return "";
    auto str = [](const io::Json& v) { return v.is_null() ? std::string("none") : v.is_string() ? v.get<std::string>() : v.dump(); };
    auto field = [](const io::Json& o, const char* key) { return o.is_object() ? o.value(key, io::Json()) : io::Json(); };
    auto head = [](const io::Json& v) { return v.is_string() ? v.get<std::string>().substr(0, 8) + "…" : std::string("?"); };
    auto both = [&](const std::string& x, const std::string& y) { return " (" + label_a + " " + x + ", " + label_b + " " + y + ")"; };
    auto models_of = [&](const io::Json& ms) {
      std::string s;
      for (const auto& m : ms) {
        s += (s.empty() ? "" : ", ") + (m.is_object() ? str(field(m, "name")) + "=" + str(field(m, "path")) : m.dump());
      }
      return s;
    };
    // A value as the user gave it: the defaults that the canonical arguments leave absent or 0.
    auto shown = [&](const std::string& key, const io::Json& v) -> std::string {
      if (v.is_null()) {
        if (key == "device") return "cpu";
        if (key == "lens") return "none";
        if (key == "lens_at") return "keywords";
      }
      if (v == io::Json(0) && key == "limit") return "all";
      if (v == io::Json(0) && key == "max_tokens") return "the models' context";
      if (v == io::Json::array() && key == "keywords") return "the default families";
      return str(v);
    };
    std::vector<std::string> out;
    io::Json keys = a;  // the keys of either, sorted (nlohmann's object)
    keys.update(b);
    for (const auto& [key, unused] : keys.items()) {
      const io::Json va = a.value(key, io::Json()), vb = b.value(key, io::Json());
      if (va == vb) continue;
      if (key == "data" && field(va, "path") == field(vb, "path")) {
        out.push_back("the data file's contents, sha256" + both(head(field(va, "sha256")), head(field(vb, "sha256"))));
      } else if (key == "data") {
        out.push_back("the data file" + both(str(field(va, "path")), str(field(vb, "path"))));
      } else if (key == "models" && va.is_array() && vb.is_array() && va.size() == vb.size() &&
                 models_of(va) == models_of(vb)) {
        for (size_t i = 0; i < va.size(); ++i) {
          const std::string name = str(field(va[i], "name"));
          if (field(va[i], "config_sha256") != field(vb[i], "config_sha256")) out.push_back("config.json of model '" + name + "'");
          const io::Json wa = field(va[i], "weights_fingerprint"), wb = field(vb[i], "weights_fingerprint");
          if (!wa.is_null() && !wb.is_null() && wa != wb) {  // (null: recorded by an older logitscope)
            out.push_back("the weights of model '" + name + "' (its safetensors files changed)");
          }
        }
      } else if (key == "models" && va.is_array() && vb.is_array()) {
        out.push_back("the models (" + label_a + " " + models_of(va) + "; " + label_b + " " + models_of(vb) + ")");
      } else if (shown(key, va) != shown(key, vb)) {  // (an absent default and the same value given: alike)
        out.push_back(key + both(shown(key, va), shown(key, vb)));
      }
    }
    std::string s;
    for (const auto& d : out) s += (s.empty() ? "" : "; ") + d;
    return s;
  } catch (const io::Json::exception&) {
    return "";
  }
}

std::string another_run(const std::string& args_a, const std::string& args_b, const std::string& label_a,
                        const std::string& label_b) {
  const std::string change = describe_args_change(args_a, args_b, label_a, label_b);
  return "a run with different models, data or options" + (change.empty() ? "" : " (differs in: " + change + ")");
}

std::string ResultsDb::propensity_column(const std::string& family) {
  std::string c = "prop_";
  for (unsigned char ch : family) c += std::isalnum(ch) ? static_cast<char>(std::tolower(ch)) : '_';
  return c;
}

ResultsDb::ResultsDb(const std::string& dir, const std::vector<std::string>& family_names, bool create)
    : path_(io::join_path(dir, "results.sqlite")), families_(family_names) {
  if (!create && !io::file_exists(path_)) throw InputError(path_, "", "a results database (run 'logitscope run' first)", "no such file");
  // An empty file would become an empty database on opening (SQLite writes its header there).
  if (std::error_code ec; !create && std::filesystem::file_size(path_, ec) == 0 && !ec) {
    throw InputError(path_, "", "a results database (run 'logitscope run' first)", "an empty file");
  }
  db_ = std::make_unique<io::Db>(path_, create);
  // WAL + synchronous=NORMAL: a committed text survives a crash of the process (SIGKILL); the
  // last transactions may be lost only on power failure, and are then redone by the resume.
  db_->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  // A database of another schema (an older logitscope) is refused by name, not failed on later
  // with an SQL error about a column: resume, merge, stats and report all open it here.
  const std::string version = get_meta("schema_version");
  if (!version.empty() && version != std::to_string(kSchemaVersion)) {
    throw InputError(path_, "meta.schema_version",
                     std::to_string(kSchemaVersion) + " (the results schema of this logitscope; rerun into a new --out)",
                     version);
  }
  if (!create) return;
  std::string prop_cols;
  for (const auto& f : families_) prop_cols += ", " + propensity_column(f) + " REAL";
  db_->exec(R"(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS models(model_idx INTEGER PRIMARY KEY, name TEXT, path TEXT, model_type TEXT,
  dtypes TEXT, n_params INTEGER, vocab_size INTEGER, config_sha256 TEXT, tokenizer_path TEXT,
  tokenizer_sha256 TEXT, template TEXT, precision TEXT, isa TEXT);
CREATE TABLE IF NOT EXISTS families(family_idx INTEGER PRIMARY KEY, name TEXT, prefix INTEGER,
  n_token_ids INTEGER, token_ids TEXT);
CREATE TABLE IF NOT EXISTS texts(text_idx INTEGER PRIMARY KEY, record_id TEXT, line INTEGER, source TEXT,
  level INTEGER, is_correct INTEGER, query TEXT, answer TEXT);
CREATE TABLE IF NOT EXISTS skipped(line INTEGER PRIMARY KEY, error TEXT);
CREATE TABLE IF NOT EXISTS text_models(text_idx INTEGER, model_idx INTEGER, n_tokens INTEGER,
  n_tokens_full INTEGER, truncated INTEGER, answer_first_pos INTEGER, n_answer_tokens INTEGER,
  text TEXT, answer_char_begin INTEGER, answer_char_end INTEGER, PRIMARY KEY(text_idx, model_idx));
CREATE TABLE IF NOT EXISTS positions(text_idx INTEGER, model_idx INTEGER, pos INTEGER, span TEXT,
  token_id INTEGER, char_begin INTEGER, char_end INTEGER, logprob REAL, rank INTEGER, entropy REAL,
  top1_id INTEGER, top1_margin REAL, tail_mass REAL, topk_ids BLOB, topk_logprobs BLOB)" +
            prop_cols + R"(, PRIMARY KEY(text_idx, model_idx, pos)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS occurrences(occ_idx INTEGER PRIMARY KEY, text_idx INTEGER, model_idx INTEGER,
  family_idx INTEGER, family TEXT, surface TEXT, char_begin INTEGER, char_end INTEGER, tok_begin INTEGER,
  tok_end INTEGER, starts_before_word INTEGER, logprob_word REAL, logprob_first REAL, rank_first INTEGER,
  entropy_before REAL, kl_at REAL);
CREATE INDEX IF NOT EXISTS occurrences_text ON occurrences(text_idx);
CREATE TABLE IF NOT EXISTS windows(occ_idx INTEGER, model_idx INTEGER, offset INTEGER, pos INTEGER,
  logprob REAL, entropy REAL, rank INTEGER, propensity REAL, kl_mean REAL,
  PRIMARY KEY(occ_idx, model_idx, offset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pairs(text_idx INTEGER, model_a INTEGER, model_b INTEGER, answer_idx INTEGER,
  pos_a INTEGER, pos_b INTEGER, kl_ab REAL, kl_ba REAL, js_bits REAL, tv REAL, dlogp REAL,
  top1_agree INTEGER, rank_shift INTEGER, extra_mass_a REAL, extra_mass_b REAL,
  PRIMARY KEY(text_idx, model_a, model_b, answer_idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lens(text_idx INTEGER, model_idx INTEGER, layer INTEGER, pos INTEGER,
  logprob REAL, rank INTEGER, entropy REAL, kl_final REAL, top1_id INTEGER, topk_ids BLOB, topk_logprobs BLOB)" +
            prop_cols + R"(, PRIMARY KEY(text_idx, model_idx, layer, pos)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS layer_similarity(text_idx INTEGER, model_a INTEGER, model_b INTEGER, layer INTEGER,
  scope TEXT, cka REAL, mean_cos REAL, n_positions INTEGER,
  PRIMARY KEY(text_idx, model_a, model_b, layer, scope)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS done(text_idx INTEGER PRIMARY KEY);
)");
}

void ResultsDb::set_meta(const std::string& key, const std::string& value) {
  io::Stmt s(*db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
  s.bind(1, key).bind(2, value).run();
}

std::string ResultsDb::get_meta(const std::string& key) {
  if (!db_->has_table("meta")) return "";
  io::Stmt s(*db_, "SELECT value FROM meta WHERE key = ?");
  s.bind(1, key);
  return s.step() ? s.col_text(0) : "";
}

void ResultsDb::write_new_run(const RunMeta& m) {
  set_meta("schema_version", std::to_string(kSchemaVersion));
  set_meta("program_version", m.program_version);
  set_meta("args_json", m.args_json);
  set_meta("args_hash", m.args_hash);
  set_meta("template", m.template_name);
  set_meta("top_k", std::to_string(m.top_k));
  set_meta("window", std::to_string(m.window));
  set_meta("lens", m.lens);
  set_meta("lens_at", m.lens_at);
  set_meta("similarity_left_out", io::Json(m.similarity_left_out).dump());
  set_meta("max_tokens", m.max_tokens == INT64_MAX ? std::string("none") : std::to_string(m.max_tokens));
  set_meta("n_texts", std::to_string(m.n_texts));
  set_meta("n_truncated", std::to_string(m.n_truncated));
  set_meta("n_skipped", std::to_string(m.n_skipped));
  set_meta("data_path", m.data_path);
  set_meta("data_sha256", m.data_sha256);
  set_meta("compute_seconds", "0");
  if (m.sharded) {
    set_meta("shard", shard_meta(m.shard));
    set_meta("shard_texts", std::to_string(m.shard_texts));
  }
  set_meta("status", "running");
}

RunMeta ResultsDb::run_meta() {
  RunMeta m;
  m.program_version = get_meta("program_version");
  m.args_json = get_meta("args_json");
  m.args_hash = get_meta("args_hash");
  m.template_name = get_meta("template");
  m.data_path = get_meta("data_path");
  m.data_sha256 = get_meta("data_sha256");
  m.top_k = std::atoi(get_meta("top_k").c_str());
  m.window = std::atoi(get_meta("window").c_str());
  if (const std::string l = get_meta("lens"); !l.empty()) m.lens = l;
  if (const std::string l = get_meta("lens_at"); !l.empty()) m.lens_at = l;
  if (const std::string l = get_meta("similarity_left_out"); !l.empty()) {
    for (const auto& e : io::Json::parse(l)) m.similarity_left_out.push_back(e.get<std::string>());
  }
  const std::string cut = get_meta("max_tokens");
  m.max_tokens = cut.empty() || cut == "none" ? INT64_MAX : std::atoll(cut.c_str());
  m.n_texts = std::atoll(get_meta("n_texts").c_str());
  m.n_truncated = std::atoll(get_meta("n_truncated").c_str());
  m.n_skipped = std::atoll(get_meta("n_skipped").c_str());
  m.sharded = try_parse_shard(get_meta("shard"), &m.shard);
  m.shard_texts = std::atoll(get_meta("shard_texts").c_str());
  m.status = get_meta("status");
  m.compute_seconds = std::atof(get_meta("compute_seconds").c_str());
  m.n_tokens = std::atoll(get_meta("n_tokens").c_str());
  m.tokens_per_second = std::atof(get_meta("tokens_per_second").c_str());
  m.n_shards = std::atoi(get_meta("n_shards").c_str());
  return m;
}

std::string ResultsDb::args_hash() { return get_meta("args_hash"); }

void ResultsDb::set_status(const std::string& status) { set_meta("status", status); }

double ResultsDb::add_compute_seconds(double seconds) {
  const double total = std::atof(get_meta("compute_seconds").c_str()) + seconds;
  set_meta("compute_seconds", std::to_string(total));
  return total;
}

void ResultsDb::mark_finished(int64_t n_tokens, double compute_seconds, int n_shards) {
  set_meta("status", "finished");
  if (n_shards > 0) set_meta("n_shards", std::to_string(n_shards));
  set_meta("n_tokens", std::to_string(n_tokens));
  set_meta("compute_seconds", std::to_string(compute_seconds));
  set_meta("tokens_per_second", std::to_string(compute_seconds > 0 ? double(n_tokens) / compute_seconds : 0.0));
}

bool ResultsDb::text_done(int64_t text_idx) {
  io::Stmt s(*db_, "SELECT count(*) FROM done WHERE text_idx = ?");
  s.bind(1, text_idx);
  return s.step() && s.col_int(0) > 0;
}

int64_t ResultsDb::n_texts_done() { return db_->query_int("SELECT count(*) FROM done"); }

void ResultsDb::insert_model(int64_t i, const ModelRow& m) {
  io::Stmt s(*db_, "INSERT OR REPLACE INTO models VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, i).bind(2, m.name).bind(3, m.path).bind(4, m.model_type).bind(5, m.dtypes).bind(6, m.n_params);
  s.bind(7, m.vocab_size).bind(8, m.config_sha256).bind(9, m.tokenizer_path).bind(10, m.tokenizer_sha256);
  s.bind(11, m.template_name).bind(12, m.precision).bind(13, m.isa).run();
}

void ResultsDb::insert_family(int64_t i, const analysis::KeywordFamily& f) {
  io::Stmt s(*db_, "INSERT OR REPLACE INTO families VALUES(?,?,?,?,?)");
  s.bind(1, i).bind(2, f.name).bind(3, int64_t{f.prefix}).bind(4, static_cast<int64_t>(f.token_ids.size()));
  s.bind(5, io::Json(f.token_ids).dump()).run();
}

void ResultsDb::insert_text(int64_t i, const TextRow& t) {
  io::Stmt s(*db_, "INSERT OR REPLACE INTO texts VALUES(?,?,?,?,?,?,?,?)");
  s.bind(1, i).bind(2, t.record_id).bind(3, t.line).bind(4, t.source);
  if (t.level > 0) {
    s.bind(5, t.level);
  } else {
    s.bind_null(5);
  }
  if (t.is_correct >= 0) {
    s.bind(6, t.is_correct);
  } else {
    s.bind_null(6);
  }
  s.bind(7, t.query).bind(8, t.answer).run();
}

void ResultsDb::insert_skipped(int64_t line, const std::string& error) {
  io::Stmt s(*db_, "INSERT OR REPLACE INTO skipped VALUES(?,?)");
  s.bind(1, line).bind(2, error).run();
}

void ResultsDb::insert_text_model(int64_t t, int64_t m, const TextModelRow& r) {
  io::Stmt s(*db_, "INSERT INTO text_models VALUES(?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, t).bind(2, m).bind(3, r.n_tokens).bind(4, r.n_tokens_full).bind(5, int64_t{r.truncated});
  s.bind(6, r.answer_first_pos).bind(7, r.n_answer_tokens).bind(8, r.text).bind(9, r.answer_char_begin);
  s.bind(10, r.answer_char_end).run();
}

void ResultsDb::insert_positions(int64_t t, int64_t m, const std::vector<PositionRow>& rows) {
  if (!ins_pos_) {
    std::string sql = "INSERT INTO positions VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?";
    for (size_t f = 0; f < families_.size(); ++f) sql += ",?";
    ins_pos_ = std::make_unique<io::Stmt>(*db_, sql + ")");
  }
  io::Stmt& s = *ins_pos_;
  for (const PositionRow& r : rows) {
    s.bind(1, t).bind(2, m).bind(3, r.pos).bind(4, std::string(analysis::span_name(r.span))).bind(5, r.token);
    s.bind(6, r.char_begin).bind(7, r.char_end);
    if (r.has_metrics) {
      s.bind(8, r.m.logprob).bind(9, r.m.rank).bind(10, r.m.entropy_nats).bind(11, r.m.top1);
      s.bind(12, r.m.top1_margin).bind(13, r.m.tail_mass);
      s.bind_blob(14, r.m.topk_ids.data(), r.m.topk_ids.size() * 4);
      s.bind_blob(15, r.m.topk_logprobs.data(), r.m.topk_logprobs.size() * 4);
      for (size_t f = 0; f < families_.size(); ++f) s.bind(16 + static_cast<int>(f), static_cast<double>(r.m.propensity[f]));
    }  // else: NULLs (position 0 has no prediction)
    s.run();
  }
}

int64_t ResultsDb::insert_occurrence(int64_t t, int64_t m, int64_t f, const OccurrenceRow& o) {
  if (!ins_occ_) {
    ins_occ_ = std::make_unique<io::Stmt>(
        *db_, "INSERT INTO occurrences(text_idx, model_idx, family_idx, family, surface, char_begin, char_end, tok_begin, "
              "tok_end, starts_before_word, logprob_word, logprob_first, rank_first, entropy_before, kl_at) "
              "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  }
  io::Stmt& s = *ins_occ_;
  s.bind(1, t).bind(2, m).bind(3, f).bind(4, o.family).bind(5, o.occ.surface).bind(6, o.occ.char_begin);
  s.bind(7, o.occ.char_end).bind(8, o.occ.tok_begin).bind(9, o.occ.tok_end).bind(10, int64_t{o.occ.starts_before_word});
  const analysis::OccurrenceMetrics& om = o.metrics;
  s.bind(11, om.logprob_word).bind(12, om.logprob_first).bind(13, om.rank_first).bind(14, om.entropy_before);
  if (o.has_kl_at) {
    s.bind(15, o.kl_at);
  } else {
    s.bind_null(15);
  }
  s.run();
  return db_->last_insert_id();
}

void ResultsDb::insert_window(int64_t occ, int64_t m, const WindowRow& w) {
  if (!ins_win_) ins_win_ = std::make_unique<io::Stmt>(*db_, "INSERT INTO windows VALUES(?,?,?,?,?,?,?,?,?)");
  io::Stmt& s = *ins_win_;
  const analysis::WindowPoint& p = w.point;
  s.bind(1, occ).bind(2, m).bind(3, w.offset).bind(4, w.pos).bind(5, p.logprob).bind(6, p.entropy).bind(7, p.rank);
  s.bind(8, p.propensity);
  if (w.has_kl) s.bind(9, w.kl_mean);
  s.run();
}

void ResultsDb::insert_pairs(int64_t t, int64_t a, int64_t b, const std::vector<PairRow>& rows) {
  if (!ins_pair_) {
    ins_pair_ = std::make_unique<io::Stmt>(*db_, "INSERT INTO pairs VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  }
  io::Stmt& s = *ins_pair_;
  for (const PairRow& r : rows) {
    s.bind(1, t).bind(2, a).bind(3, b).bind(4, r.answer_idx).bind(5, r.pos_a).bind(6, r.pos_b);
    s.bind(7, r.d.kl_ab).bind(8, r.d.kl_ba).bind(9, r.d.js_bits).bind(10, r.d.tv).bind(11, r.delta.dlogp);
    s.bind(12, int64_t{r.delta.top1_agree}).bind(13, r.delta.rank_shift).bind(14, r.d.extra_mass_a);
    s.bind(15, r.d.extra_mass_b);
    s.run();
  }
}

void ResultsDb::insert_lens(int64_t t, int64_t m, const std::vector<LensRow>& rows) {
  if (!ins_lens_) {
    std::string sql = "INSERT INTO lens VALUES(?,?,?,?,?,?,?,?,?,?,?";
    for (size_t f = 0; f < families_.size(); ++f) sql += ",?";
    ins_lens_ = std::make_unique<io::Stmt>(*db_, sql + ")");
  }
  io::Stmt& s = *ins_lens_;
  for (const LensRow& r : rows) {
    s.bind(1, t).bind(2, m).bind(3, r.layer).bind(4, r.pos).bind(5, r.m.logprob).bind(6, r.m.rank);
    s.bind(7, r.m.entropy_nats).bind(8, r.kl_final).bind(9, r.m.top1);
    s.bind_blob(10, r.m.topk_ids.data(), r.m.topk_ids.size() * 4);
    s.bind_blob(11, r.m.topk_logprobs.data(), r.m.topk_logprobs.size() * 4);
    for (size_t f = 0; f < families_.size(); ++f) s.bind(12 + static_cast<int>(f), static_cast<double>(r.m.propensity[f]));
    s.run();
  }
}

void ResultsDb::insert_similarity(int64_t t, int64_t a, int64_t b, const std::vector<SimilarityRow>& rows) {
  if (!ins_sim_) ins_sim_ = std::make_unique<io::Stmt>(*db_, "INSERT INTO layer_similarity VALUES(?,?,?,?,?,?,?,?)");
  io::Stmt& s = *ins_sim_;
  for (const SimilarityRow& r : rows) {
    s.bind(1, t).bind(2, a).bind(3, b).bind(4, r.layer).bind(5, r.scope);
    if (std::isnan(r.cka)) {
      s.bind_null(6);
    } else {
      s.bind(6, r.cka);
    }
    if (std::isnan(r.mean_cos)) {
      s.bind_null(7);
    } else {
      s.bind(7, r.mean_cos);
    }
    s.bind(8, r.n_positions);
    s.run();
  }
}

void ResultsDb::delete_text_rows(int64_t t) {
  const std::string id = std::to_string(t);
  db_->exec("DELETE FROM windows WHERE occ_idx IN (SELECT occ_idx FROM occurrences WHERE text_idx = " + id + ");"
            "DELETE FROM occurrences WHERE text_idx = " + id + "; DELETE FROM positions WHERE text_idx = " + id +
            "; DELETE FROM pairs WHERE text_idx = " + id + "; DELETE FROM lens WHERE text_idx = " + id +
            "; DELETE FROM layer_similarity WHERE text_idx = " + id + "; DELETE FROM text_models WHERE text_idx = " + id +
            "; DELETE FROM done WHERE text_idx = " + id + ";");
}

void ResultsDb::mark_done(int64_t t) {
  io::Stmt s(*db_, "INSERT OR REPLACE INTO done VALUES(?)");
  s.bind(1, t).run();
}

}  // namespace lsc::results
