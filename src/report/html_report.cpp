// The HTML report: collects the section data (report_*.cpp), reads plotly.min.js and writes one
// file with everything inline. Our own report.js/report.css are compiled in (report_assets.cpp,
// generated from src/report/web/ at build time); plotly.js is read from web/node_modules at
// report time (it is 4.8 MB and pinned by web/package-lock.json).
#include "report/html_report.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"
#include "results/aggregate.h"
#include "report/report_data.h"
#include "results/results_db.h"
#include "results/stats_input.h"
#include "tokenizer/tokenizer.h"

#ifndef LSC_WEB_DIR
#define LSC_WEB_DIR "web"
#endif

namespace lsc::report {

// report_assets.cpp (generated from src/report/web/ by embed_assets.cmake).
extern const unsigned char kReportJs[];
extern const size_t kReportJsSize;
extern const unsigned char kReportCss[];
extern const size_t kReportCssSize;

namespace {

struct SectionHead {
  const char* id;
  const char* title;
  const char* lead;
};

// The section skeleton; report.js fills each section's body. Ids are part of the file's contract
// (tests and docs/report.md name them).
constexpr SectionHead kSections[] = {
    {"s1-manifest", "1. Run manifest",
     "Models, template, keyword families with their token ids, skipped and truncated records, "
     "timings."},
    {"s2-data", "2. Data",
     "Texts per level × correctness (× source), answer lengths, keyword counts per 1k answer "
     "tokens."},
    {"s3-distributions", "3. Per-model distributions",
     "Observed-token log p, entropy and rank over every answer position."},
    {"s4-keywords", "4. Keywords × models",
     "Per-text values at keyword occurrences (the text is the unit), means with 95% bootstrap "
     "CIs."},
    {"s5-difficulty", "5. Difficulty", "Keyword measures against the problem level."},
    {"s6-correctness", "6. Correctness", "Correct against incorrect answers."},
    {"s7-windows", "7. Around keywords",
     "Values at offsets −W..+W from each occurrence's first token."},
    {"s8-differences", "8. Model differences", "Per model pair, over the common answer positions."},
    {"s9-logits", "9. Logits heatmap",
     "Positions × the top-N vocabulary entries of one text, from the stored top-k log-probs."},
    {"s10-clusters", "10. PCA and clusters (exploratory)",
     "Descriptive views of per-text feature vectors; not evidence."},
    {"s11-viewer", "11. Token viewer",
     "Tokens coloured by a metric; hover for every model's top-k."},
    {"s12-inside", "12. Inside the models",
     "The logit lens layer by layer at the keyword decision rows, and how similar the models' "
     "residual streams are (run --lens)."},
};

std::string read_plotly() {
  const std::string path = plotly_js_path();
  if (!io::file_exists(path)) {
    throw InputError(
        path, "plotly.js",
        "the file plotly.min.js of the npm package plotly.js-dist-min (pinned in "
        "web/package-lock.json)",
        "no such file; install it with `bash scripts/install-deps.sh` (runs npm ci in web/), or "
        "point LSC_WEB_DIR at a folder holding node_modules/plotly.js-dist-min");
  }
  std::string js = io::read_text_file(path);
  // Inline <script>: no "</script" may appear inside (plotly 4.1.2 has none; this keeps it so).
  for (size_t p = 0; (p = js.find("</script", p)) != std::string::npos; p += 2)
    js.replace(p, 2, "<\\/");
  return js;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// stats.json, read defensively: its shape belongs to `logitscope stats`; the report shows what it
// finds, when it was computed from the database as it is (its "run": the same run, as many texts
// done). One of another run or of fewer texts (a run replaced or gone on since) is left out, said.
io::Json read_stats(const std::string& dir, results::ResultsDb& db, ReportResult& res) {
  const std::string path = io::join_path(dir, "stats.json");
  if (!io::file_exists(path)) return nullptr;
  try {
    io::Json j = io::parse_json(io::read_text_file(path), path);
    if (!j.is_object()) throw InputError(path, "", "a JSON object", io::json_type_name(j));
    if (j.contains("run") && j["run"].is_object()) {
      const io::Json& run = j["run"];
      if (run.value("args_hash", std::string()) != db.args_hash()) {
        throw InputError(path, "run", "the statistics of the run in results.sqlite",
                         "those of another run (run 'logitscope stats " + dir + "' to compute them)");
      }
      const int64_t done = db.n_texts_done();
      if (run.value("texts_done", int64_t{-1}) != done) {
        throw InputError(path, "run.texts_done", std::to_string(done) + " (the texts done in results.sqlite)",
                         run.value("texts_done", io::Json()).dump() + " (run 'logitscope stats " + dir + "' to update them)");
      }
    }
    res.has_stats = true;
    return j;
  } catch (const InputError& e) {
    res.warnings.push_back(std::string("stats.json not shown: ") + e.what());
    return nullptr;
  }
}

}  // namespace

std::string plotly_js_path() {
  const char* env = std::getenv("LSC_WEB_DIR");
  const std::string web = env != nullptr && *env != '\0' ? env : LSC_WEB_DIR;
  return io::join_path(web, "node_modules/plotly.js-dist-min/plotly.min.js");
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string json_for_script(std::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 64);
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    // '<' only occurs inside JSON strings, where \u003c means the same: no "</script", no "<!--".
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '\xE2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
               (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
      out += json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";  // line/paragraph separators
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

ReportResult write_report(const std::string& results_dir, const std::string& out_path_in,
                          const ReportOptions& opt) {
  ReportResult res;
  res.out_path = out_path_in.empty() ? io::join_path(results_dir, "report.html") : out_path_in;
  const std::string plotly = read_plotly();  // fail before the long part if it is missing
  results::ResultsDb db(results_dir, {}, false);
  if (!db.db().has_table("positions")) {
    throw InputError(db.path(), "",
                     "a logitscope results database (tables meta, models, positions, ...)",
                     "no positions table");
  }
  const results::RunAggregates agg = results::load_aggregates(db);
  res.n_texts = int64_t(agg.texts.size());

  // Token strings for top-k ids: the first model's tokenizer, if it can still be read.
  std::unique_ptr<tok::Tokenizer> tokenizer;
  {
    io::Stmt s(db.db(), "SELECT tokenizer_path FROM models ORDER BY model_idx LIMIT 1");
    const std::string tp = s.step() ? s.col_text(0) : "";
    try {
      if (tp.empty())
        throw InputError("models.tokenizer_path", "", "a tokenizer.json path", "none recorded");
      tokenizer = std::make_unique<tok::Tokenizer>(tok::load_tokenizer(tp));
    } catch (const InputError& e) {
      res.warnings.push_back(
          std::string("token strings are shown as ids (#id): tokenizer not readable: ") + e.what());
    }
  }
  const TokenNames names(tokenizer.get());

  io::Json data;
  data["format"] = "logitscope-report/1";
  data["generated"] = now_utc();
  data["results_dir"] = results_dir;
  data["status"] = db.run_meta().status;
  data["models"] = agg.models;
  data["families"] = agg.families;
  data["manifest"] = build_manifest(db, names);
  data["texts"] = build_texts(db, agg);
  data["distributions"] = build_distributions(db, agg);
  data["stats"] = read_stats(results_dir, db, res);
  ReportOptions opt_used = opt;
  if (opt.stats_from_file && data["stats"].is_object()) {
    const io::Json& so = data["stats"].value("options", io::Json::object());
    if (so.value("n_bootstrap", io::Json()).is_number_integer() && so["n_bootstrap"].get<int64_t>() >= 1 &&
        so["n_bootstrap"].get<int64_t>() <= 10000000)
      opt_used.stats.n_bootstrap = int(so["n_bootstrap"].get<int64_t>());
    if (so.value("seed", io::Json()).is_number_unsigned()) opt_used.stats.seed = so["seed"].get<uint64_t>();
    if (so.value("ci_level", io::Json()).is_number() && so["ci_level"].get<double>() > 0 &&
        so["ci_level"].get<double>() < 1)
      opt_used.stats.ci_level = so["ci_level"].get<double>();
  }
  data["measures"] = build_measures(agg, opt_used);
  data["windows"] = build_windows(db, agg);
  data["pairs"] = build_pairs(db, agg, names);
  data["viewer"] = build_viewer(db, agg, opt, names);
  data["lens"] = build_lens(db, agg, opt_used, names);
  res.n_viewer_texts = int64_t(data["viewer"]["texts"].size());
  if (const int stored_k = data["viewer"]["stored_top_k"].get<int>(); stored_k > 0 && opt.viewer_top_k > stored_k) {
    res.warnings.push_back("--top-k " + std::to_string(opt.viewer_top_k) + ": the run stored the top " +
                           std::to_string(stored_k) + " of each position; the viewer keeps those " + std::to_string(stored_k));
  }
  if (const io::Json& long_texts = data["viewer"]["too_long"]; !long_texts.empty()) {
    std::string list;
    for (size_t i = 0; i < long_texts.size() && i < 3; ++i) {
      list += (i ? ", " : "") + std::string("record '") + long_texts[i]["record_id"].get<std::string>() + "' (" +
              std::to_string(long_texts[i]["tokens"].get<int64_t>()) + " tokens)";
    }
    if (long_texts.size() > 3) list += " and " + std::to_string(long_texts.size() - 3) + " more";
    res.warnings.push_back(std::to_string(long_texts.size()) + " text(s) longer than the token viewer's budget of " +
                           std::to_string(opt.max_viewer_cells) + " position×model cells are not in it: " + list +
                           "; --max-cells " + std::to_string(long_texts[0]["tokens"].get<int64_t>() * int64_t(agg.models.size())) +
                           " would hold the first (each cell adds about 160 bytes to the file)");
  }
  data["has_summary"] = io::file_exists(io::join_path(results_dir, "summary.json"));
  if (const std::string unfinished = results::unfinished_run(db); !unfinished.empty()) {
    res.warnings.insert(res.warnings.begin(), unfinished);
  }
  data["warnings"] = res.warnings;

  const std::string title = "logitscope report: " + results_dir;
  const std::string program_version = db.run_meta().program_version;
  std::string html;
  html.reserve(plotly.size() + (1 << 20));
  html +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  html += html_escape(title);
  html += "</title>\n<style>\n";
  html.append(reinterpret_cast<const char*>(kReportCss), kReportCssSize);
  html += "\n</style>\n<script>\n";
  html += plotly;
  html +=
      "\n</script>\n</head>\n<body>\n<header id=\"top\"><h1>logitscope report</h1><p "
      "class=\"sub\">";
  html += html_escape(results_dir) + " · " + std::to_string(agg.texts.size()) + " texts · " +
          std::to_string(agg.models.size()) + " models · computed by logitscope " +
          html_escape(program_version.empty() ? "(version not recorded)" : program_version) + " · report generated " +
          html_escape(data["generated"].get<std::string>());
  html += "</p><nav id=\"nav\">";
  for (const auto& s : kSections)
    html += "<a href=\"#" + std::string(s.id) + "\">" + html_escape(s.title) + "</a>";
  html += "</nav><div id=\"warnings\"></div></header>\n<main>\n";
  for (const auto& s : kSections) {
    html += "<section id=\"" + std::string(s.id) + "\" class=\"section\"><h2>" +
            html_escape(s.title) + "</h2><p class=\"lead\">" + html_escape(s.lead) +
            "</p><div class=\"body\"><p class=\"pending\">(drawn by the report "
            "script)</p></div></section>\n";
  }
  html += "</main>\n<script type=\"application/json\" id=\"lsc-data\">";
  html += json_for_script(data.dump(-1, ' ', false, io::Json::error_handler_t::replace));
  html += "</script>\n<script>\n";
  html.append(reinterpret_cast<const char*>(kReportJs), kReportJsSize);
  html += "\n</script>\n</body>\n</html>\n";

  try {
    io::AtomicFile f(res.out_path);
    f.write(html);
    f.commit();
  } catch (const IoError& e) {
    throw IoError(std::string("report: ") + e.what());
  }
  res.file_bytes = int64_t(html.size());
  return res;
}

}  // namespace lsc::report
