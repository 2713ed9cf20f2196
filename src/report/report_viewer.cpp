// Report sections 9 (logits heatmap) and 11 (token viewer): a bounded selection of texts with
// every model's per-position values aligned to the first model's token layout.
// Selection (docs/report.md): all texts if they fit; otherwise the most divergent quarter (mean
// Jensen-Shannon over all model pairs), then texts drawn round-robin over level × correctness
// strata in a seeded shuffle, each taken only while the position budget allows.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "analysis/stats/bootstrap.h"
#include "report/report_data.h"

namespace lsc::report {

namespace {

struct Layout {
  std::string text;
  int64_t n_tokens = 0, answer_first = 0, n_answer = 0;
};

// Byte offset of every code point of a UTF-8 string, plus the end (positions index code points).
std::vector<size_t> code_point_offsets(const std::string& s) {
  std::vector<size_t> off;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) off.push_back(i);
  }
  off.push_back(s.size());
  return off;
}

int span_code(const std::string& s) {
  if (s == "prompt") return 0;
  if (s == "think") return 2;
  if (s == "after_think") return 3;
  return 1;
}


// One model's lens propensities in one text, at the first model's display positions:
// {"pos": [display positions], "prop": [kept layer][family][i]} (null where a row is missing).
// back: this model's position → display position (−1: none); layers: the model's lens layers;
// keep: the indices of those embedded.
io::Json viewer_lens(io::Stmt& q, int64_t text_idx, size_t m, const std::vector<int64_t>& back,
                     const std::vector<int64_t>& layers, const std::vector<size_t>& keep, size_t F) {
  struct Row {
    size_t li;
    int64_t p;
    std::vector<double> prop;
  };
  std::vector<Row> rows;
  std::vector<int64_t> pos;
  std::vector<int64_t> slot(layers.size(), -1);  // lens layer index → kept index
  for (size_t k = 0; k < keep.size(); ++k) slot[keep[k]] = int64_t(k);
  q.reset();
  q.bind(1, text_idx).bind(2, int64_t(m));
  while (q.step()) {
    const int64_t pm = q.col_int(1);
    const size_t li = size_t(std::lower_bound(layers.begin(), layers.end(), q.col_int(0)) - layers.begin());
    if (li >= layers.size() || slot[li] < 0 || pm < 0 || pm >= int64_t(back.size()) || back[size_t(pm)] < 0) continue;
    Row r{size_t(slot[li]), back[size_t(pm)], std::vector<double>(F)};
    for (size_t f = 0; f < F; ++f) r.prop[f] = q.col_double(2 + int(f));
    pos.push_back(r.p);
    rows.push_back(std::move(r));
  }
  std::sort(pos.begin(), pos.end());
  pos.erase(std::unique(pos.begin(), pos.end()), pos.end());
  std::vector<std::vector<io::Json>> prop(keep.size() * F, std::vector<io::Json>(pos.size(), nullptr));
  for (const Row& r : rows) {
    const size_t i = size_t(std::lower_bound(pos.begin(), pos.end(), r.p) - pos.begin());
    for (size_t f = 0; f < F; ++f) prop[r.li * F + f][i] = rsig(r.prop[f], 3);
  }
  io::Json jp = io::Json::array();
  for (size_t k = 0; k < keep.size(); ++k) {
    io::Json per_family = io::Json::array();
    for (size_t f = 0; f < F; ++f) per_family.push_back(prop[k * F + f]);
    jp.push_back(per_family);
  }
  return {{"pos", pos}, {"prop", jp}};
}

}  // namespace

io::Json build_viewer(results::ResultsDb& db, const results::RunAggregates& agg, const ReportOptions& opt,
                      const TokenNames& names) {
  io::Db& d = db.db();
  const size_t M = agg.models.size(), N = agg.texts.size();
  // Layouts and cost (cells = first model's positions × models) of every text.
  std::map<int64_t, std::vector<Layout>> layouts;
  {
    io::Stmt s(d,
               "SELECT text_idx, model_idx, text, n_tokens, answer_first_pos, n_answer_tokens FROM "
               "text_models");
    while (s.step()) {
      auto& v = layouts[s.col_int(0)];
      const size_t m = size_t(s.col_int(1));
      if (m >= M) continue;
      v.resize(M);
      v[m] = {s.col_text(2), s.col_int(3), s.col_int(4), s.col_int(5)};
    }
  }
  std::map<int64_t, double> js;
  {
    io::Stmt s(d, "SELECT text_idx, avg(js_bits) FROM pairs GROUP BY text_idx");
    while (s.step()) js[s.col_int(0)] = s.col_double(1);
  }
  auto cost = [&](size_t t) {
    auto it = layouts.find(agg.texts[t].text_idx);
    return it == layouts.end() || it->second.empty() ? int64_t{0}
                                                     : it->second[0].n_tokens * int64_t(M);
  };
  int64_t total_cost = 0;
  for (size_t t = 0; t < N; ++t) total_cost += cost(t);
  // Priority order and the reason each text is in it.
  std::vector<std::pair<size_t, std::string>> order;
  std::string rule;
  if (int64_t(N) <= opt.max_texts && total_cost <= opt.max_viewer_cells) {
    for (size_t t = 0; t < N; ++t) order.emplace_back(t, "all");
    rule = "every text (" + std::to_string(N) + ")";
  } else {
    std::vector<size_t> by_js;
    for (size_t t = 0; t < N; ++t) {
      if (js.count(agg.texts[t].text_idx)) by_js.push_back(t);
    }
    std::stable_sort(by_js.begin(), by_js.end(), [&](size_t x, size_t y) {
      return js[agg.texts[x].text_idx] > js[agg.texts[y].text_idx];
    });
    const size_t n_div = std::min(by_js.size(), size_t((opt.max_texts + 3) / 4));
    for (size_t i = 0; i < n_div; ++i) order.emplace_back(by_js[i], "most divergent");
    std::map<std::pair<int, int>, std::vector<size_t>> strata;
    for (size_t t = 0; t < N; ++t)
      strata[{agg.texts[t].level, agg.texts[t].is_correct}].push_back(t);
    stats::Rng rng(opt.sample_seed);
    for (auto& [key, v] : strata) {
      for (size_t i = v.size(); i > 1; --i)
        std::swap(v[i - 1], v[size_t(rng.below(i))]);  // Fisher-Yates
    }
    for (size_t round = 0;; ++round) {
      bool any = false;
      for (auto& [key, v] : strata) {
        if (round < v.size()) {
          order.emplace_back(v[round], "stratified sample");
          any = true;
        }
      }
      if (!any) break;
    }
  }
  std::vector<std::pair<size_t, std::string>> chosen;
  std::set<size_t> taken;
  int64_t used = 0;
  for (const auto& [t, why] : order) {
    if (int64_t(chosen.size()) >= opt.max_texts) break;
    if (taken.count(t) || used + cost(t) > opt.max_viewer_cells) continue;
    taken.insert(t);
    used += cost(t);
    chosen.emplace_back(t, why);
  }
  std::sort(chosen.begin(), chosen.end());
  if (rule.empty()) {  // what was taken, by reason (a long text may not fit what is left)
    int64_t n_div = 0;
    for (const auto& [t, why] : chosen) n_div += why == "most divergent";
    rule = "up to " + std::to_string(opt.max_texts) + " texts (--max-texts) and " + std::to_string(opt.max_viewer_cells) +
           " position×model cells (--max-cells): " + std::to_string(n_div) +
           " of the most divergent (mean JS over model pairs), then " + std::to_string(int64_t(chosen.size()) - n_div) +
           " by a seeded round-robin draw over level × correctness strata";
  }
  // Texts no selection can hold: longer alone than the budget (said, with the option that helps).
  io::Json too_long = io::Json::array();
  for (size_t t = 0; t < N; ++t) {
    if (cost(t) > opt.max_viewer_cells) {
      too_long.push_back({{"record_id", agg.texts[t].record_id}, {"tokens", cost(t) / int64_t(M)}});
    }
  }

  // run --lens: the lens layers embedded per model — all of them, or every s-th one counted back
  // from the last when the chosen texts' lens rows × families exceed the budget.
  const size_t F = agg.families.size();
  std::vector<std::vector<size_t>> lens_keep(M);  // [model]: indices into agg.lens_layers[m]
  int64_t lens_stride = 1;
  std::string lens_sql;
  if (agg.has_lens) {
    int64_t rows = 0;
    io::Stmt s(d, "SELECT count(*) FROM lens WHERE text_idx = ?");
    for (const auto& [t, why] : chosen) {
      s.reset();
      s.bind(1, agg.texts[t].text_idx);
      if (s.step()) rows += s.col_int(0);
    }
    const int64_t values = rows * int64_t(F), budget = std::max<int64_t>(1, opt.max_viewer_lens_values);
    lens_stride = std::max<int64_t>(1, (values + budget - 1) / budget);
    for (size_t m = 0; m < M; ++m) {
      const size_t n = agg.lens_layers[m].size();
      for (size_t li = 0; li < n; ++li) {
        if ((n - 1 - li) % size_t(lens_stride) == 0) lens_keep[m].push_back(li);
      }
    }
    lens_sql = "SELECT layer, pos";
    for (const auto& f : agg.families) lens_sql += ", " + results::ResultsDb::propensity_column(f);
    lens_sql += " FROM lens WHERE text_idx = ? AND model_idx = ? ORDER BY layer, pos";
  }
  std::unique_ptr<io::Stmt> q_lens = agg.has_lens ? std::make_unique<io::Stmt>(d, lens_sql) : nullptr;

  const int stored_k = db.run_meta().top_k;
  const int K = stored_k > 0 ? std::min(opt.viewer_top_k, stored_k) : opt.viewer_top_k;  // no more than the run stored
  std::set<int32_t> vocab_ids;
  io::Json texts = io::Json::array();
  std::vector<std::pair<int64_t, int64_t>> pairs;
  {
    io::Stmt s(d, "SELECT DISTINCT model_a, model_b FROM pairs ORDER BY model_a, model_b");
    while (s.step()) pairs.emplace_back(s.col_int(0), s.col_int(1));
  }
  io::Stmt q_pos(d,
                 "SELECT pos, span, token_id, char_begin, char_end, logprob, rank, entropy, "
                 "topk_ids, topk_logprobs "
                 "FROM positions WHERE text_idx = ? AND model_idx = ? ORDER BY pos");
  io::Stmt q_pair(d,
                  "SELECT answer_idx, kl_ab, kl_ba, js_bits FROM pairs WHERE text_idx = ? AND "
                  "model_a = ? AND model_b = ?");
  io::Stmt q_occ(d,
                 "SELECT tok_begin, tok_end, family_idx FROM occurrences WHERE text_idx = ? AND "
                 "model_idx = 0 ORDER BY tok_begin");
  for (const auto& [t, why] : chosen) {
    const results::TextInfo& ti = agg.texts[t];
    const std::vector<Layout>& lay = layouts[ti.text_idx];
    if (lay.empty()) continue;
    const Layout& l0 = lay[0];
    const int64_t T = l0.n_tokens;
    io::Json jt;
    jt["row"] = t;  // index into the texts table
    jt["why"] = why;
    jt["js"] =
        js.count(ti.text_idx) ? rsig(js[ti.text_idx], 3) : io::Json(nullptr);  // mean JS over pairs
    jt["answer_first"] = l0.answer_first;
    io::Json models = io::Json::array();
    io::Json pieces = io::Json::array(), spans = io::Json::array(), toks = io::Json::array();
    for (size_t m = 0; m < M; ++m) {
      const Layout& lm = lay[m];
      const bool same_layout = lm.text == l0.text;
      // model-0 position → this model's position (−1: none).
      auto map_pos = [&](int64_t p) -> int64_t {
        if (same_layout) return p < lm.n_tokens ? p : -1;
        const int64_t k = p - l0.answer_first;
        return k >= 0 && k < lm.n_answer ? lm.answer_first + k : -1;
      };
      std::vector<int64_t> back(size_t(std::max<int64_t>(lm.n_tokens, 0)), -1);
      for (int64_t p = 0; p < T; ++p) {
        const int64_t pm = map_pos(p);
        if (pm >= 0 && pm < lm.n_tokens) back[size_t(pm)] = p;
      }
      io::Json lp(T, nullptr), ent(T, nullptr), rank(T, nullptr), tki = io::Json::array(),
                                                                  tkl = io::Json::array();
      std::vector<int32_t> tk_ids(size_t(T * K), -1);
      std::vector<float> tk_lps(size_t(T * K), 0.0f);
      const std::vector<size_t> cps = code_point_offsets(l0.text);
      int64_t prev_end = 0;
      q_pos.reset();
      q_pos.bind(1, ti.text_idx).bind(2, int64_t(m));
      while (q_pos.step()) {
        const int64_t pm = q_pos.col_int(0);
        if (m == 0) {  // the displayed layout
          const int32_t id = static_cast<int32_t>(q_pos.col_int(2));
          int64_t cb = std::max(q_pos.col_int(3), prev_end), ce = q_pos.col_int(4);
          const int64_t n_cp = int64_t(cps.size()) - 1;
          cb = std::clamp<int64_t>(cb, 0, n_cp);
          ce = std::clamp<int64_t>(ce, cb, n_cp);
          std::string piece = l0.text.substr(cps[size_t(cb)], cps[size_t(ce)] - cps[size_t(cb)]);
          if (q_pos.col_int(4) == 0 && q_pos.col_int(3) == 0)
            piece = names.name(id);  // added special token
          prev_end = std::max(prev_end, ce);
          pieces.push_back(piece);
          spans.push_back(span_code(q_pos.col_text(1)));
          toks.push_back(id);
          vocab_ids.insert(id);
        }
        if (pm < 0 || pm >= int64_t(back.size()) || back[size_t(pm)] < 0 || q_pos.col_is_null(5))
          continue;
        const size_t p = size_t(back[size_t(pm)]);
        lp[p] = rnum(q_pos.col_double(5), 3);
        rank[p] = q_pos.col_int(6);
        ent[p] = rnum(q_pos.col_double(7), 3);
        const auto ib = q_pos.col_blob(8), lb = q_pos.col_blob(9);
        const size_t k_stored = std::min(ib.size(), lb.size()) / 4;
        for (size_t i = 0; i < k_stored && i < size_t(K); ++i) {
          std::memcpy(&tk_ids[p * size_t(K) + i], &ib[i * 4], 4);
          std::memcpy(&tk_lps[p * size_t(K) + i], &lb[i * 4], 4);
          vocab_ids.insert(tk_ids[p * size_t(K) + i]);
        }
      }
      for (size_t i = 0; i < tk_ids.size(); ++i) {
        tki.push_back(tk_ids[i]);
        tkl.push_back(tk_ids[i] < 0 ? io::Json(nullptr) : rnum(double(tk_lps[i]), 2));
      }
      io::Json jm = {{"lp", lp}, {"ent", ent}, {"rank", rank}, {"tki", tki}, {"tkl", tkl}};
      if (q_lens) jm["lens"] = viewer_lens(*q_lens, ti.text_idx, m, back, agg.lens_layers[m], lens_keep[m], F);
      models.push_back(jm);
    }
    jt["piece"] = pieces;
    jt["span"] = spans;
    jt["tok"] = toks;
    jt["models"] = models;
    io::Json jp = io::Json::array();
    for (const auto& [a, b] : pairs) {
      io::Json kab(T, nullptr), kba(T, nullptr), jsb(T, nullptr);
      q_pair.reset();
      q_pair.bind(1, ti.text_idx).bind(2, a).bind(3, b);
      while (q_pair.step()) {
        const int64_t p = l0.answer_first + q_pair.col_int(0);
        if (p < 0 || p >= T) continue;
        kab[size_t(p)] = rsig(q_pair.col_double(1), 3);
        kba[size_t(p)] = rsig(q_pair.col_double(2), 3);
        jsb[size_t(p)] = rsig(q_pair.col_double(3), 3);
      }
      jp.push_back({{"a", a}, {"b", b}, {"kl_ab", kab}, {"kl_ba", kba}, {"js", jsb}});
    }
    jt["pairs"] = jp;
    io::Json occ = io::Json::array();
    q_occ.reset();
    q_occ.bind(1, ti.text_idx);
    while (q_occ.step()) occ.push_back({q_occ.col_int(0), q_occ.col_int(1), q_occ.col_int(2)});
    jt["occ"] = occ;  // [tok_begin, tok_end, family] in the first model's layout
    texts.push_back(jt);
  }
  io::Json vocab_id = io::Json::array(), vocab_name = io::Json::array();
  for (int32_t id : vocab_ids) {
    if (id < 0) continue;
    vocab_id.push_back(id);
    vocab_name.push_back(names.name(id));
  }
  io::Json j;
  j["rule"] = rule;
  j["too_long"] = too_long;
  j["top_k"] = K;
  j["stored_top_k"] = db.run_meta().top_k;
  j["n_candidates"] = N;
  j["texts"] = texts;
  j["vocab"] = {{"id", vocab_id}, {"name", vocab_name}};
  if (agg.has_lens) {
    io::Json kept = io::Json::array();
    for (size_t m = 0; m < M; ++m) {
      io::Json l = io::Json::array();
      for (size_t li : lens_keep[m]) l.push_back(agg.lens_layers[m][li]);
      kept.push_back(l);
    }
    j["lens_layers"] = kept;  // [model]: the layers of models[m].lens.prop
    j["lens_stride"] = lens_stride;
    j["lens_at"] = db.run_meta().lens_at;
  }
  return j;
}

}  // namespace lsc::report
