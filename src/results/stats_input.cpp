// Per-text measures and the stats outputs.
#include "results/stats_input.h"

#include <cmath>
#include <limits>
#include <map>
#include <tuple>

#include "analysis/stats/bootstrap.h"
#include "io/atomic_file.h"
#include "io/paths.h"

namespace lsc::results {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::vector<std::string> kMeasures = {"logp", "rate_per_1k", "propensity", "entropy", "kl"};

double mean(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

// Test results are objects with "defined" and "p"; the row fields around them say what was tested.
void collect_tests(const io::Json& node, const std::string& section, const io::Json* row, io::Stmt& ins) {
  if (node.is_array()) {
    for (const auto& x : node) collect_tests(x, section, row, ins);
    return;
  }
  if (!node.is_object()) return;
  const bool is_row = node.contains("family") || node.contains("n");
  for (auto it = node.begin(); it != node.end(); ++it) {
    const io::Json& v = it.value();
    if (v.is_object() && v.contains("defined") && v.contains("p")) {
      const io::Json& r = is_row ? node : (row ? *row : node);
      // A column the test does not have (model of a pair comparison, measure of a presence test)
      // is NULL, as level is.
      auto text = [&](int i, const char* k) {
        if (r.contains(k) && r[k].is_string()) {
          ins.bind(i, r[k].get<std::string>());
        } else {
          ins.bind_null(i);
        }
      };
      auto num = [&](const io::Json& x, int i) {
        if (x.is_number()) {
          ins.bind(i, x.get<double>());
        } else {
          ins.bind_null(i);
        }
      };
      // Presence tests sit under correctness in stats.json; their section is named as their BH
      // families are (presence.fisher, presence.chi2).
      ins.bind(1, section == "correctness" && !r.contains("measure") ? std::string("presence") : section);
      ins.bind(2, it.key());
      text(3, "family");
      text(4, "measure");
      text(5, "model");
      text(6, "model_a");
      text(7, "model_b");
      if (r.contains("level") && r["level"].is_number()) {
        ins.bind(8, r["level"].get<int64_t>());
      } else {
        ins.bind_null(8);
      }
      num(v.value("statistic", io::Json()), 9);
      num(v.value("p", io::Json()), 10);
      num(v.value("q", io::Json()), 11);
      ins.bind(12, v.value("n", r.value("n", int64_t{0})));
      ins.bind(13, int64_t{r.value("small_n", false)});
      ins.bind(14, v.dump());
      ins.run();
    } else if (v.is_object() || v.is_array()) {
      collect_tests(v, section, is_row ? &node : row, ins);
    }
  }
}

// With --lens: per model pair, scope and layer, the mean over texts of linear CKA and of the mean
// cosine, each with its bootstrap CI (seed key "layer_similarity/A/B/scope/layer/cka|cos").
io::Json layer_similarity_summary(io::Db& d, const std::vector<std::string>& models, const stats::StatsOptions& opt) {
  struct Key {
    int64_t a, b;
    std::string scope;
    int64_t layer;
    bool operator<(const Key& o) const { return std::tie(a, b, scope, layer) < std::tie(o.a, o.b, o.scope, o.layer); }
  };
  std::map<Key, std::pair<std::vector<double>, std::vector<double>>> values;
  io::Stmt s(d, "SELECT l.model_a, l.model_b, l.scope, l.layer, l.cka, l.mean_cos FROM layer_similarity l JOIN done "
                "USING(text_idx) ORDER BY l.model_a, l.model_b, l.scope, l.layer, l.text_idx");
  while (s.step()) {
    auto& v = values[{s.col_int(0), s.col_int(1), s.col_text(2), s.col_int(3)}];
    if (!s.col_is_null(4)) v.first.push_back(s.col_double(4));
    if (!s.col_is_null(5)) v.second.push_back(s.col_double(5));
  }
  io::Json out = io::Json::array();
  for (const auto& [k, v] : values) {
    const std::string key = "layer_similarity/" + models[size_t(k.a)] + "/" + models[size_t(k.b)] + "/" + k.scope +
                            "/" + std::to_string(k.layer);
    auto summary = [&](const std::vector<double>& x, const char* what) {
      const stats::BootstrapCI ci =
          stats::bootstrap_mean_ci(x, opt.n_bootstrap, stats::derive_seed(opt.seed, key + "/" + what), opt.ci_level);
      io::Json j;
      j["mean"] = ci.defined ? io::Json(ci.estimate) : io::Json(nullptr);
      j["ci"] = ci.defined ? io::Json::array({ci.low, ci.high}) : io::Json(nullptr);
      j["n"] = static_cast<int64_t>(x.size());
      return j;
    };
    io::Json r;
    r["model_a"] = models[size_t(k.a)];
    r["model_b"] = models[size_t(k.b)];
    r["scope"] = k.scope;
    r["layer"] = k.layer;
    r["cka"] = summary(v.first, "cka");
    r["mean_cos"] = summary(v.second, "cos");
    r["small_n"] = static_cast<int64_t>(v.first.size()) < opt.min_n;
    out.push_back(r);
  }
  return out;
}

}  // namespace

stats::StatsInput build_stats_input(const RunAggregates& agg) {
  stats::StatsInput in;
  in.models = agg.models;
  in.families = agg.families;
  in.families.push_back("all");
  in.measures = kMeasures;
  if (agg.has_lens) {  // only then, and in BH families of its own: runs without keep their stats and q-values
    in.measures.push_back("lens_emergence_depth");
    in.own_family_measures.push_back("lens_emergence_depth");
  }
  const size_t M = agg.models.size(), F = agg.families.size(), K = in.measures.size();
  for (const auto& t : agg.texts) in.texts.push_back({t.record_id, t.level, t.is_correct});
  in.values.assign(in.texts.size() * M * (F + 1) * K, kNaN);
  in.present.assign(in.texts.size() * (F + 1), 0);
  for (size_t t = 0; t < agg.texts.size(); ++t) {
    for (size_t m = 0; m < M; ++m) {
      const TextModelAgg& a = agg.per_text[t][m];
      auto at = [&](size_t f, size_t k) -> double& { return in.values[((t * M + m) * (F + 1) + f) * K + k]; };
      const double n = double(a.n_answer);
      for (size_t f = 0; f < F; ++f) {
        at(f, 0) = mean(a.lp_word[f]);
        at(f, 1) = n > 0 ? 1000.0 * double(a.n_occ[f]) / n : kNaN;
        at(f, 2) = n > 0 ? a.sum_propensity[f] / n : kNaN;
        at(f, 3) = mean(a.entropy_before[f]);
        at(f, 4) = mean(a.kl_at[f]);
        if (agg.has_lens) at(f, 5) = a.lens_emergence[f];
        if (m == 0) in.present[t * (F + 1) + f] = a.n_occ[f] > 0 ? 1 : 0;
      }
      at(F, 0) = n > 0 ? a.sum_logprob / n : kNaN;
      at(F, 3) = n > 0 ? a.sum_entropy / n : kNaN;
      double kl = 0;
      int64_t kl_models = 0;
      for (size_t o = 0; o < M; ++o) {
        if (o != m && a.kl_n[o] > 0) {
          kl += a.kl_sum[o] / double(a.kl_n[o]);
          ++kl_models;
        }
      }
      at(F, 4) = kl_models > 0 ? kl / double(kl_models) : kNaN;
    }
    in.present[t * (F + 1) + F] = 1;
  }
  return in;
}

std::string unfinished_run(ResultsDb& db) {
  const int64_t texts = db.db().query_int("SELECT count(*) FROM texts");
  const int64_t done = db.n_texts_done();
  const std::string status = db.run_meta().status;
  if (done >= texts && status == "finished") return "";
  const std::string how = status == "running" ? "running, or stopped before it could say so" : status;
  return "an unfinished run (" + (how.empty() ? std::string("status unknown") : how) + "): " +
         std::to_string(done) + " of " + std::to_string(texts) +
         " texts done; these figures cover those (run the same command again to finish it)";
}

nlohmann::json write_stats(ResultsDb& db, const std::string& dir, const stats::StatsOptions& opt) {
  const RunAggregates agg = load_aggregates(db);
  const stats::StatsInput in = build_stats_input(agg);
  io::Json doc = stats::analyze(in, opt);
  if (agg.has_lens) doc["layer_similarity"] = layer_similarity_summary(db.db(), agg.models, opt);
  if (const std::string unfinished = unfinished_run(db); !unfinished.empty()) doc["unfinished"] = unfinished;
  // Which run and how much of it these are (`report` leaves out a stats.json that is not the database's).
  doc["run"] = {{"args_hash", db.args_hash()}, {"texts_done", db.n_texts_done()}};
  io::write_file_atomic(io::join_path(dir, "stats.json"), doc.dump(1) + "\n");
  io::write_file_atomic(io::join_path(dir, "stats.md"), stats::render_markdown(doc));
  io::Db& d = db.db();
  io::Transaction tx(d);
  d.exec("DROP TABLE IF EXISTS stats_tests; CREATE TABLE stats_tests(section TEXT, test TEXT, family TEXT, "
         "measure TEXT, model TEXT, model_a TEXT, model_b TEXT, level INTEGER, statistic REAL, p REAL, q REAL, "
         "n INTEGER, small_n INTEGER, detail TEXT)");
  io::Stmt ins(d, "INSERT INTO stats_tests VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  for (const char* section : {"model_comparisons", "friedman", "difficulty", "correctness"}) {
    if (doc.contains(section)) collect_tests(doc[section], section, nullptr, ins);
  }
  tx.commit();
  return doc;
}

}  // namespace lsc::results
