// `logitscope demo` end to end: the built-in checkpoints and traces go through the whole pipeline,
// and the planted effect (rl prefers the "wait" family) is found in the results, clearly
// separated from the families nobody touched. This is the pipeline's sensitivity test.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "cli/run_cli.h"
#include "io/json.h"
#include "io/sqlite.h"
#include "report/html_report.h"

namespace lsc::test {
namespace {

namespace fs = std::filesystem;

TEST(DemoCli, PlantedWaitEffectIsFoundAndSeparatedFromOtherFamilies) {
  const fs::path out = fs::temp_directory_path() / ("lsc_demo_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const auto r = run_cli("demo --quiet --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db((out / "results.sqlite").string(), false);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM done"), 60);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM models"), 3);
  // KL at an occurrence (occurrences.kl_at) is the window's mean KL at offset 0, and not zero.
  EXPECT_GT(db.query_int("SELECT count(*) FROM occurrences WHERE kl_at > 0"), 50);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM occurrences o JOIN windows w ON w.occ_idx = o.occ_idx AND "
                         "w.model_idx = o.model_idx AND w.offset = 0 WHERE w.kl_mean IS NOT o.kl_at"),
            0);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM occurrences o JOIN windows w ON w.occ_idx = o.occ_idx AND "
                         "w.model_idx = o.model_idx AND w.offset = 0"),
            db.query_int("SELECT count(*) FROM occurrences"));
  EXPECT_GE(db.query_int("SELECT count(DISTINCT level) FROM texts"), 5);
  // rl − sft, per family: mean whole-word log p at occurrences and mean propensity over answers.
  std::map<std::string, double> dlogp, prop_ratio;
  {
    io::Stmt s(db, "SELECT a.family, avg(b.logprob_word - a.logprob_word), count(*) FROM occurrences a "
                   "JOIN occurrences b ON a.text_idx = b.text_idx AND a.char_begin = b.char_begin AND a.family_idx = b.family_idx "
                   "WHERE a.model_idx = 1 AND b.model_idx = 2 GROUP BY a.family");
    while (s.step()) {
      dlogp[s.col_text(0)] = s.col_double(1);
      EXPECT_GT(s.col_int(2), 0);
    }
  }
  {
    io::Stmt f(db, "SELECT name FROM families ORDER BY family_idx");
    std::vector<std::string> fams;
    while (f.step()) fams.push_back(f.col_text(0));
    for (const auto& name : fams) {
      const std::string col = "prop_" + name;
      io::Stmt s(db, "SELECT avg(CASE WHEN model_idx = 2 THEN " + col + " END) / avg(CASE WHEN model_idx = 1 THEN " +
                         col + " END) FROM positions WHERE span != 'prompt' AND logprob IS NOT NULL");
      ASSERT_TRUE(s.step());
      prop_ratio[name] = s.col_double(0);
    }
  }
  ASSERT_TRUE(dlogp.count("wait"));
  for (const auto& [fam, d] : dlogp) std::printf("  %-10s rl-sft mean dlogp %+.3f  propensity ratio %.2f\n", fam.c_str(), d, prop_ratio[fam]);
  EXPECT_GT(dlogp["wait"], 1.0);
  EXPECT_GT(prop_ratio["wait"], 3.0);
  for (const auto& [fam, d] : dlogp) {
    if (fam == "wait") continue;
    EXPECT_LT(std::fabs(d), dlogp["wait"] / 3) << fam;
    EXPECT_LT(prop_ratio[fam], prop_ratio["wait"] / 2) << fam;
  }
  // The statistics step (run at the end of `run`): rl vs sft on "wait" has q < 0.01 for both
  // measures; families nobody planted mostly do not on log p at occurrences. On propensity (a sum
  // over every position of a deterministic model) small systematic shifts do reach significance;
  // their count is printed, and their effect sizes stay two orders of magnitude below "wait".
  EXPECT_TRUE(fs::exists(out / "stats.json"));
  EXPECT_TRUE(fs::exists(out / "stats.md"));
  for (const char* measure : {"logp", "propensity"}) {
    io::Stmt q(db, std::string("SELECT q FROM stats_tests WHERE section = 'model_comparisons' AND test = 'wilcoxon' "
                               "AND model_a = 'sft' AND model_b = 'rl' AND family = 'wait' AND measure = '") + measure + "'");
    ASSERT_TRUE(q.step()) << measure;
    EXPECT_LT(q.col_double(0), 0.01) << measure;
    const int64_t n_sig = db.query_int(std::string("SELECT count(*) FROM stats_tests WHERE section = 'model_comparisons' "
                                                   "AND test = 'wilcoxon' AND model_a = 'sft' AND model_b = 'rl' AND "
                                                   "family NOT IN ('wait', 'all') AND q < 0.01 AND measure = '") + measure + "'");
    std::printf("  rl vs sft, %s: %lld of 9 unplanted families with q < 0.01\n", measure, static_cast<long long>(n_sig));
    if (std::string(measure) == "logp") {
      EXPECT_LE(n_sig, 3);
    }
  }
  EXPECT_TRUE(fs::exists(out / "summary.json"));

  // The logit lens (the demo runs --lens all): rl's planted preference lives in its output
  // embeddings along a channel that only the last layer writes, so at the wait decision rows rl's
  // lens propensity for "wait" equals sft's at layer 0 (up to rl's output-layer noise) and is well
  // above it at the last layer, while sft and rl's residual streams are the same (only the LM head
  // differs: CKA 1, cosine 1).
  {
    io::Stmt s(db, "SELECT l1.layer, avg(l2.prop_wait) / avg(l1.prop_wait), count(*) FROM occurrences o JOIN lens l1 ON "
                   "l1.text_idx = o.text_idx AND l1.model_idx = 1 AND l1.pos = o.tok_begin JOIN lens l2 ON l2.text_idx = "
                   "o.text_idx AND l2.model_idx = 2 AND l2.pos = o.tok_begin AND l2.layer = l1.layer WHERE o.model_idx = 1 "
                   "AND o.family = 'wait' GROUP BY l1.layer ORDER BY l1.layer");
    std::vector<double> ratio;
    while (s.step()) {
      ratio.push_back(s.col_double(1));
      EXPECT_GE(s.col_int(2), 20);  // the wait occurrences (sft's layout)
    }
    ASSERT_EQ(ratio.size(), 2u);
    EXPECT_NEAR(ratio[0], 1.0, 0.1) << "layer 0: the late channel is still empty";
    EXPECT_GT(ratio[1], 3.0) << "the last layer";
    EXPECT_EQ(db.query_int("SELECT count(*) FROM layer_similarity WHERE model_a = 1 AND model_b = 2 AND "
                           "(abs(cka - 1) > 1e-9 OR abs(mean_cos - 1) > 1e-9)"),
              0);
    EXPECT_GT(db.query_int("SELECT count(*) FROM layer_similarity WHERE model_a = 1 AND model_b = 2"), 0);
    // The last layer's lens is the model's own output.
    EXPECT_EQ(db.query_int("SELECT count(*) FROM lens l JOIN positions p USING(text_idx, model_idx, pos) WHERE l.layer = 1 "
                           "AND (l.logprob != p.logprob OR l.kl_final != 0)"),
              0);
  }
  // The report shows it: in its lens data (section 12) rl's "wait" curve jumps above sft's only
  // at the last layer, and in the statistics rl's emergence depth for "wait" is the last layer,
  // below it for sft and base.
  {
    const std::string html = slurp((out / "report.html").string());
    const std::string open = "<script type=\"application/json\" id=\"lsc-data\">";
    const size_t a = html.find(open), b = html.find("</script>", a);
    ASSERT_NE(a, std::string::npos);
    const io::Json d = io::Json::parse(html.substr(a + open.size(), b - a - open.size()));
    ASSERT_TRUE(d["lens"]["available"].get<bool>());
    size_t wait = 0;
    while (d["families"][wait] != "wait") ++wait;
    const io::Json& sft = d["lens"]["prop"][1][wait];
    const io::Json& rl = d["lens"]["prop"][2][wait];
    ASSERT_EQ(sft.size(), 2u);
    EXPECT_NEAR(rl[0][1].get<double>() / sft[0][1].get<double>(), 1.0, 0.1);
    EXPECT_GT(rl[1][1].get<double>(), 3.0 * sft[1][1].get<double>());
    EXPECT_FALSE(d["lens"]["occurrences"].empty());
    std::map<std::string, double> depth;
    for (const auto& m : d["stats"]["means"]) {
      if (m["measure"] == "lens_emergence_depth" && m["family"] == "wait") depth[m["model"]] = m["mean"].get<double>();
    }
    ASSERT_EQ(depth.size(), 3u);
    EXPECT_EQ(depth["rl"], 1.0);
    EXPECT_LT(depth["sft"], 0.5);
    EXPECT_LT(depth["base"], 0.5);
    // The token viewer's lens colouring: every lens layer of every model, at the lens rows.
    const io::Json& v = d["viewer"];
    EXPECT_EQ(v["lens_layers"], io::Json::parse("[[0, 1], [0, 1], [0, 1]]"));
    EXPECT_EQ(v["lens_stride"], 1);
    int64_t embedded = 0;
    for (const auto& t : v["texts"]) {
      for (const auto& m : t["models"]) {
        ASSERT_EQ(m["lens"]["prop"].size(), 2u);
        embedded += int64_t(m["lens"]["pos"].size());
      }
    }
    EXPECT_EQ(embedded, db.query_int("SELECT count(*) FROM lens WHERE layer = 0"));  // the same texts' layouts
  }
  // Past its budget the viewer keeps every s-th lens layer counted back from the last.
  {
    report::ReportOptions ro;
    ro.max_viewer_lens_values = 1;
    const std::string thin = (out / "thin.html").string();
    report::write_report(out.string(), thin, ro);
    const std::string html = slurp(thin);
    const std::string open = "<script type=\"application/json\" id=\"lsc-data\">";
    const size_t a = html.find(open), b = html.find("</script>", a);
    ASSERT_NE(a, std::string::npos);
    const io::Json d = io::Json::parse(html.substr(a + open.size(), b - a - open.size()));
    EXPECT_EQ(d["viewer"]["lens_layers"], io::Json::parse("[[1], [1], [1]]"));
    EXPECT_GT(d["viewer"]["lens_stride"].get<int64_t>(), 1);
    for (const auto& m : d["viewer"]["texts"][0]["models"]) EXPECT_EQ(m["lens"]["prop"].size(), 1u);
  }
  fs::remove_all(out);
}

}  // namespace
}  // namespace lsc::test
