// `logitscope report` as a user runs it: a small run of the real-vocabulary fixture model (two
// model names, records with keywords, levels, correctness and hostile text), then the report:
// one self-contained file, no network references outside plotly.js, data that parses and equals
// the database, every section, escaping that holds, clear errors. With Debian's chromium present,
// the report (and the demo's) is opened headless with --disable-gpu and must draw every chart
// without a JavaScript error; without it those tests say "skipped: no chromium".
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "cli/run_cli.h"
#include "io/json.h"
#include "io/sqlite.h"

namespace lsc::test {
namespace {

namespace fs = std::filesystem;

const char* kSections[] = {"s1-manifest",   "s2-data",        "s3-distributions", "s4-keywords",
                           "s5-difficulty", "s6-correctness", "s7-windows",       "s8-differences",
                           "s9-logits",     "s10-clusters",   "s11-viewer",       "s12-inside"};

// The hostile string: must not end the data <script> nor open a tag.
const std::string kHostile = "</script><b>bold</b><!--";

std::string write_dataset(const fs::path& dir) {
  const char* answers[] = {
      "Let me think. 3 + 4 = 7. Wait, check: 3 + 4 is 7. So the answer is 7.",
      "We compute 12 / 4 = 3. Hmm, actually that is right. Therefore 3.",
      "First, 5 * 6 = 30. Wait, no: 5 * 6 = 30 indeed. So 30.",
      "The sum is 10. Let me check again: 4 + 6 = 10. However, the question asks for 11. So 11.",
      "Aha, the pattern doubles. 2, 4, 8, 16. Wait, then 32. Therefore 32.",
      "Think step by step: 9 - 2 = 7. So 7. Wait, 9 - 2 = 7, yes.",
  };
  std::ofstream o(dir / "data.jsonl", std::ios::binary);
  for (int i = 0; i < 12; ++i) {
    io::Json j;
    j["id"] = i == 5 ? "rec-" + kHostile : "rec-" + std::to_string(i);
    j["query"] = i == 5 ? "What is 3 + 4? " + kHostile
                        : "Question number " + std::to_string(i) + ": compute it.";
    j["answer"] = std::string(answers[i % 6]) + (i == 5 ? " " + kHostile + " Wait." : "");
    j["level"] = 1 + i % 5;
    j["is_correct"] = i % 3 != 0;
    o << j.dump() << "\n";
  }
  return (dir / "data.jsonl").string();
}

// Text between `open` (its end) and the next `close`.
std::string between(const std::string& s, const std::string& open, const std::string& close,
                    size_t from = 0) {
  const size_t a = s.find(open, from);
  if (a == std::string::npos) return "";
  const size_t b = s.find(close, a + open.size());
  return b == std::string::npos ? "" : s.substr(a + open.size(), b - a - open.size());
}

bool have_chromium() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

struct Browser {
  int code = -1;
  std::string dom, log;
};

// Opens file in headless Chromium (no GPU, no network services), dumps the DOM after scripts ran
// and, if asked, saves a screenshot. The log holds console messages (INFO:CONSOLE lines).
Browser open_in_chromium(const std::string& html, const std::string& screenshot = "") {
  const std::string base = "/tmp/lsc_chromium_" + std::to_string(::getpid());
  const std::string flags =
      "--headless --no-sandbox --disable-gpu --disable-background-networking "
      "--disable-component-update "
      "--no-first-run --disable-extensions --disable-dev-shm-usage --virtual-time-budget=15000 "
      "--user-data-dir=" +
      base + "_profile ";
  Browser b;
  const std::string cmd = "timeout 180 chromium " + flags +
                          "--enable-logging=stderr --v=0 --dump-dom file://" + html + " >" + base +
                          ".dom 2>" + base + ".log";
  b.code = std::system(cmd.c_str());
  b.dom = slurp(base + ".dom");
  b.log = slurp(base + ".log");
  if (!screenshot.empty()) {
    const std::string shot = "timeout 180 chromium " + flags +
                             "--window-size=1400,3000 --screenshot=" + screenshot + " file://" +
                             html + " >/dev/null 2>&1";
    EXPECT_EQ(std::system(shot.c_str()), 0);
  }
  fs::remove_all(base + "_profile");
  std::remove((base + ".dom").c_str());
  std::remove((base + ".log").c_str());
  return b;
}

// Checks a rendered report DOM: scripts finished, no error, every chart drew an SVG.
void expect_rendered(const Browser& b) {
  ASSERT_EQ(b.code, 0) << b.log.substr(0, 4000);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("<body[^>]*data-rendered=\"ok\"[^>]*>")))
      << "report.js did not finish; log:\n"
      << b.log.substr(0, 4000);
  const std::string body_tag = m.str();
  std::smatch c, e;
  ASSERT_TRUE(std::regex_search(body_tag, c, std::regex("data-charts=\"([0-9]+)\"")));
  ASSERT_TRUE(std::regex_search(body_tag, e, std::regex("data-errors=\"([0-9]+)\"")));
  EXPECT_EQ(e[1].str(), "0");
  const int n_charts = std::stoi(c[1].str());
  EXPECT_GE(n_charts, 20);
  // Every chart container holds plotly's SVG (a failed chart holds text instead).
  const std::regex chart_re("<div class=\"chart[^\"]*\" id=\"chart-[0-9]+\"");
  int n_div = 0, n_svg = 0;
  for (auto it = std::sregex_iterator(b.dom.begin(), b.dom.end(), chart_re);
       it != std::sregex_iterator(); ++it) {
    ++n_div;
    const size_t at = size_t(it->position() + it->length());
    const size_t next = b.dom.find("id=\"chart-", at);
    if (b.dom.substr(at, (next == std::string::npos ? b.dom.size() : next) - at).find("main-svg") !=
        std::string::npos)
      ++n_svg;
  }
  EXPECT_EQ(n_div, n_charts);
  EXPECT_EQ(n_svg, n_div) << "chart containers without an SVG";
  // report.js writes to the console only on failure; any console line or uncaught error fails,
  // except plotly's own layout warnings ("WARN: Too many auto-margin redraws." when controls
  // redraw in quick succession), which are printed, not failed.
  std::string console;
  size_t p = 0;
  while ((p = b.log.find(":CONSOLE", p)) != std::string::npos) {
    const size_t s = b.log.rfind('\n', p);
    const size_t e2 = b.log.find('\n', p);
    const std::string line =
        b.log.substr(s == std::string::npos ? 0 : s + 1, e2 - (s == std::string::npos ? 0 : s + 1));
    if (line.find("\"WARN: ") != std::string::npos) {
      std::printf("  plotly warning: %s\n", line.c_str());
    } else {
      console += line + "\n";
    }
    p = e2 == std::string::npos ? b.log.size() : e2;
  }
  EXPECT_EQ(console, "") << "JavaScript console output";
  EXPECT_EQ(b.log.find("Uncaught"), std::string::npos);
  for (const char* id : kSections)
    EXPECT_NE(b.dom.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
}

// A copy of the report with a script that works every control: each <select> through its options
// (each change redraws charts or the viewer), then a hover over a viewer token. Errors in the
// handlers reach window.onerror; results land on <body> as data-exercised, data-tip-rows and
// data-exercise-errors.
std::string exercised_copy(const std::string& html_path) {
  std::string h = slurp(html_path);
  const std::string script = R"(<script>
(function () {
  var errs = [];
  window.addEventListener('error', function (e) { errs.push(e.message); });
  // Strings plotly holds as first drawn: the hostile record id must be there entity-escaped, never as a tag.
  var raw = 0, escaped = 0;
  document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
    (gd.data || []).forEach(function (t) {
      ['text', 'x', 'y', 'name', 'customdata'].forEach(function (k) {
        [].concat(t[k] || []).forEach(function (v) {
          if (typeof v !== 'string') return;
          if (v.indexOf('<b>') >= 0) raw++;
          if (v.indexOf('&lt;b&gt;') >= 0) escaped++;
        });
      });
    });
  });
  document.body.dataset.rawTags = String(raw);
  document.body.dataset.escapedTags = String(escaped);
  var n = 0;
  document.querySelectorAll('select').forEach(function (s) {
    for (var i = 0; i < s.options.length && i < 12; i++) { s.selectedIndex = i; s.dispatchEvent(new Event('change')); n++; }
  });
  var tok = document.querySelectorAll('.tokens .tok:not(.prompt)')[2];
  if (tok) tok.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
  var tip = document.getElementById('lsc-tip');
  document.body.dataset.exercised = String(n);
  document.body.dataset.tipRows = String(tip ? tip.querySelectorAll('tr').length : 0);
  // The viewer coloured by lens propensity (run --lens): tokens with a colour (grey: no lens row).
  var lensOpt = document.querySelector('#s11-viewer select option[value="lens"]'), coloured = -1;
  if (lensOpt) {
    lensOpt.parentNode.value = 'lens';
    lensOpt.parentNode.dispatchEvent(new Event('change'));
    coloured = 0;
    var toks = document.querySelectorAll('#s11-viewer .tokens .tok');
    toks.forEach(function (t) { if (t.style.background !== 'rgb(238, 238, 238)') coloured++; });
    document.body.dataset.lensTokens = String(toks.length);
  }
  document.body.dataset.lensColoured = String(coloured);
  document.body.dataset.exerciseErrors = String(errs.length) + (errs.length ? ': ' + errs[0] : '');

})();
</script>
</body>)";
  const size_t at = h.rfind("</body>");
  EXPECT_NE(at, std::string::npos);
  h.replace(at, 7, script);
  const std::string out = html_path + ".exercise.html";
  std::ofstream(out, std::ios::binary) << h;
  return out;
}

class ReportCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("lsc_report_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    const std::string data = write_dataset(*dir_);
    const std::string model = fixture("models/qwen2-realvocab-bf16");
    run_result_ =
        new CliResult(run_cli("run --model base=" + model + " --model copy=" + model + " --data " +
                              data + " --out " + (*dir_ / "out").string() + " --window 4 --quiet"));
    if (run_result_->code == 0) {
      // `run` writes stats.json (and a report) itself; this suite's base report is the one made
      // without statistics (ShowsStatsJsonWhenPresent... covers the other case).
      fs::remove(*dir_ / "out" / "stats.json");
      report_result_ = new CliResult(run_cli("report " + (*dir_ / "out").string() + " --quiet"));
      html_ = new std::string(slurp((*dir_ / "out" / "report.html").string()));
    }
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete run_result_;
    delete report_result_;
    delete html_;
  }
  void SetUp() override {
    ASSERT_EQ(run_result_->code, 0) << run_result_->err;
    ASSERT_NE(report_result_, nullptr);
    ASSERT_EQ(report_result_->code, 0) << report_result_->err;
  }
  static std::string out(const std::string& f = "") { return (*dir_ / "out" / f).string(); }
  // A fresh directory <dir>/<name> holding a copy of the run's database only.
  static fs::path copy_of_results(const std::string& name) {
    const fs::path sdir = *dir_ / name;
    fs::remove_all(sdir);
    fs::create_directories(sdir);
    for (const char* f : {"results.sqlite", "results.sqlite-wal", "results.sqlite-shm"}) {
      if (fs::exists(out(f))) fs::copy_file(out(f), sdir / f);
    }
    return sdir;
  }
  static io::Json data_of(const fs::path& dir) {
    const std::string h = slurp((dir / "report.html").string());
    return io::parse_json(between(h, "<script type=\"application/json\" id=\"lsc-data\">", "</script>"),
                          (dir / "report.html").string());
  }
  static io::Json data() {
    return io::parse_json(
        between(*html_, "<script type=\"application/json\" id=\"lsc-data\">", "</script>"),
        "lsc-data");
  }
  static fs::path* dir_;
  static CliResult* run_result_;
  static CliResult* report_result_;
  static std::string* html_;
};
fs::path* ReportCli::dir_ = nullptr;
CliResult* ReportCli::run_result_ = nullptr;
CliResult* ReportCli::report_result_ = nullptr;
std::string* ReportCli::html_ = nullptr;

TEST_F(ReportCli, WritesOneSelfContainedFileWithoutNetworkReferences) {
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(out())) files.insert(e.path().filename().string());
  EXPECT_TRUE(files.count("report.html"));
  EXPECT_FALSE(files.count("report.html.tmp"));
  const std::string& h = *html_;
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  // No element loads anything: no src= or <link>, and every href is an in-page anchor.
  EXPECT_EQ(h.find("<link"), std::string::npos);
  const std::regex tag_src("<(script|img|iframe)[^>]*\\ssrc=", std::regex::icase);
  EXPECT_FALSE(std::regex_search(h, tag_src));
  // plotly.min.js is inline (its text mentions URLs of map tiles and docs that only geo/map
  // traces would fetch; the report uses none). Outside it: no http(s) reference at all.
  const size_t p0 = h.find("plotly.js v");
  ASSERT_NE(p0, std::string::npos) << "plotly.js is not inline";
  const size_t s0 = h.rfind("<script>", p0), s1 = h.find("</script>", p0);
  ASSERT_NE(s0, std::string::npos);
  ASSERT_NE(s1, std::string::npos);
  const std::string rest = h.substr(0, s0) + h.substr(s1);
  EXPECT_EQ(rest.find("http://"), std::string::npos);
  EXPECT_EQ(rest.find("https://"), std::string::npos);
  const std::regex href("href=\"([^\"]*)\"");
  int n_href = 0;
  for (auto it = std::sregex_iterator(rest.begin(), rest.end(), href); it != std::sregex_iterator();
       ++it, ++n_href) {
    EXPECT_EQ((*it)[1].str().substr(0, 1), "#") << (*it)[1].str();
  }
  EXPECT_EQ(n_href, 12) << "the section links";
  EXPECT_LT(h.size(), size_t(30) << 20);
}

TEST_F(ReportCli, EverySectionIsPresent) {
  for (const char* id : kSections) {
    EXPECT_NE(html_->find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
  }
}

// The header names the logitscope that computed the results (the run's meta.program_version,
// "0.1.0 (commit …)" where the build knew its commit), so a report read months later says which
// code made its numbers: the version `--version` prints, recorded by the run.
TEST_F(ReportCli, HeaderNamesTheVersionThatComputedTheRun) {
  const CliResult v = run_cli("--version");
  ASSERT_EQ(v.code, 0) << v.err;
  ASSERT_EQ(v.out.rfind("logitscope ", 0), 0u) << v.out;
  const std::string version = v.out.substr(11, v.out.find('\n') - 11);
  io::Db db(out("results.sqlite"), false);
  io::Stmt s(db, "SELECT value FROM meta WHERE key = 'program_version'");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.col_text(0), version);
  const std::string header = between(*html_, "<header id=\"top\">", "</header>");
  EXPECT_NE(header.find("computed by logitscope " + version + " · report generated "), std::string::npos) << header;
}

TEST_F(ReportCli, HostileRecordTextStaysData) {
  const std::string& h = *html_;
  EXPECT_EQ(h.find(kHostile), std::string::npos);
  EXPECT_EQ(h.find("<b>bold"), std::string::npos);
  // Exactly the scripts we wrote: the style/plotly block, the data block and report.js.
  size_t n_script_close = 0;
  for (size_t p = 0; (p = h.find("</script>", p)) != std::string::npos; ++p) ++n_script_close;
  EXPECT_EQ(n_script_close, 3u);
  // ...and the text survives intact inside the data.
  const io::Json d = data();
  bool in_ids = false;
  for (const auto& id : d["texts"]["id"])
    in_ids = in_ids || id.get<std::string>() == "rec-" + kHostile;
  EXPECT_TRUE(in_ids);
  bool in_pieces = false;
  for (const auto& t : d["viewer"]["texts"]) {
    std::string all;
    for (const auto& p : t["piece"]) all += p.get<std::string>();
    in_pieces = in_pieces || all.find(kHostile) != std::string::npos;
  }
  EXPECT_TRUE(in_pieces);
}

TEST_F(ReportCli, EmbeddedNumbersEqualTheDatabase) {
  const io::Json d = data();
  io::Db db(out("results.sqlite"), false);
  ASSERT_EQ(d["models"].size(), 2u);
  ASSERT_EQ(d["texts"]["idx"].size(), 12u);
  // Occurrences per family in the first model's layout.
  std::map<int64_t, int64_t> occ;
  {
    io::Stmt s(
        db, "SELECT family_idx, count(*) FROM occurrences WHERE model_idx = 0 GROUP BY family_idx");
    while (s.step()) occ[s.col_int(0)] = s.col_int(1);
  }
  const auto& fams = d["families"];
  int64_t total = 0;
  for (size_t f = 0; f < fams.size(); ++f) {
    int64_t sum = 0;
    for (const auto& c : d["texts"]["counts"][f]) sum += c.get<int64_t>();
    EXPECT_EQ(sum, occ[int64_t(f)]) << fams[f];
    total += sum;
  }
  EXPECT_GT(occ[0], 0) << "the dataset has 'wait' in it";
  EXPECT_GT(total, 20);
  // Mean observed-token log p over answer positions, per model (rounded to 1e-4 in the file).
  for (int m = 0; m < 2; ++m) {
    io::Stmt s(db,
               "SELECT avg(logprob), count(*) FROM positions WHERE span != 'prompt' AND logprob IS "
               "NOT NULL AND model_idx = " +
                   std::to_string(m));
    ASSERT_TRUE(s.step());
    const auto& sum = d["distributions"]["summary"][m];
    EXPECT_EQ(sum["n"].get<int64_t>(), s.col_int(1));
    EXPECT_NEAR(sum["mean_logprob"].get<double>(), s.col_double(0), 0.5e-4 + 1e-12);
  }
  // One chosen cell: family "wait", model 0, all texts: mean over texts of each text's mean
  // whole-word log p at its occurrences (section 4's bar), rounded to 1e-3.
  {
    io::Stmt s(db,
               "SELECT avg(m) , count(*) FROM (SELECT avg(logprob_word) AS m FROM occurrences "
               "WHERE model_idx = 0 AND "
               "family_idx = 0 GROUP BY text_idx)");
    ASSERT_TRUE(s.step());
    const io::Json cell =
        d["measures"]["cells"][1][0][0][0];  // [lp_word][all texts][model 0][wait]
    EXPECT_EQ(cell[0].get<int64_t>(), s.col_int(1));
    EXPECT_NEAR(cell[1].get<double>(), s.col_double(0), 0.5e-3 + 1e-12);
    EXPECT_LE(cell[2].get<double>(), cell[1].get<double>());
    EXPECT_GE(cell[3].get<double>(), cell[1].get<double>());
  }
  // The two model names read the same weights: every divergence is zero, agreement is total.
  ASSERT_EQ(d["pairs"].size(), 1u);
  EXPECT_EQ(d["pairs"][0]["n"].get<int64_t>(), db.query_int("SELECT count(*) FROM pairs"));
  EXPECT_NEAR(d["pairs"][0]["mean"]["top1_agree"].get<double>(), 1.0, 1e-12);
  // Window offsets −4..4 from --window 4.
  EXPECT_EQ(d["windows"]["window"].get<int>(), 4);
  // Token strings decoded with the fixture's tokenizer; the viewer holds every text (12 < 200).
  EXPECT_TRUE(d["manifest"]["decoded_tokens"].get<bool>());
  EXPECT_EQ(d["viewer"]["texts"].size(), 12u);
  // `run` may write stats.json; the report embeds it exactly when it is there.
  EXPECT_EQ(d["stats"].is_null(), !fs::exists(out("stats.json")));
}

TEST_F(ReportCli, ViewerSelectionIsBoundedAndSaysSo) {
  const auto r =
      run_cli("report " + out() + " --out " + out("small.html") + " --max-texts 5 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string h = slurp(out("small.html"));
  const io::Json d = io::parse_json(
      between(h, "<script type=\"application/json\" id=\"lsc-data\">", "</script>"), "small");
  EXPECT_EQ(d["viewer"]["texts"].size(), 5u);
  EXPECT_NE(d["viewer"]["rule"].get<std::string>().find("most divergent"), std::string::npos);
  std::set<std::string> why;
  for (const auto& t : d["viewer"]["texts"]) why.insert(t["why"].get<std::string>());
  EXPECT_TRUE(why.count("most divergent"));
  EXPECT_TRUE(why.count("stratified sample"));
  // The rule counts what was taken: 2 of the most divergent (a quarter of 5), then 3 drawn.
  EXPECT_NE(d["viewer"]["rule"].get<std::string>().find(": 2 of the most divergent (mean JS over model pairs), then 3 by a "
                                                         "seeded round-robin draw"), std::string::npos) << d["viewer"]["rule"];
  fs::remove(out("small.html"));
}

// A cell budget smaller than every text: none fits, and the report says which and what would hold
// them, rather than dropping them silently; --top-k above what the run stored is lowered, said.
TEST_F(ReportCli, TextsTooLongForTheViewerAndATopKAboveTheStoredOneAreSaid) {
  const auto r = run_cli("report " + out() + " --out " + out("tiny.html") + " --max-cells 4 --top-k 500");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string h = slurp(out("tiny.html"));
  const io::Json d = io::parse_json(between(h, "<script type=\"application/json\" id=\"lsc-data\">", "</script>"), "tiny");
  EXPECT_EQ(d["viewer"]["texts"].size(), 0u);
  const size_t n = d["viewer"]["too_long"].size();
  EXPECT_EQ(int64_t(n), d["viewer"]["n_candidates"].get<int64_t>());
  EXPECT_NE(r.err.find(std::to_string(n) + " text(s) longer than the token viewer's budget of 4 position×model cells are "
                       "not in it: record '"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("; --max-cells "), std::string::npos) << r.err;
  EXPECT_EQ(d["viewer"]["top_k"], d["viewer"]["stored_top_k"]);
  EXPECT_NE(r.err.find("--top-k 500: the run stored the top " + d["viewer"]["stored_top_k"].dump() + " of each position"),
            std::string::npos) << r.err;
  fs::remove(out("tiny.html"));
}

TEST_F(ReportCli, ShowsStatsJsonWhenPresentAndSurvivesABrokenOne) {
  const fs::path sdir = copy_of_results("with_stats");
  // Without stats.json (only the database copied): no stats, and the page says how to get them.
  auto r0 = run_cli("report " + sdir.string() + " --quiet");
  ASSERT_EQ(r0.code, 0) << r0.err;
  {
    const std::string h0 = slurp((sdir / "report.html").string());
    const io::Json d0 = io::parse_json(
        between(h0, "<script type=\"application/json\" id=\"lsc-data\">", "</script>"), "no stats");
    EXPECT_TRUE(d0["stats"].is_null());
    EXPECT_NE(h0.find("logitscope stats"), std::string::npos) << "says how to get the tests";
  }
  {
    std::ofstream o(sdir / "stats.json");
    o << R"({"schema":"test","model_comparisons":[{"family":"wait","measure":"lp_word","model_a":"base","model_b":"copy",)"
         R"("n":12,"small_n":false,"wilcoxon":{"statistic":1.5,"p":0.01,"q":0.04}}],"exploratory":{"pca":{"defined":false,"note":"x"}}})";
  }
  auto r = run_cli("report " + sdir.string() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string h = slurp((sdir / "report.html").string());
  io::Json d = io::parse_json(
      between(h, "<script type=\"application/json\" id=\"lsc-data\">", "</script>"), "stats");
  EXPECT_EQ(d["stats"]["model_comparisons"][0]["wilcoxon"]["q"].get<double>(), 0.04);
  {
    std::ofstream o(sdir / "stats.json");
    o << "{ not json";
  }
  r = run_cli("report " + sdir.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("stats.json"), std::string::npos) << r.err;
  h = slurp((sdir / "report.html").string());
  d = io::parse_json(between(h, "<script type=\"application/json\" id=\"lsc-data\">", "</script>"),
                     "broken stats");
  EXPECT_TRUE(d["stats"].is_null());
  EXPECT_EQ(d["warnings"].size(), 1u);
  // The run's own stats.json is shown; one of another run, or of fewer texts than are now done
  // (a run replaced, or gone on since), is left out, the warning saying why.
  ASSERT_EQ(run_cli("stats " + sdir.string() + " --bootstrap 100").code, 0);
  r = run_cli("report " + sdir.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("not shown"), std::string::npos) << r.err;
  EXPECT_FALSE(data_of(sdir)["stats"].is_null());
  io::Json own = io::parse_json(slurp((sdir / "stats.json").string()), "stats.json");
  ASSERT_TRUE(own["run"]["texts_done"].is_number());
  for (const char* what : {"args_hash", "texts_done"}) {
    io::Json other = own;
    if (std::string(what) == "args_hash") other["run"]["args_hash"] = "0123";
    else other["run"]["texts_done"] = other["run"]["texts_done"].get<int64_t>() - 1;
    std::ofstream(sdir / "stats.json") << other.dump();
    r = run_cli("report " + sdir.string());
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find(std::string("stats.json not shown: ") + (sdir / "stats.json").string() + ": run"), std::string::npos)
        << what << ": " << r.err;
    EXPECT_NE(r.err.find(std::string("logitscope stats ") + sdir.string()), std::string::npos) << r.err;
    EXPECT_TRUE(data_of(sdir)["stats"].is_null()) << what;
  }
  fs::remove_all(sdir);
}

// One bootstrap: the report's intervals are stats.json's for the same group of texts (all texts,
// a level, correct/incorrect, a model pair's difference), with the resamples and seed that
// `logitscope stats` recorded; `report --bootstrap` overrides them.
TEST_F(ReportCli, ConfidenceIntervalsAreTheStatisticsOnes) {
  const fs::path sdir = copy_of_results("one_bootstrap");
  auto r = run_cli("stats " + sdir.string() + " --bootstrap 700 --seed 77");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli("report " + sdir.string() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const io::Json st = io::parse_json(slurp((sdir / "stats.json").string()), "stats.json");
  auto data = [&] {
    const std::string h = slurp((sdir / "report.html").string());
    return io::parse_json(between(h, "<script type=\"application/json\" id=\"lsc-data\">", "</script>"), "report");
  };
  const io::Json d = data();
  EXPECT_EQ(d["measures"]["n_bootstrap"].get<int>(), 700);
  const std::vector<std::string> fams = d["families"], models = d["models"];
  // report measure index -> stats measure name
  const std::map<int, std::string> measures = {{0, "rate_per_1k"}, {1, "logp"}, {3, "propensity"}, {4, "entropy"}, {5, "kl"}};
  auto same = [](const io::Json& cell, const io::Json& mean, const io::Json& ci, int digits, const std::string& what) {
    if (ci.is_null()) {
      EXPECT_TRUE(cell[2].is_null()) << what;
      return;
    }
    // the report rounds to 3 decimals, or 4 significant digits for propensity and KL
    auto close = [&](const io::Json& a, double b) {
      const double tol = digits > 0 ? 0.5e-3 : std::fabs(b) * 5e-4;
      EXPECT_NEAR(a.get<double>(), b, tol + 1e-12) << what;
    };
    close(cell[1], mean.get<double>());
    close(cell[2], ci[0].get<double>());
    close(cell[3], ci[1].get<double>());
  };
  int checked = 0, with_width = 0;
  for (const auto& row : st["means"]) {
    const auto f = size_t(std::find(fams.begin(), fams.end(), row["family"].get<std::string>()) - fams.begin());
    const auto m = size_t(std::find(models.begin(), models.end(), row["model"].get<std::string>()) - models.begin());
    for (const auto& [k, name] : measures) {
      if (row["measure"] != name) continue;
      const io::Json& cell = d["measures"]["cells"][size_t(k)][0][m][f];
      EXPECT_EQ(cell[0].get<int64_t>(), row["n"].get<int64_t>()) << row.dump();
      same(cell, row["mean"], row["ci"], k == 3 || k == 5 ? -4 : 3, row.dump());
      ++checked;
      with_width += !row["ci"].is_null() && row["ci"][0] != row["ci"][1];
    }
  }
  for (const auto& row : st["difficulty"]["level_means"]) {
    const auto f = size_t(std::find(fams.begin(), fams.end(), row["family"].get<std::string>()) - fams.begin());
    const auto m = size_t(std::find(models.begin(), models.end(), row["model"].get<std::string>()) - models.begin());
    for (const auto& [k, name] : measures) {
      if (row["measure"] != name) continue;
      const io::Json& cell = d["measures"]["cells"][size_t(k)][row["level"].get<size_t>()][m][f];
      EXPECT_EQ(cell[0].get<int64_t>(), row["n"].get<int64_t>()) << row.dump();
      same(cell, row["mean"], row["ci"], k == 3 || k == 5 ? -4 : 3, row.dump());
      ++checked;
    }
  }
  for (const auto& row : st["correctness"]["groups"]) {
    const auto f = size_t(std::find(fams.begin(), fams.end(), row["family"].get<std::string>()) - fams.begin());
    const auto m = size_t(std::find(models.begin(), models.end(), row["model"].get<std::string>()) - models.begin());
    for (const auto& [k, name] : measures) {
      if (row["measure"] != name) continue;
      same(d["measures"]["cells"][size_t(k)][6][m][f], row["mean_correct"], row["ci_correct"], k == 3 || k == 5 ? -4 : 3, row.dump());
      same(d["measures"]["cells"][size_t(k)][7][m][f], row["mean_incorrect"], row["ci_incorrect"], k == 3 || k == 5 ? -4 : 3, row.dump());
      ++checked;
    }
  }
  for (const auto& row : st["model_comparisons"]) {
    const auto f = size_t(std::find(fams.begin(), fams.end(), row["family"].get<std::string>()) - fams.begin());
    for (const auto& [k, name] : measures) {
      if (row["measure"] != name) continue;
      same(d["measures"]["diff"][size_t(k)][0][f], row["mean_diff"], row["mean_diff_ci"], k == 3 || k == 5 ? -4 : 3, row.dump());
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
  EXPECT_GT(with_width, 5) << "some intervals have width (the check is not of degenerate ones only)";
  // --bootstrap: the report's own resamples (then other intervals).
  r = run_cli("report " + sdir.string() + " --quiet --bootstrap 300");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(data()["measures"]["n_bootstrap"].get<int>(), 300);
  // As few resamples as stats takes (100): fewer give no interval worth printing.
  for (const std::string cmd : {"report", "stats"}) {
    r = run_cli(cmd + " " + sdir.string() + " --quiet --bootstrap 99");
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_NE(r.err.find("--bootstrap: expected an integer in [100, 10000000], found \"99\""), std::string::npos) << r.err;
  }
  fs::remove_all(sdir);
}

TEST_F(ReportCli, ClearErrorsForMissingInputsAndPlotly) {
  auto r = run_cli("report " + (*dir_ / "nowhere").string());
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("results.sqlite"), std::string::npos) << r.err;
  r = run_cli("report");
  EXPECT_EQ(r.code, 2);
  r = run_cli("report " + out() + " --out /nonexistent-dir/x/report.html");
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find("/nonexistent-dir/x/report.html"), std::string::npos) << r.err;
  r = run_cli("report " + out() + " --max-texts -3");
  EXPECT_EQ(r.code, 2);
  // Without plotly.js the error names the file and the fix.
  const std::string env = "LSC_WEB_DIR=" + (*dir_ / "no-web").string() + " ";
  const std::string cmd =
      env + binary() + " report " + out() + " 2>" + (*dir_ / "err.txt").string();
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 3);
  const std::string err = slurp((*dir_ / "err.txt").string());
  EXPECT_NE(err.find("no-web/node_modules/plotly.js-dist-min/plotly.min.js"), std::string::npos)
      << err;
  EXPECT_NE(err.find("scripts/install-deps.sh"), std::string::npos) << err;
}

TEST_F(ReportCli, RendersInHeadlessChromiumWithoutErrors) {
  if (!have_chromium()) GTEST_SKIP() << "skipped: no chromium";
  expect_rendered(open_in_chromium(out("report.html")));
}

TEST_F(ReportCli, EveryControlRedrawsWithoutErrorsInHeadlessChromium) {
  if (!have_chromium()) GTEST_SKIP() << "skipped: no chromium";
  const Browser b = open_in_chromium(exercised_copy(out("report.html")));
  expect_rendered(b);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-exercise-errors=\"([^\"]*)\"")))
      << b.log.substr(0, 3000);
  EXPECT_EQ(m[1].str(), "0");
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-exercised=\"([0-9]+)\"")));
  EXPECT_GE(std::stoi(m[1].str()), 30) << "option changes made";
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-tip-rows=\"([0-9]+)\"")));
  EXPECT_GE(std::stoi(m[1].str()), 2) << "hover shows the models' top-k";
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-raw-tags=\"([0-9]+)\"")));
  EXPECT_EQ(m[1].str(), "0") << "a record's text reached plotly unescaped";
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-escaped-tags=\"([0-9]+)\"")));
  EXPECT_GT(std::stoi(m[1].str()), 0) << "the hostile record id is in the scatter's hover text";
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-lens-coloured=\"(-?[0-9]+)\"")));
  EXPECT_EQ(m[1].str(), "-1") << "a run without --lens offers no lens colouring";
}

// The issue's CI check: the demo run's report opens in headless Chromium and every chart draws.
// Saves the screenshot as report_screenshot.png in the build folder.
TEST(ReportDemo, DemoReportRendersInHeadlessChromium) {
  if (!have_chromium()) GTEST_SKIP() << "skipped: no chromium";
  const fs::path dir =
      fs::temp_directory_path() / ("lsc_report_demo_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto r = run_cli("demo --quiet --out " + dir.string());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli("report " + dir.string() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string html = (dir / "report.html").string();
  std::printf("  demo report: %.2f MB\n", double(fs::file_size(html)) / 1e6);
  const std::string shot = std::string(LSC_BUILD_DIR) + "/report_screenshot.png";
  expect_rendered(open_in_chromium(html, shot));
  EXPECT_TRUE(fs::exists(shot));
  // Every control redraws without error, the viewer's lens colouring included (the demo runs
  // --lens all): it colours the lens rows of the shown text, and only those.
  const Browser b = open_in_chromium(exercised_copy(html));
  expect_rendered(b);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-exercise-errors=\"([^\"]*)\""))) << b.log.substr(0, 3000);
  EXPECT_EQ(m[1].str(), "0");
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-lens-coloured=\"(-?[0-9]+)\"")));
  const int coloured = std::stoi(m[1].str());
  ASSERT_TRUE(std::regex_search(b.dom, m, std::regex("data-lens-tokens=\"([0-9]+)\"")));
  EXPECT_GT(coloured, 0);
  EXPECT_LT(coloured, std::stoi(m[1].str())) << "--lens-at keywords: only the rows around keywords have a lens";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lsc::test
