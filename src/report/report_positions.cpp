// Report sections 3 (per-model distributions over answer positions) and 7 (windows around
// keyword occurrences). Histograms are binned here over every answer position, so the file size
// does not grow with the run.
#include <algorithm>
#include <array>
#include <map>

#include "report/report_data.h"

namespace lsc::report {

namespace {

struct Hist {
  double lo, width;
  std::vector<int64_t> count;
  Hist(double lo_, double hi_, int n) : lo(lo_), width((hi_ - lo_) / n), count(size_t(n), 0) {}
  // Values outside [lo, hi) go to the first or last bin (their labels say "≤" / "≥").
  void add(double v) {
    const double b = std::floor((v - lo) / width);
    const auto i = static_cast<int64_t>(std::clamp(b, 0.0, double(count.size() - 1)));
    ++count[size_t(i)];
  }
  io::Json json() const { return {{"lo", lo}, {"width", width}, {"count", count}}; }
};

// Σx and Σx² per cell; variance from them is fine at these magnitudes (|mean|/sd ≲ 10).
struct Sums {
  int64_t n = 0;
  double s = 0, ss = 0;
  void add(int64_t n_, double s_, double ss_) {
    n += n_;
    s += s_;
    ss += ss_;
  }
};

}  // namespace

io::Json build_distributions(results::ResultsDb& db, const results::RunAggregates& agg) {
  const size_t M = agg.models.size();
  // Bin ranges from the data, log p clipped at −30: shared by all models.
  double lp_lo = -20, lp_hi = 0, ent_lo = 0, ent_hi = 12;
  {
    io::Stmt s(db.db(),
               "SELECT min(logprob), max(logprob), min(entropy), max(entropy) FROM positions WHERE "
               "span != 'prompt' AND logprob IS NOT NULL");
    if (s.step() && !s.col_is_null(0)) {
      // The data's range plus 2% each side (at least 0.1 nats wide).
      auto pad = [](double& lo, double& hi) {
        const double w = std::max(0.1, hi - lo);
        lo -= 0.02 * w;
        hi += 0.02 * w;
      };
      lp_lo = std::max(-30.0, s.col_double(0));
      lp_hi = std::min(0.0, s.col_double(1));
      if (lp_hi <= lp_lo) lp_lo = lp_hi - 0.1;
      pad(lp_lo, lp_hi);
      ent_lo = s.col_double(2);
      ent_hi = s.col_double(3);
      pad(ent_lo, ent_hi);
    }
  }
  std::vector<Hist> lp(M, Hist(lp_lo, lp_hi, 80)), ent(M, Hist(ent_lo, ent_hi, 60));
  std::vector<std::array<int64_t, 4>> ranks(M, {0, 0, 0, 0});
  std::vector<Sums> lp_sum(M), ent_sum(M);
  std::vector<int64_t> top1(M, 0);
  io::Stmt s(db.db(),
             "SELECT model_idx, logprob, entropy, rank FROM positions WHERE span != 'prompt' AND "
             "logprob IS NOT NULL AND text_idx IN (SELECT text_idx FROM done)");
  while (s.step()) {
    const size_t m = size_t(s.col_int(0));
    if (m >= M) continue;
    const double l = s.col_double(1), e = s.col_double(2);
    const int64_t r = s.col_int(3);
    lp[m].add(l);
    ent[m].add(e);
    lp_sum[m].add(1, l, l * l);
    ent_sum[m].add(1, e, e * e);
    ++ranks[m][r <= 10 ? 0 : r <= 100 ? 1 : r <= 1000 ? 2 : 3];
    top1[m] += r == 1;
  }
  io::Json j;
  io::Json jl = io::Json::array(), je = io::Json::array(), jr = io::Json::array(),
           js = io::Json::array();
  for (size_t m = 0; m < M; ++m) {
    jl.push_back(lp[m].json());
    je.push_back(ent[m].json());
    jr.push_back(ranks[m]);
    const double n = double(lp_sum[m].n);  // none (no text done): NaN, shown as "–", not 0
    js.push_back({{"n", lp_sum[m].n},
                  {"mean_logprob", rnum(lp_sum[m].s / n, 4)},
                  {"mean_entropy", rnum(ent_sum[m].s / n, 4)},
                  {"top1_rate", rnum(double(top1[m]) / n, 4)}});
  }
  j["logprob"] = jl;
  j["entropy"] = je;
  j["rank_buckets"] = jr;
  j["rank_labels"] = {"1-10", "11-100", "101-1000", ">1000"};
  j["summary"] = js;
  return j;
}

io::Json build_windows(results::ResultsDb& db, const results::RunAggregates& agg) {
  const size_t M = agg.models.size(), F = agg.families.size();
  const int64_t W = std::max<int64_t>(0, db.run_meta().window);
  const size_t n_off = size_t(2 * W + 1);
  constexpr int kMetrics = 4;  // logprob, entropy, propensity, kl_mean
  // sums[metric][f][m][offset]; f == F pools every family.
  std::vector<std::vector<std::vector<std::vector<Sums>>>> sums(
      kMetrics, std::vector<std::vector<std::vector<Sums>>>(
                    F + 1, std::vector<std::vector<Sums>>(M, std::vector<Sums>(n_off))));
  io::Stmt s(db.db(),
             "SELECT o.family_idx, w.model_idx, w.offset, count(w.logprob), sum(w.logprob), "
             "sum(w.logprob * w.logprob), "
             "count(w.entropy), sum(w.entropy), sum(w.entropy * w.entropy), count(w.propensity), "
             "sum(w.propensity), "
             "sum(w.propensity * w.propensity), count(w.kl_mean), sum(w.kl_mean), sum(w.kl_mean * "
             "w.kl_mean) "
             "FROM windows w JOIN occurrences o ON o.occ_idx = w.occ_idx GROUP BY 1, 2, 3");
  while (s.step()) {
    const size_t f = size_t(s.col_int(0)), m = size_t(s.col_int(1));
    const int64_t off = s.col_int(2);
    if (f >= F || m >= M || off < -W || off > W) continue;
    const size_t o = size_t(off + W);
    for (int k = 0; k < kMetrics; ++k) {
      const int c = 3 + 3 * k;
      const int64_t n = s.col_int(c);
      if (n == 0) continue;
      const double sum = s.col_double(c + 1), ss = s.col_double(c + 2);
      sums[size_t(k)][f][m][o].add(n, sum, ss);
      sums[size_t(k)][F][m][o].add(n, sum, ss);
    }
  }
  io::Json data = io::Json::array();
  for (int k = 0; k < kMetrics; ++k) {
    const int digits = k >= 2 ? -4 : 3;
    io::Json per_f = io::Json::array();
    for (size_t f = 0; f <= F; ++f) {
      io::Json per_m = io::Json::array();
      for (size_t m = 0; m < M; ++m) {
        io::Json mean = io::Json::array(), lo = io::Json::array(), hi = io::Json::array(),
                 n = io::Json::array();
        for (size_t o = 0; o < n_off; ++o) {
          const Sums& c = sums[size_t(k)][f][m][o];
          n.push_back(c.n);
          if (c.n == 0) {
            mean.push_back(nullptr);
            lo.push_back(nullptr);
            hi.push_back(nullptr);
            continue;
          }
          const double mu = c.s / double(c.n);
          const double var =
              c.n > 1 ? std::max(0.0, (c.ss - double(c.n) * mu * mu) / double(c.n - 1)) : 0.0;
          const double half = 1.96 * std::sqrt(var / double(c.n));
          mean.push_back(round_num(mu, digits));
          lo.push_back(round_num(mu - half, digits));
          hi.push_back(round_num(mu + half, digits));
        }
        per_m.push_back({{"mean", mean}, {"lo", lo}, {"hi", hi}, {"n", n}});
      }
      per_f.push_back(per_m);
    }
    data.push_back(per_f);
  }
  io::Json j;
  j["window"] = W;
  j["metrics"] = {"logprob", "entropy", "propensity", "kl_mean"};
  j["labels"] = {"log p of the token at the offset (nats)",
                 "entropy of the row predicting it (nats)", "propensity of the occurrence's family",
                 "mean KL to the other models (nats)"};
  j["band_rule"] =
      "mean ± 1.96 standard errors over occurrences (tokens of one text are not independent: read "
      "the band as descriptive)";
  j["data"] = data;  // [metric][family (last = all families)][model] = {mean, lo, hi, n} per offset
  return j;
}

}  // namespace lsc::report
