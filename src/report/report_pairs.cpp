// Report section 8: how the models differ, per model pair, over the common answer positions of
// the pairs table: divergence distributions, top-1 agreement, where in the answer divergence
// sits, and the tokens and texts that diverge most.
#include <algorithm>
#include <array>
#include <map>

#include "report/report_data.h"

namespace lsc::report {

namespace {

constexpr double kLogLo = -6.0, kLogHi = 1.0;  // log10 range of the divergence histograms
constexpr int kLogBins = 56;
constexpr int kProfileBins = 20;   // relative position in the answer, 5% each
constexpr int kTopTokens = 25;     // most divergent token ids listed per pair
constexpr int kMinTokenCount = 3;  // ... among ids predicted at least this often
constexpr int kTopTexts = 15;

struct LogHist {
  std::vector<int64_t> count = std::vector<int64_t>(kLogBins, 0);
  void add(double v) {
    const double x = v > 0 ? std::log10(v) : kLogLo;
    const double b = std::floor((x - kLogLo) / (kLogHi - kLogLo) * kLogBins);
    ++count[size_t(std::clamp(b, 0.0, double(kLogBins - 1)))];
  }
};

struct Mean {
  int64_t n = 0;
  double s = 0;
  void add(double v) {
    ++n;
    s += v;
  }
  double get() const { return n ? s / double(n) : kNaN; }
};

}  // namespace

io::Json build_pairs(results::ResultsDb& db, const results::RunAggregates& agg, const TokenNames& names) {
  io::Db& d = db.db();
  std::map<int64_t, size_t> text_pos;
  for (size_t t = 0; t < agg.texts.size(); ++t) text_pos[agg.texts[t].text_idx] = t;
  std::vector<std::pair<int64_t, int64_t>> pairs;
  {
    io::Stmt s(d, "SELECT DISTINCT model_a, model_b FROM pairs ORDER BY model_a, model_b");
    while (s.step()) pairs.emplace_back(s.col_int(0), s.col_int(1));
  }
  io::Json out = io::Json::array();
  for (const auto& [a, b] : pairs) {
    // Common answer length per text (the profile's denominator).
    std::map<int64_t, int64_t> n_common;
    {
      io::Stmt s(d,
                 "SELECT text_idx, max(answer_idx) + 1 FROM pairs WHERE model_a = ? AND model_b = "
                 "? GROUP BY text_idx");
      s.bind(1, a).bind(2, b);
      while (s.step()) n_common[s.col_int(0)] = s.col_int(1);
    }
    LogHist h_ab, h_ba, h_js;
    Mean m_ab, m_ba, m_js, m_tv, m_agree, m_absd;
    std::vector<Mean> agree_level(6), prof_kl(kProfileBins), prof_js(kProfileBins),
        prof_dis(kProfileBins);
    std::map<int64_t, std::array<Mean, 3>> per_text;  // kl_ab, js, agree
    io::Stmt s(
        d,
        "SELECT text_idx, answer_idx, kl_ab, kl_ba, js_bits, tv, dlogp, top1_agree FROM pairs "
        "WHERE model_a = ? AND model_b = ?");
    s.bind(1, a).bind(2, b);
    while (s.step()) {
      const int64_t t = s.col_int(0), k = s.col_int(1);
      const double kl_ab = s.col_double(2), kl_ba = s.col_double(3), js = s.col_double(4),
                   tv = s.col_double(5);
      const double dl = s.col_double(6);
      const bool agree = s.col_int(7) != 0;
      h_ab.add(kl_ab);
      h_ba.add(kl_ba);
      h_js.add(js);
      m_ab.add(kl_ab);
      m_ba.add(kl_ba);
      m_js.add(js);
      m_tv.add(tv);
      m_agree.add(agree);
      m_absd.add(std::fabs(dl));
      auto it = text_pos.find(t);
      if (it != text_pos.end()) {
        const int level = agg.texts[it->second].level;
        if (level >= 1 && level <= 5) agree_level[size_t(level)].add(agree);
      }
      const double rel = (double(k) + 0.5) / double(std::max<int64_t>(1, n_common[t]));
      const size_t bin =
          size_t(std::clamp(std::floor(rel * kProfileBins), 0.0, double(kProfileBins - 1)));
      prof_kl[bin].add(kl_ab);
      prof_js[bin].add(js);
      prof_dis[bin].add(agree ? 0.0 : 1.0);
      auto& pt = per_text[t];
      pt[0].add(kl_ab);
      pt[1].add(js);
      pt[2].add(agree);
    }
    io::Json p;
    p["a"] = a;
    p["b"] = b;
    p["n"] = m_ab.n;
    p["hist"] = {{"log10_lo", kLogLo},
                 {"log10_hi", kLogHi},
                 {"kl_ab", h_ab.count},
                 {"kl_ba", h_ba.count},
                 {"js_bits", h_js.count}};
    p["mean"] = {{"kl_ab", rsig(m_ab.get())},
                 {"kl_ba", rsig(m_ba.get())},
                 {"js_bits", rsig(m_js.get())},
                 {"tv", rsig(m_tv.get())},
                 {"top1_agree", rnum(m_agree.get(), 4)},
                 {"abs_dlogp", rnum(m_absd.get(), 4)}};
    io::Json al = io::Json::array(), an = io::Json::array();
    for (int l = 1; l <= 5; ++l) {
      al.push_back(rnum(agree_level[size_t(l)].get(), 4));
      an.push_back(agree_level[size_t(l)].n);
    }
    p["agree_by_level"] = al;
    p["n_by_level"] = an;
    io::Json pk = io::Json::array(), pj = io::Json::array(), pd = io::Json::array(),
             pn = io::Json::array();
    for (int i = 0; i < kProfileBins; ++i) {
      pk.push_back(rsig(prof_kl[size_t(i)].get()));
      pj.push_back(rsig(prof_js[size_t(i)].get()));
      pd.push_back(rnum(prof_dis[size_t(i)].get(), 4));
      pn.push_back(prof_kl[size_t(i)].n);
    }
    p["profile"] = {
        {"bins", kProfileBins}, {"kl_ab", pk}, {"js_bits", pj}, {"disagree", pd}, {"n", pn}};
    // Token ids whose predicting rows diverge most (the row before the token: DESIGN §2 alignment).
    {
      io::Json rows = io::Json::array();
      io::Stmt q(
          d,
          "SELECT p.token_id, count(*), avg(r.js_bits), avg(r.kl_ab), avg(r.kl_ba), avg(r.dlogp), "
          "sum(r.kl_ab) FROM pairs r JOIN positions p ON p.text_idx = r.text_idx AND p.model_idx = "
          "r.model_a "
          "AND p.pos = r.pos_a WHERE r.model_a = ? AND r.model_b = ? GROUP BY p.token_id "
          "HAVING count(*) >= ? ORDER BY avg(r.js_bits) DESC LIMIT ?");
      q.bind(1, a).bind(2, b).bind(3, int64_t{kMinTokenCount}).bind(4, int64_t{kTopTokens});
      while (q.step()) {
        const auto id = static_cast<int32_t>(q.col_int(0));
        rows.push_back({id, names.name(id), q.col_int(1), rsig(q.col_double(2)),
                        rsig(q.col_double(3)), rsig(q.col_double(4)), rnum(q.col_double(5), 3),
                        rsig(q.col_double(6))});
      }
      p["top_tokens"] = rows;
      p["top_tokens_columns"] = {"token id",          "token",        "n",
                                 "mean JS (bits)",    "mean KL(a‖b)", "mean KL(b‖a)",
                                 "mean Δlog p (b−a)", "Σ KL(a‖b)"};
    }
    {
      std::vector<std::pair<double, int64_t>> order;
      for (const auto& [t, m] : per_text) order.emplace_back(m[1].get(), t);
      std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
        return x.first > y.first || (x.first == y.first && x.second < y.second);
      });
      io::Json rows = io::Json::array();
      for (size_t i = 0; i < order.size() && i < size_t(kTopTexts); ++i) {
        const int64_t t = order[i].second;
        const auto& m = per_text[t];
        auto it = text_pos.find(t);
        if (it == text_pos.end()) continue;
        rows.push_back({t, m[0].n, rsig(m[1].get()), rsig(m[0].get()), rnum(m[2].get(), 4)});
      }
      p["top_texts"] = rows;
      p["top_texts_columns"] = {"text", "answer tokens", "mean JS (bits)", "mean KL(a‖b)",
                                "top-1 agreement"};
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace lsc::report
