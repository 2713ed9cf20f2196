// render_markdown(): stats.md, readable tables over an analyze() document. Formatting only; every
// number shown comes from the JSON (3 significant digits, p/q in scientific notation below 1e-3).
#include <cstdio>
#include <sstream>

#include "analysis/stats/analyze.h"

namespace lsc::stats {
namespace {

using Json = nlohmann::json;

std::string fmt(const Json& v, bool pvalue = false) {
  if (v.is_null()) return "—";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  const double d = v.get<double>();
  char buf[32];
  std::snprintf(buf, sizeof buf, (pvalue && d != 0.0 && d < 1e-3) ? "%.2e" : "%.3g", d);
  return buf;
}

std::string ci(const Json& v) {
  if (v.is_null()) return "—";
  // Appended piecewise: GCC 12 raises a false -Wrestrict on "[" + std::string + ... chains.
  std::string out = "[";
  out += fmt(v[0]);
  out += ", ";
  out += fmt(v[1]);
  out += "]";
  return out;
}

std::string flag(const Json& row) { return row.value("small_n", false) ? "small n" : ""; }

std::string get_p(const Json& t) { return fmt(t.at("p"), true); }
std::string get_q(const Json& t) { return fmt(t.at("q"), true); }

}  // namespace

std::string render_markdown(const Json& s) {
  std::ostringstream o;
  o << "# Statistics\n\n";
  if (s.contains("unfinished")) o << "**Warning: " << s["unfinished"].get<std::string>() << ".**\n\n";
  o << "Unit of analysis: the text (" << s.at("n_texts") << " texts). Models: ";
  for (size_t i = 0; i < s.at("models").size(); ++i)
    o << (i ? ", " : "") << s["models"][i].get<std::string>();
  const auto& opt = s.at("options");
  o << ". Bootstrap: " << opt.at("n_bootstrap") << " resamples, seed " << opt.at("seed")
    << ". Rows with n < " << opt.at("min_n") << " are flagged *small n*. q = Benjamini-Hochberg "
    << "within each test family (see the end). — = undefined (see stats.json notes).\n\n";

  if (s.contains("means")) {
    o << "## Means over all texts (mean [95% CI], n)\n\n";
    o << "| family | measure | model | mean [95% CI] | n | |\n|---|---|---|---|---|---|\n";
    for (const auto& r : s["means"]) {
      o << "| " << fmt(r["family"]) << " | " << fmt(r["measure"]) << " | " << fmt(r["model"]) << " | "
        << fmt(r["mean"]) << " " << ci(r["ci"]) << " | " << r["n"] << " | " << flag(r) << " |\n";
    }
    o << "\n";
  }
  o << "## Model comparisons (paired on texts; difference = b − a)\n\n";
  o << "| family | measure | a → b | n | mean diff [95% CI] | Wilcoxon p | q | paired t p | q | "
       "d_z | r_rb | |\n";
  o << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : s.at("model_comparisons")) {
    o << "| " << fmt(r["family"]) << " | " << fmt(r["measure"]) << " | " << fmt(r["model_a"])
      << " → " << fmt(r["model_b"]) << " | " << r["n"] << " | " << fmt(r["mean_diff"]) << " "
      << ci(r["mean_diff_ci"]) << " | " << get_p(r["wilcoxon"]) << " | " << get_q(r["wilcoxon"])
      << " | " << get_p(r["paired_t"]) << " | " << get_q(r["paired_t"]) << " | " << fmt(r["d_z"])
      << " | " << fmt(r["rank_biserial"]) << " | " << flag(r) << " |\n";
  }
  if (!s.at("friedman").empty()) {
    o << "\n## Friedman (all models, texts defined for every model)\n\n";
    o << "| family | measure | n | chi2 | p | q | |\n|---|---|---|---|---|---|---|\n";
    for (const auto& r : s["friedman"]) {
      o << "| " << fmt(r["family"]) << " | " << fmt(r["measure"]) << " | " << r["n"] << " | "
        << fmt(r["friedman"]["statistic"]) << " | " << get_p(r["friedman"]) << " | "
        << get_q(r["friedman"]) << " | " << flag(r) << " |\n";
    }
  }
  o << "\n## Difficulty (against level 1-5)\n\n";
  o << "| family | measure | model | n | Spearman rho | p | q | Kendall tau-b | p | q | |\n";
  o << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : s.at("difficulty").at("correlations")) {
    o << "| " << fmt(r["family"]) << " | " << fmt(r["measure"]) << " | " << fmt(r["model"]) << " | "
      << r["n"] << " | " << fmt(r["spearman"]["statistic"]) << " | " << get_p(r["spearman"])
      << " | " << get_q(r["spearman"]) << " | " << fmt(r["kendall"]["statistic"]) << " | "
      << get_p(r["kendall"]) << " | " << get_q(r["kendall"]) << " | " << flag(r) << " |\n";
  }
  o << "\n### Per-level means (mean [95% CI], n)\n\n";
  o << "| family | measure | model | level 1 | level 2 | level 3 | level 4 | level 5 |\n";
  o << "|---|---|---|---|---|---|---|---|\n";
  const auto& lm = s.at("difficulty").at("level_means");
  for (size_t i = 0; i + 4 < lm.size(); i += 5) {
    o << "| " << fmt(lm[i]["family"]) << " | " << fmt(lm[i]["measure"]) << " | "
      << fmt(lm[i]["model"]);
    for (size_t l = 0; l < 5; ++l) {
      const auto& c = lm[i + l];
      o << " | " << fmt(c["mean"]) << " " << ci(c["ci"]) << ", n=" << c["n"]
        << (c.value("small_n", false) ? " (small n)" : "");
    }
    o << " |\n";
  }
  o << "\n## Correctness (correct vs incorrect texts)\n\n";
  o << "| family | measure | model | n correct | n incorrect | mean correct [95% CI] | "
       "mean incorrect [95% CI] | Mann-Whitney p | q | Welch p | q | Cliff's delta | Cohen's d | |\n";
  o << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : s.at("correctness").at("groups")) {
    o << "| " << fmt(r["family"]) << " | " << fmt(r["measure"]) << " | " << fmt(r["model"]) << " | "
      << r["n_correct"] << " | " << r["n_incorrect"] << " | " << fmt(r["mean_correct"]) << " "
      << ci(r.value("ci_correct", Json())) << " | " << fmt(r["mean_incorrect"]) << " "
      << ci(r.value("ci_incorrect", Json())) << " | " << get_p(r["mann_whitney"]) << " | "
      << get_q(r["mann_whitney"]) << " | " << get_p(r["welch"]) << " | " << get_q(r["welch"])
      << " | " << fmt(r["cliffs_delta"]) << " | " << fmt(r["cohens_d"]) << " | " << flag(r)
      << " |\n";
  }
  if (!s["correctness"]["presence"].empty()) {
    o << "\n### Keyword presence × correctness\n\n";
    o << "| family | correct: present/absent | incorrect: present/absent | Fisher p | q | chi2 "
         "(Yates) p | q | |\n";
    o << "|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : s["correctness"]["presence"]) {
      const auto& t = r["table"];
      o << "| " << fmt(r["family"]) << " | " << t[0][0] << "/" << t[0][1] << " | " << t[1][0] << "/"
        << t[1][1] << " | " << get_p(r["fisher"]) << " | " << get_q(r["fisher"]) << " | "
        << get_p(r["chi2"]) << " | " << get_q(r["chi2"]) << " | " << flag(r) << " |\n";
    }
  }
  const auto& ex = s.at("exploratory");
  o << "\n## Exploratory\n\n*" << fmt(ex["label"]) << ".*\n\n";
  const auto& pca = ex.at("pca");
  if (pca.value("defined", false)) {
    o << "PCA over " << pca["n_features"] << " standardized features, " << pca["n_texts"]
      << " texts. Explained variance ratio:";
    const auto& r = pca["explained_variance_ratio"];
    for (size_t i = 0; i < r.size() && i < 6; ++i) o << " PC" << i + 1 << " " << fmt(r[i]);
    o << "\n\n";
  } else {
    o << "PCA undefined: " << pca.value("note", std::string("")) << "\n\n";
  }
  if (!ex.at("kmeans").empty()) {
    o << "| k | silhouette | cluster sizes |\n|---|---|---|\n";
    for (const auto& k : ex["kmeans"]) {
      o << "| " << k["k"] << " | " << fmt(k.value("silhouette", Json(nullptr))) << " | ";
      if (k.contains("sizes")) {
        for (size_t i = 0; i < k["sizes"].size(); ++i) o << (i ? "/" : "") << k["sizes"][i];
      } else {
        o << k.value("note", std::string(""));
      }
      o << " |\n";
    }
  }
  if (s.contains("layer_similarity") && !s["layer_similarity"].empty()) {
    o << "\n## Layer similarity (run --lens; mean over texts [95% CI], n)\n\n";
    o << "| a → b | scope | layer | linear CKA | n | mean cosine | |\n|---|---|---|---|---|---|---|\n";
    for (const auto& r : s["layer_similarity"]) {
      o << "| " << fmt(r["model_a"]) << " → " << fmt(r["model_b"]) << " | " << fmt(r["scope"]) << " | " << r["layer"]
        << " | " << fmt(r["cka"]["mean"]) << " " << ci(r["cka"]["ci"]) << " | " << r["cka"]["n"] << " | "
        << fmt(r["mean_cos"]["mean"]) << " " << ci(r["mean_cos"]["ci"]) << " | " << flag(r) << " |\n";
    }
  }
  o << "\n## Test families (Benjamini-Hochberg)\n\n| family | tests (m) | what |\n|---|---|---|\n";
  for (const auto& [name, f] : s.at("test_families").items()) {
    o << "| " << name << " | " << f["m"] << " | " << fmt(f["description"]) << " |\n";
  }
  return o.str();
}

}  // namespace lsc::stats
