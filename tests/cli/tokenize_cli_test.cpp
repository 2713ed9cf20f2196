// `logitscope tokenize` run as a user runs it: the built binary on the fixture tokenizers and
// on broken inputs, checking exit codes, that output parses and equals the library's result,
// and that errors name the file and line.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "io/json.h"
#include "support/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace lsc::test {
namespace {

struct CliRun {
  int code = -1;
  std::string out, err;
};

std::string slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// args: shell words appended to the binary's path (run through /bin/sh).
CliRun run_tokenize(const std::string& args) {
  static int counter = 0;
  const std::string base =
      "/tmp/lsc_tokcli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string cmd =
      binary() + " tokenize " + args + " </dev/null >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp_file(base + ".out");
  r.err = slurp_file(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

const std::string kR1 = "--model " + fixture("tokenizers/deepseek-r1-distill-qwen");
const std::string kQwen = "--tokenizer " + fixture("tokenizers/qwen2.5/tokenizer.json");

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(TokenizeCli, HelpExitsZero) {
  const CliRun r = run_tokenize("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: logitscope tokenize"), std::string::npos);
}

TEST(TokenizeCli, TextPrintsIdsSpansAndTokens) {
  const CliRun r = run_tokenize(kR1 + " --text 'Wait, let me check.'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("7 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("151646  [0,0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("14190  [0,4)          \"Wait\" -> \"Wait\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"Ġcheck\" -> \" check\""), std::string::npos) << r.out;
}

TEST(TokenizeCli, JsonEqualsTheLibrary) {
  const CliRun r = run_tokenize(kQwen + " --json --text 'Hmm, 等一下 🎉 <|im_end|>'");
  ASSERT_EQ(r.code, 0) << r.err;
  const io::Json j = io::Json::parse(r.out);
  const tok::Tokenizer t = tok::load_tokenizer(fixture("tokenizers/qwen2.5/tokenizer.json"));
  const tok::Encoding e = t.encode("Hmm, 等一下 🎉 <|im_end|>");
  EXPECT_EQ(j.at("ids").get<std::vector<int32_t>>(), e.ids);
  EXPECT_EQ(j.at("tokens").get<std::vector<std::string>>(),
            std::vector<std::string>(e.tokens.begin(), e.tokens.end()));
  ASSERT_EQ(j.at("offsets").size(), e.size());
  for (size_t k = 0; k < e.size(); ++k) {
    EXPECT_EQ(j.at("offsets")[k].get<std::vector<int64_t>>(),
              (std::vector<int64_t>{e.offsets[k].first, e.offsets[k].second}));
  }
}

TEST(TokenizeCli, JsonlKeepsOrderAndHonoursFieldAndNoSpecial) {
  const std::string in = test_data("tokenizer/cli/records.jsonl");
  const tok::Tokenizer t = tok::load_tokenizer(fixture("tokenizers/deepseek-r1-distill-qwen"));
  const std::vector<std::string> texts = {"Wait, let me check.", "<think>\nHmm 🎉</think>", ""};
  const std::vector<std::string> others = {"x", "y", "中文"};
  struct Mode {
    std::string flags;
    bool add_special;
    const std::vector<std::string>* field;
  };
  for (const Mode& m : {Mode{"", true, &texts}, Mode{" --no-special", false, &texts},
                        Mode{" --field other --no-special", false, &others}}) {
    const CliRun r = run_tokenize(kR1 + " --jsonl " + in + m.flags);
    ASSERT_EQ(r.code, 0) << m.flags << ": " << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 3u) << m.flags;
    for (size_t i = 0; i < 3; ++i) {
      const io::Json j = io::Json::parse(lines[i]);
      const tok::Encoding e = t.encode((*m.field)[i], m.add_special);
      EXPECT_EQ(j.at("ids").get<std::vector<int32_t>>(), e.ids) << m.flags << " line " << i + 1;
      EXPECT_EQ(j.at("offsets").size(), e.size());
      EXPECT_EQ(j.size(), 2u) << "only ids and offsets";
      EXPECT_EQ(!e.ids.empty() && e.ids[0] == 151646, m.add_special)
          << m.flags << " line " << i + 1;
    }
  }
}

TEST(TokenizeCli, DecodeTurnsIdsBackIntoText) {
  CliRun r = run_tokenize(kQwen + " --decode 151644,8948,198");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>system\n\n");
  r = run_tokenize(kQwen + " --decode 151644,8948,198 --skip-special --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(io::Json::parse(r.out).at("text"), "system\n");
}

TEST(TokenizeCli, BadTokenizerFileExitsThreeNamingTheFile) {
  const std::string path = test_data("bad/tokenizer/unknown_model_type.json");
  const CliRun r = run_tokenize("--tokenizer " + path + " --text hi");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(path + ": model.type: expected \"BPE\""), std::string::npos) << r.err;
  const CliRun missing = run_tokenize("--model " + test_data("bad") + " --text hi");
  EXPECT_EQ(missing.code, 3);
  EXPECT_NE(missing.err.find("expected a model folder with tokenizer.json"), std::string::npos)
      << missing.err;
}

TEST(TokenizeCli, BadJsonlLinesExitThreeNamingFileAndLine) {
  struct Case {
    std::string file, want;
  };
  for (const Case& c :
       {Case{"cli_bad_json.jsonl", "cli_bad_json.jsonl:2: byte "},
        Case{"cli_missing_field.jsonl",
             "cli_missing_field.jsonl:3: key 'text': expected to be present"},
        Case{"cli_empty_line.jsonl",
             "cli_empty_line.jsonl:2: expected a JSON object, found an empty line"}}) {
    const CliRun r = run_tokenize(kQwen + " --jsonl " + test_data("bad/tokenizer/" + c.file));
    EXPECT_EQ(r.code, 3) << c.file;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
  }
  const CliRun none = run_tokenize(kQwen + " --jsonl /nonexistent/in.jsonl");
  EXPECT_EQ(none.code, 3);
  EXPECT_NE(none.err.find("/nonexistent/in.jsonl: expected a readable file"), std::string::npos)
      << none.err;
}

TEST(TokenizeCli, InvalidUtf8TextExitsThreeNamingTheByte) {
  const CliRun r = run_tokenize(kQwen + " --text \"$(printf 'ab\\377c')\"");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--text: input text: byte 3: expected valid UTF-8, found byte 0xFF"),
            std::string::npos)
      << r.err;
}

TEST(TokenizeCli, UsageErrorsExitTwo) {
  for (const std::string& args :
       {std::string("--text hi"), kQwen, kQwen + " --text hi --decode 1", kQwen + " --bogus",
        kQwen + " " + kR1 + " --text hi", kQwen + " --text hi --field text", kQwen + " --jsonl x.jsonl --json", kQwen + " stray"}) {
    const CliRun r = run_tokenize(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find("usage error"), std::string::npos) << args << ": " << r.err;
  }
}

// Ids on the command line are input, as `logits --ids` takes them: a bad one exits 3 naming it.
TEST(TokenizeCli, BadDecodeIdsAreInputErrors) {
  for (const std::string& args : {kQwen + " --decode 1,x", kQwen + " --decode 999999", kQwen + " --decode 1,,2"}) {
    const CliRun r = run_tokenize(args);
    EXPECT_EQ(r.code, 3) << args << ": " << r.err;
    EXPECT_NE(r.err.find("logitscope: error: --decode: token id at position "), std::string::npos) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace lsc::test
