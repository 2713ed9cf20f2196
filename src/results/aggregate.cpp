// Aggregation of the results database into per-text values and summary.json.
#include "results/aggregate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"

namespace lsc::results {

namespace {

// RunAggregates::lens_layers and TextModelAgg::lens_prop / lens_emergence of every text and model
// (index: text_idx → position in r.texts).
void add_lens(io::Db& d, const std::map<int64_t, size_t>& index, RunAggregates& r) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const size_t M = r.models.size(), F = r.families.size();
  r.lens_layers.assign(M, {});
  {
    io::Stmt s(d, "SELECT DISTINCT model_idx, layer FROM lens ORDER BY model_idx, layer");
    while (s.step()) {
      if (size_t(s.col_int(0)) < M) r.lens_layers[size_t(s.col_int(0))].push_back(s.col_int(1));
    }
  }
  for (auto& row : r.per_text) {
    for (size_t m = 0; m < M; ++m) {
      row[m].lens_prop.assign(F, std::vector<double>(r.lens_layers[m].size(), nan));
      row[m].lens_emergence.assign(F, nan);
    }
  }
  for (size_t f = 0; f < F; ++f) {
    const std::string col = ResultsDb::propensity_column(r.families[f]), fam = std::to_string(f);
    io::Stmt s(d, "SELECT o.text_idx, o.model_idx, l.layer, avg(l." + col + ") FROM occurrences o JOIN lens l ON "
                  "l.text_idx = o.text_idx AND l.model_idx = o.model_idx AND l.pos = o.tok_begin WHERE o.family_idx = " +
                  fam + " GROUP BY o.text_idx, o.model_idx, l.layer");
    while (s.step()) {
      const auto it = index.find(s.col_int(0));
      const size_t m = size_t(s.col_int(1));
      if (it == index.end() || m >= M) continue;
      const auto& layers = r.lens_layers[m];
      const size_t li = size_t(std::lower_bound(layers.begin(), layers.end(), s.col_int(2)) - layers.begin());
      r.per_text[it->second][m].lens_prop[f][li] = s.col_double(3);
    }
    // The model's own propensity at the decision rows, then the first layer reaching half of it.
    io::Stmt q(d, "SELECT o.text_idx, o.model_idx, avg(p." + col + ") FROM occurrences o JOIN positions p ON "
                  "p.text_idx = o.text_idx AND p.model_idx = o.model_idx AND p.pos = o.tok_begin WHERE o.family_idx = " +
                  fam + " GROUP BY o.text_idx, o.model_idx");
    while (q.step()) {
      const auto it = index.find(q.col_int(0));
      const size_t m = size_t(q.col_int(1));
      const double final_value = q.col_double(2);
      if (it == index.end() || m >= M || !(final_value > 0.0)) continue;
      TextModelAgg& a = r.per_text[it->second][m];
      for (size_t li = 0; li < a.lens_prop[f].size(); ++li) {
        if (a.lens_prop[f][li] >= 0.5 * final_value) {
          a.lens_emergence[f] = double(r.lens_layers[m][li]);
          break;
        }
      }
    }
  }
}

}  // namespace

RunAggregates load_aggregates(ResultsDb& db) {
  io::Db& d = db.db();
  RunAggregates r;
  {
    io::Stmt s(d, "SELECT name FROM models ORDER BY model_idx");
    while (s.step()) r.models.push_back(s.col_text(0));
  }
  {
    io::Stmt s(d, "SELECT name FROM families ORDER BY family_idx");
    while (s.step()) r.families.push_back(s.col_text(0));
  }
  const size_t M = r.models.size(), F = r.families.size();
  std::map<int64_t, size_t> index;
  {
    io::Stmt s(d, "SELECT t.text_idx, t.record_id, t.level, t.is_correct FROM texts t JOIN done USING(text_idx) "
                  "ORDER BY t.text_idx");
    while (s.step()) {
      TextInfo t{s.col_int(0), s.col_text(1), s.col_is_null(2) ? 0 : int(s.col_int(2)),
                 s.col_is_null(3) ? -1 : int(s.col_int(3))};
      index[t.text_idx] = r.texts.size();
      r.texts.push_back(t);
    }
  }
  TextModelAgg empty;
  empty.sum_propensity.assign(F, 0.0);
  empty.n_occ.assign(F, 0);
  empty.lp_word.assign(F, {});
  empty.lp_first.assign(F, {});
  empty.entropy_before.assign(F, {});
  empty.kl_at.assign(F, {});
  empty.kl_sum.assign(M, 0.0);
  empty.kl_n.assign(M, 0);
  r.per_text.assign(r.texts.size(), std::vector<TextModelAgg>(M, empty));
  {
    std::string sql = "SELECT text_idx, model_idx, count(*), sum(entropy), sum(logprob)";
    for (const auto& f : r.families) sql += ", sum(" + ResultsDb::propensity_column(f) + ")";
    sql += " FROM positions WHERE span != 'prompt' AND logprob IS NOT NULL GROUP BY text_idx, model_idx";
    io::Stmt s(d, sql);
    while (s.step()) {
      auto it = index.find(s.col_int(0));
      if (it == index.end()) continue;
      TextModelAgg& a = r.per_text[it->second][size_t(s.col_int(1))];
      a.n_answer = s.col_int(2);
      a.sum_entropy = s.col_double(3);
      a.sum_logprob = s.col_double(4);
      for (size_t f = 0; f < F; ++f) a.sum_propensity[f] = s.col_double(5 + int(f));
    }
  }
  {
    io::Stmt s(d, "SELECT o.text_idx, o.model_idx, o.family_idx, o.logprob_word, o.logprob_first, o.entropy_before, "
                  "o.kl_at FROM occurrences o ORDER BY o.text_idx, o.model_idx, o.occ_idx");
    while (s.step()) {
      auto it = index.find(s.col_int(0));
      if (it == index.end()) continue;
      TextModelAgg& a = r.per_text[it->second][size_t(s.col_int(1))];
      const size_t f = size_t(s.col_int(2));
      ++a.n_occ[f];
      a.lp_word[f].push_back(s.col_double(3));
      a.lp_first[f].push_back(s.col_double(4));
      a.entropy_before[f].push_back(s.col_double(5));
      if (!s.col_is_null(6)) a.kl_at[f].push_back(s.col_double(6));
    }
  }
  {
    io::Stmt s(d, "SELECT text_idx, model_a, model_b, sum(kl_ab), sum(kl_ba), count(*) FROM pairs "
                  "GROUP BY text_idx, model_a, model_b");
    while (s.step()) {
      auto it = index.find(s.col_int(0));
      if (it == index.end()) continue;
      const size_t a = size_t(s.col_int(1)), b = size_t(s.col_int(2));
      auto& ta = r.per_text[it->second][a];
      auto& tb = r.per_text[it->second][b];
      ta.kl_sum[b] += s.col_double(3);
      ta.kl_n[b] += s.col_int(5);
      tb.kl_sum[a] += s.col_double(4);
      tb.kl_n[a] += s.col_int(5);
    }
  }
  r.has_lens = d.has_table("lens") && d.query_int("SELECT count(*) FROM lens") > 0;
  if (r.has_lens) add_lens(d, index, r);
  return r;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

io::Json number_or_null(double v) { return std::isfinite(v) ? io::Json(v) : io::Json(nullptr); }

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

void write_summary(ResultsDb& db, const std::string& out_dir) {
  const RunAggregates r = load_aggregates(db);
  const size_t M = r.models.size(), F = r.families.size();
  io::Json cells = io::Json::array();
  // Groups: every level (and all), every correctness (and all). Unknown values only enter "all".
  for (int level = 0; level <= 5; ++level) {
    for (int correct = -1; correct <= 1; ++correct) {
      std::vector<size_t> sel;
      for (size_t t = 0; t < r.texts.size(); ++t) {
        if (level > 0 && r.texts[t].level != level) continue;
        if (correct >= 0 && r.texts[t].is_correct != correct) continue;
        sel.push_back(t);
      }
      for (size_t m = 0; m < M; ++m) {
        // "all" family (index F) = every answer token; then each keyword family.
        for (size_t f = 0; f <= F; ++f) {
          int64_t n_tok = 0, n_occ = 0;
          double s_ent = 0, s_lp = 0, s_prop = 0;
          std::vector<double> words, firsts, entropies, kls, kl_s(M, 0.0);
          std::vector<int64_t> kl_n(M, 0);
          for (size_t t : sel) {
            const TextModelAgg& a = r.per_text[t][m];
            n_tok += a.n_answer;
            s_ent += a.sum_entropy;
            s_lp += a.sum_logprob;
            for (size_t o = 0; o < M; ++o) {
              kl_s[o] += a.kl_sum[o];
              kl_n[o] += a.kl_n[o];
            }
            if (f < F) {
              n_occ += a.n_occ[f];
              s_prop += a.sum_propensity[f];
              words.insert(words.end(), a.lp_word[f].begin(), a.lp_word[f].end());
              firsts.insert(firsts.end(), a.lp_first[f].begin(), a.lp_first[f].end());
              entropies.insert(entropies.end(), a.entropy_before[f].begin(), a.entropy_before[f].end());
              kls.insert(kls.end(), a.kl_at[f].begin(), a.kl_at[f].end());
            }
          }
          io::Json c;
          c["model"] = r.models[m];
          c["family"] = f < F ? r.families[f] : "all";
          c["level"] = level == 0 ? io::Json("all") : io::Json(level);
          c["correct"] = correct < 0 ? io::Json("all") : io::Json(correct == 1);
          c["n_texts"] = sel.size();
          c["n_answer_tokens"] = n_tok;
          const auto mean = [](const std::vector<double>& v) {
            double sum = 0;
            for (double x : v) sum += x;
            return v.empty() ? kNaN : sum / double(v.size());
          };
          if (f < F) {
            c["n_occurrences"] = n_occ;
            c["rate_per_1k"] = number_or_null(n_tok ? 1000.0 * double(n_occ) / double(n_tok) : kNaN);
            c["mean_logprob_word"] = number_or_null(mean(words));
            c["median_logprob_word"] = number_or_null(median(words));
            c["mean_logprob_first"] = number_or_null(mean(firsts));
            c["mean_propensity"] = number_or_null(n_tok ? s_prop / double(n_tok) : kNaN);
            // At the family's occurrences, as stats.json's entropy and kl of a family.
            c["mean_entropy_before"] = number_or_null(mean(entropies));
            if (M > 1) c["mean_kl_at"] = number_or_null(mean(kls));
          } else {
            c["mean_logprob"] = number_or_null(n_tok ? s_lp / double(n_tok) : kNaN);
            c["mean_entropy"] = number_or_null(n_tok ? s_ent / double(n_tok) : kNaN);
            io::Json kl = io::Json::object();
            for (size_t o = 0; o < M; ++o) {
              if (o != m) kl[r.models[o]] = number_or_null(kl_n[o] ? kl_s[o] / double(kl_n[o]) : kNaN);
            }
            c["mean_kl_to"] = kl;
          }
          cells.push_back(std::move(c));
        }
      }
    }
  }
  io::Json j;
  j["format"] = "logitscope-summary/1";
  j["models"] = r.models;
  j["families"] = r.families;
  j["n_texts"] = r.texts.size();
  j["definitions"] = {
      {"unit", "answer tokens (span answer, think or after_think) of texts finished in results.sqlite"},
      {"rate_per_1k", "occurrences per 1000 answer tokens, pooled over the texts of the cell"},
      {"mean_logprob_word", "mean over occurrences of the whole-word log p (sum over its tokens), nats"},
      {"mean_logprob_first", "mean over occurrences of the first token's log p (the decision point), nats"},
      {"mean_propensity", "mean over answer positions of the family's next-token probability mass"},
      {"mean_entropy_before", "keyword families: mean over occurrences of the entropy of the row that predicts "
                              "the occurrence's first token, nats"},
      {"mean_kl_at", "keyword families: mean over occurrences of the mean KL(P_model || P_other) over the other "
                     "models at the occurrence, nats"},
      {"mean_entropy", "family 'all': mean entropy over answer tokens, nats"},
      {"mean_kl_to", "family 'all': mean over common answer positions of KL(P_model || P_other), nats"},
      {"level/correct", "'all' includes texts with unknown level / correctness"}};
  j["cells"] = std::move(cells);
  io::write_file_atomic(io::join_path(out_dir, "summary.json"), j.dump(1) + "\n");
}

}  // namespace lsc::results
