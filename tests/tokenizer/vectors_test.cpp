// The tokenizer against every reference vector in the shared fixtures (Hugging Face tokenizers
// 0.22.2, tokenizers.js and llama.cpp): ids, token strings, decoded text and offsets, exactly.
#include <gtest/gtest.h>

#include <set>

#include "tokenizer/pretokenize.h"
#include "tokenizer_test_util.h"

namespace lsc::test {
namespace {

// decode(encode(s)) == NFC(s), and the offsets cover s.
void expect_round_trip(const tok::Tokenizer& t, const std::string& text, const std::string& label) {
  const tok::Encoding e = t.encode(text, false);
  EXPECT_EQ(t.decode(e.ids), tok::nfc(text)) << label;
  expect_offsets_cover(e, text, 0, 0, label);
}

std::vector<std::string> llama_cpp_texts() {
  const std::string inp =
      read_file_or_fail(fixture("tokenizer-vectors/llama.cpp/ggml-vocab-qwen2.gguf.inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  for (size_t at; (at = inp.find(sep, pos)) != std::string::npos; pos = at + sep.size()) {
    texts.push_back(inp.substr(pos, at - pos));
  }
  EXPECT_EQ(pos, inp.size()) << "the file ends with the separator";
  return texts;
}

class LlamaCpp : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaCpp, IdsMatchForEveryText) {
  const tok::Tokenizer& t = fixture_tokenizer(GetParam());
  const std::vector<std::string> texts = llama_cpp_texts();
  std::istringstream out(
      read_file_or_fail(fixture("tokenizer-vectors/llama.cpp/ggml-vocab-qwen2.gguf.out")));
  ASSERT_EQ(texts.size(), 43u);
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string line;
    ASSERT_TRUE(std::getline(out, line)) << "no expected line for text " << i;
    std::istringstream nums(line);
    std::vector<int32_t> want;
    for (int32_t id; nums >> id;) want.push_back(id);
    EXPECT_EQ(t.encode(texts[i], false).ids, want) << "text " << i << ": \"" << texts[i] << "\"";
    expect_round_trip(t, texts[i], "llama.cpp text " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, LlamaCpp, ::testing::Values("qwen2.5", "qwen3"));

class TokenizersJs : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizersJs, IdsTokensAndDecodedTextMatch) {
  const tok::Tokenizer& t = fixture_tokenizer(GetParam());
  const io::Json j = io::Json::parse(read_file_or_fail(
      fixture("tokenizer-vectors/tokenizers.js/qwen2_tokenization_expectations.json")));
  const io::Json& cases = j.at("Xenova/Qwen1.5-0.5B-Chat");
  ASSERT_EQ(cases.size(), 25u);
  for (const io::Json& c : cases) {
    const std::string name = c.at("name"), text = c.at("text");
    const tok::Encoding e = t.encode(text, true);
    EXPECT_EQ(e.ids, ids_of(c.at("ids"))) << name;
    EXPECT_EQ(tokens_of(e), c.at("tokens").get<std::vector<std::string>>()) << name;
    EXPECT_EQ(t.decode(e.ids), c.at("decoded").get<std::string>()) << name;
    expect_round_trip(t, text, name);
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenizersJs, ::testing::Values("qwen2.5", "qwen3"));

TEST(SplitRegexOracle, PiecesMatchForBothPatternSpellings) {
  const io::Json j = io::Json::parse(
      read_file_or_fail(fixture("tokenizer-vectors/tokenizers.js/qwen2_split_regex_oracle.json")));
  std::set<std::string> seen;
  for (const io::Json& p : j.at("patterns")) {
    const std::string id = p.at("id");
    tok::SplitPattern pattern;
    ASSERT_TRUE(tok::parse_split_pattern(p.at("pattern").get<std::string>(), &pattern)) << id;
    EXPECT_EQ(pattern.max_digits, 1);
    seen.insert(id);
    ASSERT_EQ(p.at("cases").size(), 19u) << id;
    for (const io::Json& c : p.at("cases")) {
      const std::string input = c.at("input");
      std::vector<std::pair<uint32_t, uint32_t>> pieces;
      tok::split_pretokens(input, pattern, pieces);
      std::vector<std::string> got;
      for (const auto& [b, e] : pieces) got.push_back(input.substr(b, e - b));
      EXPECT_EQ(got, c.at("matches").get<std::vector<std::string>>())
          << id << ": \"" << input << "\"";
    }
  }
  EXPECT_EQ(seen, (std::set<std::string>{"hub-005", "hub-037"}));
}

TEST(HfEdgeCases, AllRecordsMatchIdsTokensAndDecodedText) {
  const auto records =
      read_jsonl_or_fail(fixture("tokenizer-vectors/hf-tokenizers-0.22.2/edge_cases.jsonl"));
  ASSERT_EQ(records.size(), 246u);
  for (const io::Json& r : records) {
    const tok::Tokenizer& t = fixture_tokenizer(r.at("tokenizer"));
    const std::string text = r.at("text");
    const bool add = r.at("add_special_tokens");
    const std::string label = r.at("case").get<std::string>() + " / " +
                              r.at("tokenizer").get<std::string>() +
                              (add ? " / add_special_tokens" : "");
    const tok::Encoding e = t.encode(text, add);
    EXPECT_EQ(e.ids, ids_of(r.at("ids"))) << label;
    EXPECT_EQ(tokens_of(e), r.at("tokens").get<std::vector<std::string>>()) << label;
    EXPECT_EQ(t.decode(e.ids, false), r.at("decoded").get<std::string>()) << label;
    expect_offsets_cover(e, text, add ? t.prefix_ids().size() : 0, add ? t.suffix_ids().size() : 0,
                         label);
    if (!add) {
      EXPECT_EQ(t.decode(e.ids), tok::nfc(text)) << label;
    }
  }
}

TEST(HfChatPrompts, AllRecordsMatchIdsAndDecodedText) {
  const auto records =
      read_jsonl_or_fail(fixture("tokenizer-vectors/hf-tokenizers-0.22.2/chat_prompts.jsonl"));
  ASSERT_EQ(records.size(), 60u);
  for (const io::Json& r : records) {
    const tok::Tokenizer& t = fixture_tokenizer(r.at("tokenizer"));
    const std::string text = r.at("text");
    const std::string label =
        r.at("case").get<std::string>() + " / " + r.at("tokenizer").get<std::string>();
    const tok::Encoding e = t.encode(text, r.at("add_special_tokens").get<bool>());
    EXPECT_EQ(e.ids, ids_of(r.at("ids"))) << label;
    EXPECT_EQ(t.decode(e.ids, false), r.at("decoded").get<std::string>()) << label;
    expect_round_trip(t, text, label);
  }
}

TEST(RealVocabTexts, IdsTokensOffsetsAndDecodedTextMatch) {
  const io::Json j =
      io::Json::parse(read_file_or_fail(fixture("expected/qwen2-realvocab-bf16/texts.json")));
  // The checkpoint's own folder: tokenizer.json (+ tokenizer_config.json), found from the dir.
  const tok::Tokenizer t = tok::load_tokenizer(fixture("models/qwen2-realvocab-bf16"));
  EXPECT_TRUE(t.config().present);
  ASSERT_EQ(j.at("texts").size(), 5u);
  for (const io::Json& x : j.at("texts")) {
    const std::string name = x.at("name"), text = x.at("text");
    const tok::Encoding e = t.encode(text, x.at("add_special_tokens").get<bool>());
    EXPECT_EQ(e.ids, ids_of(x.at("ids"))) << name;
    EXPECT_EQ(int64_t(e.size()), x.at("n_tokens").get<int64_t>()) << name;
    EXPECT_EQ(tokens_of(e), x.at("tokens").get<std::vector<std::string>>()) << name;
    std::vector<std::pair<int64_t, int64_t>> want;
    for (const io::Json& o : x.at("offsets"))
      want.emplace_back(o.at(0).get<int64_t>(), o.at(1).get<int64_t>());
    EXPECT_EQ(e.offsets, want) << name;
    EXPECT_EQ(t.decode(e.ids, false), x.at("decoded").get<std::string>()) << name;
    EXPECT_EQ(t.encode(text, true).ids, e.ids) << name << ": Qwen2.5 adds nothing";
    expect_round_trip(t, text, name);
    if (x.contains("prompt")) {
      const tok::Encoding p = t.encode(x.at("prompt").get<std::string>(), false);
      ASSERT_LE(p.size(), e.size());
      EXPECT_TRUE(std::equal(p.ids.begin(), p.ids.end(), e.ids.begin()))
          << name << ": prompt ids are a prefix";
      EXPECT_EQ(int64_t(p.size()), x.at("answer_start").get<int64_t>()) << name;
    }
  }
}

}  // namespace
}  // namespace lsc::test
