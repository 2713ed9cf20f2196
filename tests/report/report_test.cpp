// The report library's pieces that need no run: escaping, rounding, and
// the errors for a missing results database or plotly.js. End-to-end checks are in
// tests/cli/report_cli_test.cpp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "io/error.h"
#include "io/json.h"
#include "report/html_report.h"
#include "report/report_data.h"

namespace lsc::report {
namespace {

TEST(ReportEscape, HtmlEscapeLeavesNoMarkup) {
  EXPECT_EQ(html_escape("</script><b>&\"'"), "&lt;/script&gt;&lt;b&gt;&amp;&quot;&#39;");
  EXPECT_EQ(html_escape("plain ü"), "plain ü");
}

TEST(ReportEscape, JsonForScriptCannotEndTheElementAndStillParses) {
  io::Json j;
  j["t"] = "</script><!-- <script> \xE2\x80\xA8 end";
  const std::string s = json_for_script(j.dump());
  EXPECT_EQ(s.find("</"), std::string::npos);
  EXPECT_EQ(s.find("<!--"), std::string::npos);
  EXPECT_EQ(s.find('<'), std::string::npos);
  EXPECT_EQ(s.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_EQ(io::Json::parse(s), j);
}

TEST(ReportRounding, DecimalsAndSignificantDigits) {
  EXPECT_EQ(rnum(-1.23456, 3).get<double>(), -1.235);
  EXPECT_TRUE(rnum(kNaN).is_null());
  EXPECT_EQ(rsig(0.000123456, 3).get<double>(), 0.000123);
  EXPECT_EQ(rsig(98765.4, 2).get<double>(), 99000.0);
  EXPECT_EQ(rsig(0.0).get<double>(), 0.0);
}

TEST(ReportErrors, MissingResultsDatabaseNamesTheFile) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / "lsc_report_missing_db").string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  try {
    write_report(dir, "", ReportOptions{});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/results.sqlite"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(ReportErrors, PlotlyPathFollowsTheEnvironment) {
  ::setenv("LSC_WEB_DIR", "/opt/somewhere", 1);
  EXPECT_EQ(plotly_js_path(), "/opt/somewhere/node_modules/plotly.js-dist-min/plotly.min.js");
  ::unsetenv("LSC_WEB_DIR");
  EXPECT_NE(plotly_js_path().find("web/node_modules/plotly.js-dist-min/plotly.min.js"),
            std::string::npos);
}

}  // namespace
}  // namespace lsc::report
