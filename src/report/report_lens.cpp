// Section "Inside the models" (run --lens): the logit lens over depth per model and family, KL of
// the lens to the model's own output, and for a sample of occurrences the lens top-k at every
// layer side by side. The similarity curves are stats.json's (layer_similarity).
#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "analysis/stats/bootstrap.h"
#include "report/report_data.h"

namespace lsc::report {

namespace {

constexpr int kMaxBootstrap = 2000;      // resamples per curve point (stated in the section's note)
constexpr size_t kMaxOccurrences = 60;   // occurrences whose lens top-k is embedded
constexpr int kTopK = 5;

MeanCi curve_point(const std::vector<double>& x, const stats::StatsOptions& so, const std::string& key) {
  return to_mean_ci(stats::bootstrap_mean_ci(x, std::min(so.n_bootstrap, kMaxBootstrap), stats::derive_seed(so.seed, key),
                                             so.ci_level));
}

}  // namespace

io::Json build_lens(results::ResultsDb& db, const results::RunAggregates& agg, const ReportOptions& opt,
                    const TokenNames& names) {
  io::Db& d = db.db();
  io::Json out;
  out["available"] = agg.has_lens;
  if (!agg.has_lens) return out;
  out["similarity_left_out"] = db.run_meta().similarity_left_out;
  const size_t M = agg.models.size(), F = agg.families.size();
  std::map<int64_t, size_t> text_row;
  for (size_t t = 0; t < agg.texts.size(); ++t) text_row[agg.texts[t].text_idx] = t;
  const std::vector<std::vector<int64_t>>& layers = agg.lens_layers;
  out["layers"] = layers;
  auto layer_pos = [&](size_t m, int64_t layer) {
    return size_t(std::lower_bound(layers[m].begin(), layers[m].end(), layer) - layers[m].begin());
  };
  // Per model, family and layer: the per-text mean lens propensity at the family's decision rows
  // (the aggregates'); per model and layer: the per-text mean KL(final ‖ lens) over every lens row.
  io::Json prop = io::Json::array(), kl = io::Json::array();
  for (size_t m = 0; m < M; ++m) {
    io::Json pm = io::Json::array();
    for (size_t f = 0; f < F; ++f) {
      io::Json curve = io::Json::array();
      for (size_t li = 0; li < layers[m].size(); ++li) {
        std::vector<double> per_text;
        for (const auto& row : agg.per_text) {
          if (!std::isnan(row[m].lens_prop[f][li])) per_text.push_back(row[m].lens_prop[f][li]);
        }
        curve.push_back(ci_json(curve_point(per_text, opt.stats,
                                            "lens/prop/" + agg.models[m] + "/" + agg.families[f] + "/" +
                                                std::to_string(layers[m][li])),
                                -4));
      }
      pm.push_back(curve);
    }
    prop.push_back(pm);
    std::vector<std::vector<double>> per_layer(layers[m].size());
    io::Stmt s(d, "SELECT text_idx, layer, avg(kl_final) FROM lens WHERE model_idx = " + std::to_string(m) +
                      " GROUP BY text_idx, layer ORDER BY text_idx, layer");
    while (s.step()) {
      if (text_row.count(s.col_int(0)) == 0) continue;
      per_layer[layer_pos(m, s.col_int(1))].push_back(s.col_double(2));
    }
    io::Json curve = io::Json::array();
    for (size_t li = 0; li < per_layer.size(); ++li) {
      curve.push_back(ci_json(
          curve_point(per_layer[li], opt.stats, "lens/kl/" + agg.models[m] + "/" + std::to_string(layers[m][li])), -4));
    }
    kl.push_back(curve);
  }
  out["prop"] = prop;  // [model][family][layer] = [n, mean, lo, hi]
  out["kl"] = kl;      // [model][layer]
  out["n_bootstrap"] = std::min(opt.stats.n_bootstrap, kMaxBootstrap);

  // A sample of occurrences (in text order, as model 0 reads them): every model's lens top-k at
  // every layer at the row predicting the occurrence's first token (the same answer token).
  io::Json occs = io::Json::array();
  {
    io::Stmt s(d, "SELECT o.text_idx, o.family, o.surface, o.tok_begin - tm.answer_first_pos FROM occurrences o JOIN "
                  "text_models tm ON tm.text_idx = o.text_idx AND tm.model_idx = o.model_idx JOIN done d ON d.text_idx "
                  "= o.text_idx WHERE o.model_idx = 0 ORDER BY o.occ_idx LIMIT " + std::to_string(kMaxOccurrences));
    while (s.step()) {
      io::Json o;
      const int64_t text = s.col_int(0), k = s.col_int(3);
      o["text"] = agg.texts[text_row.at(text)].record_id;
      o["family"] = s.col_text(1);
      o["surface"] = s.col_text(2);
      io::Json per_model = io::Json::array();
      for (size_t m = 0; m < M; ++m) {
        io::Json rows = io::Json::array();
        io::Stmt q(d, "SELECT l.layer, l.logprob, l.topk_ids, l.topk_logprobs FROM lens l JOIN text_models tm ON "
                      "tm.text_idx = l.text_idx AND tm.model_idx = l.model_idx WHERE l.text_idx = ? AND l.model_idx = ? "
                      "AND l.pos = tm.answer_first_pos + ? ORDER BY l.layer");
        q.bind(1, text).bind(2, int64_t(m)).bind(3, k);
        while (q.step()) {
          const auto ids = q.col_blob(2), lps = q.col_blob(3);
          const size_t n = std::min<size_t>(kTopK, ids.size() / 4);
          io::Json top = io::Json::array();
          for (size_t i = 0; i < n; ++i) {
            int32_t id;
            float lp;
            std::memcpy(&id, ids.data() + 4 * i, 4);
            std::memcpy(&lp, lps.data() + 4 * i, 4);
            top.push_back(io::Json::array({names.name(id), rnum(lp, 3)}));
          }
          rows.push_back(io::Json::array({q.col_int(0), rnum(q.col_double(1), 3), top}));
        }
        per_model.push_back(rows);
      }
      o["models"] = per_model;  // [model] = [[layer, logp of the observed token, [[token, logp] x k]]]
      occs.push_back(o);
    }
  }
  out["occurrences"] = occs;
  return out;
}

}  // namespace lsc::report
