// analyze(): the stats.json document (analyze.h). Every row carries n and small_n; undefined
// quantities are JSON null with a note; q-values are filled in after all rows exist.
#include "analysis/stats/analyze.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/stats/bootstrap.h"
#include "analysis/stats/effect_size.h"
#include "analysis/stats/hypothesis.h"
#include "analysis/stats/multiple_testing.h"
#include "analysis/stats/multivariate.h"
#include "io/error.h"

namespace lsc::stats {

using Json = nlohmann::json;

double StatsInput::value(size_t text, size_t model, size_t family, size_t measure) const {
  const size_t i =
      ((text * models.size() + model) * families.size() + family) * measures.size() + measure;
  LSC_DCHECK(i < values.size());
  return values[i];
}

void StatsInput::validate() const {
  const std::string where = "stats input";
  const size_t want = texts.size() * models.size() * families.size() * measures.size();
  if (values.size() != want) {
    throw InputError(where, "values",
                     std::to_string(want) + " = texts × models × families × measures",
                     std::to_string(values.size()));
  }
  if (present.size() != texts.size() * families.size() && !present.empty()) {
    throw InputError(
        where, "present",
        std::to_string(texts.size() * families.size()) + " = texts × families (or empty)",
        std::to_string(present.size()));
  }
  for (const auto& t : texts) {
    if (t.level < 0 || t.level > 5)
      throw InputError(where, "text '" + t.id + "' level", "0..5", std::to_string(t.level));
    if (t.correct < -1 || t.correct > 1)
      throw InputError(where, "text '" + t.id + "' correct", "-1, 0 or 1",
                       std::to_string(t.correct));
  }
  for (uint8_t p : present) {
    if (p > 1) throw InputError(where, "present", "0 or 1", std::to_string(int(p)));
  }
}

std::string mean_ci_key(int group, const std::string& family, const std::string& measure,
                        const std::string& model) {
  const std::string tail = family + "/" + measure + "/" + model;
  if (group == 0) return "mean/" + tail;
  if (group >= 1 && group <= 5) return "level/" + tail + "/" + std::to_string(group);
  LSC_CHECK(group == 6 || group == 7);
  return (group == 6 ? "correct/" : "incorrect/") + tail;
}

std::string pair_ci_key(const std::string& family, const std::string& measure, const std::string& model_a,
                        const std::string& model_b) {
  return "pairs/" + family + "/" + measure + "/" + model_a + "/" + model_b;
}

namespace {

// A finite double, or null (NaN/undefined). ±inf is written as the string "inf"/"-inf".
Json num(double v) {
  if (std::isnan(v)) return nullptr;
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

Json test_json(const TestResult& r) {
  Json j;
  j["defined"] = r.defined;
  j["statistic"] = r.defined ? num(r.statistic) : Json(nullptr);
  j["p"] = r.defined ? num(r.p_value) : Json(nullptr);
  j["q"] = nullptr;  // filled by the BH pass
  j["n"] = r.n;
  if (!r.method.empty()) j["method"] = r.method;
  if (!r.note.empty()) j["note"] = r.note;
  if (r.defined && !std::isnan(r.df)) j["df"] = r.df;
  if (r.defined && !std::isnan(r.z)) j["z"] = num(r.z);
  return j;
}

Json estimate_json(const Estimate& e) { return e.defined ? num(e.value) : Json(nullptr); }

Json ci_json(const BootstrapCI& ci) {
  if (!ci.defined) return nullptr;
  return Json::array({ci.low, ci.high});
}

// A BH family: where each member test sits in the document, filled after all rows exist.
struct BhFamily {
  std::string description;
  std::vector<Json*> tests;  // pointers stay valid: rows are not moved after registration
};

class Builder {
 public:
  Builder(const StatsInput& in, const StatsOptions& opt) : in_(in), opt_(opt) {}

  Json run() {
    Json doc;
    doc["schema"] = "logitscope-stats/1";
    doc["options"] = {{"n_bootstrap", opt_.n_bootstrap},
                      {"seed", opt_.seed},
                      {"min_n", opt_.min_n},
                      {"ci_level", opt_.ci_level},
                      {"kmeans_n_init", opt_.kmeans_n_init},
                      {"kmeans_k_max", opt_.kmeans_k_max}};
    doc["models"] = in_.models;
    doc["families"] = in_.families;
    doc["measures"] = in_.measures;
    doc["n_texts"] = in_.texts.size();
    doc["conventions"] = conventions();
    doc["means"] = means();
    doc["model_comparisons"] = model_comparisons();
    doc["friedman"] = friedman_rows();
    doc["difficulty"] = difficulty();
    doc["correctness"] = correctness();
    doc["exploratory"] = exploratory();
    // BH: the rows above are final, so pointers into doc are taken now.
    register_families(doc);
    Json fams = Json::object();
    for (auto& [name, fam] : families_) {
      std::vector<double> p;
      for (Json* t : fam.tests) p.push_back((*t)["p"].is_number() ? (*t)["p"].get<double>() : kNaN);
      const std::vector<double> q = bh_qvalues(p);
      int64_t m = 0;
      for (size_t i = 0; i < q.size(); ++i) {
        (*fam.tests[i])["q"] = num(q[i]);
        m += !std::isnan(q[i]);
      }
      fams[name] = {{"description", fam.description}, {"m", m}, {"method", "Benjamini-Hochberg"}};
    }
    doc["test_families"] = fams;
    return doc;
  }

 private:
  const StatsInput& in_;
  const StatsOptions& opt_;
  std::map<std::string, BhFamily> families_;

  bool small(int64_t n) const { return n < opt_.min_n; }

  static Json conventions() {
    return {
        {"unit", "the text: every value is one per-text aggregate; tests are over texts"},
        {"undefined",
         "null values with defined=false and a note; NaN inputs mean 'no value for this text'"},
        {"model_comparisons",
         "pairs (model_a, model_b) with a before b in run order; difference = b − a on texts where "
         "both are defined; Wilcoxon/paired t on (b, a)"},
        {"rank_biserial",
         "matched-pairs (Kerby): (R+ − R−)/(R+ + R−) on b − a, zeros dropped; positive = b larger"},
        {"d_z", "mean(b − a)/sd(b − a), ddof 1"},
        {"bootstrap",
         "percentile interval of the mean (difference), resampling texts with replacement; numpy "
         "'linear' quantiles; seed derived from options.seed and the row key"},
        {"difficulty",
         "Spearman rho / Kendall tau-b of the measure against level (1-5), texts with known level"},
        {"correctness",
         "group 1 = correct, group 2 = incorrect; Mann-Whitney statistic = U of the correct group; "
         "cliffs_delta = P(correct > incorrect) − P(correct < incorrect) (= Mann-Whitney "
         "rank-biserial 2U/(n1 n2) − 1); cohens_d = (mean correct − mean incorrect)/pooled SD; "
         "small_n when either group has fewer than min_n texts"},
        {"presence",
         "2x2 table rows [correct, incorrect] × columns [keyword present, absent] over texts with "
         "known correctness"},
        {"q",
         "Benjamini-Hochberg within the test family named in test_families; undefined tests are "
         "not counted"},
        {"exploratory", "PCA / k-means are descriptive views, not evidence"},
    };
  }

  std::vector<double> column(size_t model, size_t family, size_t measure) const {
    std::vector<double> v(in_.texts.size());
    for (size_t t = 0; t < in_.texts.size(); ++t) v[t] = in_.value(t, model, family, measure);
    return v;
  }

  BootstrapCI group_ci(const std::vector<double>& x, int group, size_t f, size_t k, size_t m) const {
    const std::string key = mean_ci_key(group, in_.families[f], in_.measures[k], in_.models[m]);
    return bootstrap_mean_ci(x, opt_.n_bootstrap, derive_seed(opt_.seed, key), opt_.ci_level);
  }

  // Mean [CI] of every family × measure × model over all texts where it is defined.
  Json means() {
    Json rows = Json::array();
    for (size_t f = 0; f < in_.families.size(); ++f) {
      for (size_t k = 0; k < in_.measures.size(); ++k) {
        for (size_t m = 0; m < in_.models.size(); ++m) {
          std::vector<double> x;
          for (double v : column(m, f, k)) {
            if (!std::isnan(v)) x.push_back(v);
          }
          const BootstrapCI ci = group_ci(x, 0, f, k, m);
          Json r;
          r["family"] = in_.families[f];
          r["measure"] = in_.measures[k];
          r["model"] = in_.models[m];
          r["n"] = int64_t(x.size());
          r["small_n"] = small(int64_t(x.size()));
          r["mean"] = ci.defined ? num(ci.estimate) : Json(nullptr);
          r["ci"] = ci_json(ci);
          rows.push_back(std::move(r));
        }
      }
    }
    return rows;
  }

  Json model_comparisons() {
    Json rows = Json::array();
    for (size_t f = 0; f < in_.families.size(); ++f) {
      for (size_t k = 0; k < in_.measures.size(); ++k) {
        for (size_t a = 0; a < in_.models.size(); ++a) {
          for (size_t b = a + 1; b < in_.models.size(); ++b) {
            const auto va = column(a, f, k), vb = column(b, f, k);
            std::vector<double> xa, xb;
            for (size_t t = 0; t < va.size(); ++t) {
              if (!std::isnan(va[t]) && !std::isnan(vb[t])) {
                xa.push_back(va[t]);
                xb.push_back(vb[t]);
              }
            }
            const auto n = int64_t(xa.size());
            const std::string key = pair_ci_key(in_.families[f], in_.measures[k], in_.models[a], in_.models[b]);
            const BootstrapCI ci = bootstrap_paired_diff_ci(
                xb, xa, opt_.n_bootstrap, derive_seed(opt_.seed, key), opt_.ci_level);
            Json r;
            r["family"] = in_.families[f];
            r["measure"] = in_.measures[k];
            r["model_a"] = in_.models[a];
            r["model_b"] = in_.models[b];
            r["n"] = n;
            r["small_n"] = small(n);
            r["mean_a"] = n > 0 ? num(mean_of(xa)) : Json(nullptr);
            r["mean_b"] = n > 0 ? num(mean_of(xb)) : Json(nullptr);
            r["mean_diff"] = ci.defined ? num(ci.estimate) : Json(nullptr);
            r["mean_diff_ci"] = ci_json(ci);
            r["wilcoxon"] = test_json(wilcoxon_signed_rank(xb, xa));
            r["paired_t"] = test_json(paired_t(xb, xa));
            r["d_z"] = estimate_json(cohens_dz(xb, xa));
            r["rank_biserial"] = estimate_json(rank_biserial_paired(xb, xa));
            rows.push_back(std::move(r));
          }
        }
      }
    }
    return rows;
  }

  static double mean_of(const std::vector<double>& x) {
    double s = 0.0;
    for (double v : x) s += v;
    return s / double(x.size());
  }

  Json friedman_rows() {
    Json rows = Json::array();
    if (in_.models.size() < 3) return rows;
    for (size_t f = 0; f < in_.families.size(); ++f) {
      for (size_t k = 0; k < in_.measures.size(); ++k) {
        std::vector<std::vector<double>> groups(in_.models.size());
        for (size_t t = 0; t < in_.texts.size(); ++t) {
          bool all = true;
          for (size_t m = 0; m < in_.models.size(); ++m)
            all = all && !std::isnan(in_.value(t, m, f, k));
          if (!all) continue;
          for (size_t m = 0; m < in_.models.size(); ++m) groups[m].push_back(in_.value(t, m, f, k));
        }
        const auto n = int64_t(groups[0].size());
        Json r;
        r["family"] = in_.families[f];
        r["measure"] = in_.measures[k];
        r["models"] = in_.models;
        r["n"] = n;
        r["small_n"] = small(n);
        r["friedman"] = test_json(friedman(groups));
        rows.push_back(std::move(r));
      }
    }
    return rows;
  }

  Json difficulty() {
    Json corr = Json::array(), means = Json::array();
    for (size_t f = 0; f < in_.families.size(); ++f) {
      for (size_t k = 0; k < in_.measures.size(); ++k) {
        for (size_t m = 0; m < in_.models.size(); ++m) {
          const auto v = column(m, f, k);
          std::vector<double> lev, val;
          std::vector<std::vector<double>> by_level(6);
          for (size_t t = 0; t < v.size(); ++t) {
            if (std::isnan(v[t]) || in_.texts[t].level == 0) continue;
            lev.push_back(double(in_.texts[t].level));
            val.push_back(v[t]);
            by_level[size_t(in_.texts[t].level)].push_back(v[t]);
          }
          const auto n = int64_t(val.size());
          Json r;
          r["family"] = in_.families[f];
          r["measure"] = in_.measures[k];
          r["model"] = in_.models[m];
          r["n"] = n;
          r["small_n"] = small(n);
          r["spearman"] = test_json(spearman(val, lev));
          r["kendall"] = test_json(kendall_tau_b(val, lev));
          corr.push_back(std::move(r));
          for (int level = 1; level <= 5; ++level) {
            const auto& x = by_level[size_t(level)];
            const BootstrapCI ci = group_ci(x, level, f, k, m);
            Json lm;
            lm["family"] = in_.families[f];
            lm["measure"] = in_.measures[k];
            lm["model"] = in_.models[m];
            lm["level"] = level;
            lm["n"] = int64_t(x.size());
            lm["small_n"] = small(int64_t(x.size()));
            lm["mean"] = ci.defined ? num(ci.estimate) : Json(nullptr);
            lm["ci"] = ci_json(ci);
            means.push_back(std::move(lm));
          }
        }
      }
    }
    return {{"correlations", corr}, {"level_means", means}};
  }

  Json correctness() {
    Json groups = Json::array(), presence = Json::array();
    for (size_t f = 0; f < in_.families.size(); ++f) {
      for (size_t k = 0; k < in_.measures.size(); ++k) {
        for (size_t m = 0; m < in_.models.size(); ++m) {
          const auto v = column(m, f, k);
          std::vector<double> yes, no;
          for (size_t t = 0; t < v.size(); ++t) {
            if (std::isnan(v[t]) || in_.texts[t].correct < 0) continue;
            (in_.texts[t].correct == 1 ? yes : no).push_back(v[t]);
          }
          const auto n1 = int64_t(yes.size()), n2 = int64_t(no.size());
          Json r;
          r["family"] = in_.families[f];
          r["measure"] = in_.measures[k];
          r["model"] = in_.models[m];
          r["n_correct"] = n1;
          r["n_incorrect"] = n2;
          r["n"] = n1 + n2;
          r["small_n"] = small(n1) || small(n2);
          r["mean_correct"] = n1 > 0 ? num(mean_of(yes)) : Json(nullptr);
          r["mean_incorrect"] = n2 > 0 ? num(mean_of(no)) : Json(nullptr);
          r["ci_correct"] = ci_json(group_ci(yes, 6, f, k, m));
          r["ci_incorrect"] = ci_json(group_ci(no, 7, f, k, m));
          r["mann_whitney"] = test_json(mann_whitney_u(yes, no));
          r["welch"] = test_json(welch_t(yes, no));
          r["cliffs_delta"] = estimate_json(cliffs_delta(yes, no));
          r["cohens_d"] = estimate_json(cohens_d(yes, no));
          groups.push_back(std::move(r));
        }
      }
      if (in_.present.empty()) continue;
      Table2x2 tab{};
      for (size_t t = 0; t < in_.texts.size(); ++t) {
        if (in_.texts[t].correct < 0) continue;
        const size_t row = in_.texts[t].correct == 1 ? 0 : 1;
        const size_t col = in_.present[t * in_.families.size() + f] ? 0 : 1;
        ++tab[row][col];
      }
      const int64_t n = tab[0][0] + tab[0][1] + tab[1][0] + tab[1][1];
      Json r;
      r["family"] = in_.families[f];
      r["table"] = {{tab[0][0], tab[0][1]}, {tab[1][0], tab[1][1]}};
      r["n"] = n;
      r["small_n"] = small(n);
      r["fisher"] = test_json(fisher_exact(tab));
      r["chi2"] = test_json(chi2_yates(tab));
      presence.push_back(std::move(r));
    }
    return {{"groups", groups}, {"presence", presence}};
  }

  Json exploratory() {
    Json ex;
    ex["label"] = "exploratory: descriptive views, not evidence";
    ex["features_rule"] =
        "one column per model × family × measure; columns with any undefined (NaN) text or zero "
        "variance are dropped; columns standardized (mean 0, population SD 1)";
    std::vector<std::string> names, dropped;
    Matrix cols;
    for (size_t m = 0; m < in_.models.size(); ++m) {
      for (size_t f = 0; f < in_.families.size(); ++f) {
        for (size_t k = 0; k < in_.measures.size(); ++k) {
          const std::string name = in_.models[m] + "/" + in_.families[f] + "/" + in_.measures[k];
          auto v = column(m, f, k);
          bool nan = v.empty();
          double lo = 0, hi = 0;
          for (size_t t = 0; t < v.size(); ++t) {
            nan = nan || std::isnan(v[t]);
            lo = t == 0 ? v[t] : std::min(lo, v[t]);
            hi = t == 0 ? v[t] : std::max(hi, v[t]);
          }
          if (nan || lo == hi) {
            dropped.push_back(name + (nan ? " (undefined for some text)" : " (constant)"));
            continue;
          }
          names.push_back(name);
          cols.push_back(std::move(v));
        }
      }
    }
    ex["features"] = names;
    ex["dropped_features"] = dropped;
    const size_t n = in_.texts.size();
    Matrix rows(n, std::vector<double>(cols.size()));
    for (size_t j = 0; j < cols.size(); ++j) {
      for (size_t t = 0; t < n; ++t) rows[t][j] = cols[j][t];
    }
    const PcaResult p = pca_standardized(rows);
    Json pj;
    pj["defined"] = p.defined;
    pj["n_texts"] = n;
    pj["n_features"] = cols.size();
    if (!p.defined) {
      pj["note"] = cols.empty() ? "no usable feature" : p.note;
      ex["pca"] = pj;
      ex["kmeans"] = Json::array();
      return ex;
    }
    pj["sign_convention"] =
        "sklearn svd_flip (u-based): the largest-|score| text of each component scores positive";
    pj["explained_variance_ratio"] = p.explained_variance_ratio;
    pj["explained_variance"] = p.explained_variance;
    const size_t n_show = std::min<size_t>(p.components.size(), 5);
    Json loadings = Json::array();
    for (size_t c = 0; c < n_show; ++c) {
      Json l = Json::object();
      for (size_t j = 0; j < names.size(); ++j) l[names[j]] = p.components[c][j];
      loadings.push_back(l);
    }
    pj["loadings"] = loadings;  // components_ rows (unit vectors), first ≤ 5 components
    Json scores = Json::array();
    for (size_t t = 0; t < n; ++t) {
      Json s = Json::array();
      for (size_t c = 0; c < std::min<size_t>(n_show, 3); ++c) s.push_back(p.scores[t][c]);
      scores.push_back({{"id", in_.texts[t].id}, {"scores", s}});
    }
    pj["scores"] = scores;  // first ≤ 3 components per text
    ex["pca"] = pj;

    // k-means on the standardized features (the PCA input).
    Matrix z = rows;
    for (size_t j = 0; j < cols.size(); ++j) {
      for (size_t t = 0; t < n; ++t) z[t][j] = (rows[t][j] - p.mean[j]) / p.scale[j];
    }
    Json km = Json::array();
    for (int k = 2; k <= opt_.kmeans_k_max; ++k) {
      Json r;
      r["k"] = k;
      if (n < size_t(k) + 1) {
        r["defined"] = false;
        r["note"] = "fewer texts than k + 1 (silhouette needs k ≤ n − 1)";
        km.push_back(r);
        continue;
      }
      const KMeansResult res =
          kmeans(z, k, derive_seed(opt_.seed, "kmeans/" + std::to_string(k)), opt_.kmeans_n_init);
      const Estimate sil = silhouette_score(z, res.labels);
      r["defined"] = res.defined && sil.defined;
      r["inertia"] = res.inertia;
      r["silhouette"] = estimate_json(sil);
      if (!sil.defined) r["note"] = sil.note;
      std::vector<int64_t> sizes(size_t(k), 0);
      for (int l : res.labels) ++sizes[size_t(l)];
      r["sizes"] = sizes;
      r["labels"] = res.labels;
      km.push_back(r);
    }
    ex["kmeans"] = km;
    return ex;
  }

  // Registers `test` of `row` in family `fam`, or in "<fam>.<measure>" for a measure with a
  // family of its own (StatsInput::own_family_measures).
  void add(const std::string& fam, const std::string& desc, Json& test, const Json& row) {
    std::string name = fam, description = desc;
    if (row.contains("measure") && row["measure"].is_string()) {
      const std::string measure = row["measure"].get<std::string>();
      if (std::find(in_.own_family_measures.begin(), in_.own_family_measures.end(), measure) !=
          in_.own_family_measures.end()) {
        name += "." + measure;
        description += " (" + measure + " only)";
      }
    }
    auto& f = families_[name];
    f.description = description;
    f.tests.push_back(&test);
  }

  void register_families(Json& doc) {
    for (auto& r : doc["model_comparisons"]) {
      add("model_comparisons.wilcoxon", "Wilcoxon signed-rank over family × measure × model pair",
          r["wilcoxon"], r);
      add("model_comparisons.paired_t", "paired t over family × measure × model pair",
          r["paired_t"], r);
    }
    for (auto& r : doc["friedman"])
      add("friedman", "Friedman over family × measure (all models)", r["friedman"], r);
    for (auto& r : doc["difficulty"]["correlations"]) {
      add("difficulty.spearman", "Spearman rho vs level over family × measure × model",
          r["spearman"], r);
      add("difficulty.kendall", "Kendall tau-b vs level over family × measure × model",
          r["kendall"], r);
    }
    for (auto& r : doc["correctness"]["groups"]) {
      add("correctness.mann_whitney",
          "Mann-Whitney U correct vs incorrect over family × measure × model", r["mann_whitney"], r);
      add("correctness.welch", "Welch t correct vs incorrect over family × measure × model",
          r["welch"], r);
    }
    for (auto& r : doc["correctness"]["presence"]) {
      add("presence.fisher", "Fisher exact (presence × correctness) over keyword families",
          r["fisher"], r);
      add("presence.chi2", "chi-square with Yates (presence × correctness) over keyword families",
          r["chi2"], r);
    }
  }
};

}  // namespace

Json analyze(const StatsInput& in_raw, const StatsOptions& opt) {
  in_raw.validate();
  // ±inf per-text values (e.g. a log p that underflowed upstream) cannot enter means or t-tests;
  // they are treated as undefined like NaN, and counted in the document so it stays visible.
  StatsInput in = in_raw;
  int64_t n_inf = 0;
  for (double& v : in.values) {
    if (std::isinf(v)) {
      v = kNaN;
      ++n_inf;
    }
  }
  if (opt.n_bootstrap < 1)
    throw InputError("stats options", "n_bootstrap", "≥ 1", std::to_string(opt.n_bootstrap));
  if (!(opt.ci_level > 0.0 && opt.ci_level < 1.0))
    throw InputError("stats options", "ci_level", "in (0, 1)", std::to_string(opt.ci_level));
  Json doc = Builder(in, opt).run();
  doc["n_infinite_values_as_undefined"] = n_inf;
  return doc;
}

}  // namespace lsc::stats
