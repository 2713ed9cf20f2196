// Keyword occurrences on crafted text ("also", "letter", "Wait,", "CHECK", multi-token words,
// Unicode letters next to the word) and family id sets from a small hand-made vocabulary; the
// templates that place query and answer, the chat templates' system message read from the
// fixtures' tokenizers.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "analysis/keywords.h"
#include "analysis/text_layout.h"
#include "support/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace lsc::analysis {
namespace {

// Offsets of a crude whitespace-attached tokenisation: each token is a run of non-space
// characters with its leading spaces (like byte-level BPE's " Wait"), ASCII only.
std::vector<std::pair<int64_t, int64_t>> word_offsets(const std::string& text) {
  std::vector<std::pair<int64_t, int64_t>> o;
  int64_t i = 0, n = int64_t(text.size());
  while (i < n) {
    const int64_t b = i;
    while (i < n && text[size_t(i)] == ' ') ++i;
    while (i < n && text[size_t(i)] != ' ') ++i;
    o.emplace_back(b, i);
  }
  return o;
}

std::vector<KeywordFamily> families(std::initializer_list<const char*> names) {
  std::vector<KeywordFamily> f;
  for (const char* n : names) f.push_back({n, {}, false});
  return f;
}

TEST(Occurrences, WholeWordCaseInsensitiveOnCraftedText) {
  const std::string text = "Q: x\nA: I also sent a letter. Wait, CHECK it. Let me check: so, Also wait.";
  const int64_t answer_begin = 5;
  const auto f = families({"wait", "check", "let", "so"});
  const auto occ = find_occurrences(text, answer_begin, int64_t(text.size()), f, word_offsets(text));
  std::vector<std::string> got;
  for (const auto& o : occ) got.push_back(f[size_t(o.family)].name + ":" + o.surface);
  // "also"/"Also" contain "so" inside a word; "letter" starts with "let": neither matches.
  EXPECT_EQ(got, (std::vector<std::string>{"wait:Wait", "check:CHECK", "let:Let", "check:check", "so:so", "wait:wait"}));
  // "Wait," is one token here: its span starts with the space before it (not before the word).
  const auto& w = occ[0];
  EXPECT_EQ(text.substr(size_t(w.char_begin), size_t(w.char_end - w.char_begin)), "Wait");
  EXPECT_EQ(w.tok_end - w.tok_begin, 1);
  EXPECT_FALSE(w.starts_before_word);
}

TEST(Occurrences, OnlyInsideTheAnswer) {
  const std::string text = "Wait for it. Answer: wait";
  const auto occ = find_occurrences(text, 13, int64_t(text.size()), families({"wait"}), word_offsets(text));
  ASSERT_EQ(occ.size(), 1u);
  EXPECT_EQ(occ[0].char_begin, 21);
}

TEST(Occurrences, MultiTokenWordAndTokenStartingBeforeTheWord) {
  // "therefore" split over two tokens; "(wait" is one token holding "(" before the word.
  const std::string text = "A: therefore (wait)";
  const std::vector<std::pair<int64_t, int64_t>> offsets = {{0, 2}, {2, 8}, {8, 12}, {12, 18}, {18, 19}};
  const auto occ = find_occurrences(text, 3, int64_t(text.size()), families({"therefore", "wait"}), offsets);
  ASSERT_EQ(occ.size(), 2u);
  EXPECT_EQ(occ[0].tok_begin, 1);
  EXPECT_EQ(occ[0].tok_end, 3);
  EXPECT_FALSE(occ[0].starts_before_word);
  EXPECT_EQ(occ[1].tok_begin, 3);
  EXPECT_EQ(occ[1].tok_end, 4);
  EXPECT_TRUE(occ[1].starts_before_word);
}

TEST(Occurrences, UnicodeLettersAreWordCharactersAndOffsetsAreCodePoints) {
  // "éwait" is not the word; "— wait" is. Offsets count code points (é and — are one each).
  const std::string text = "éwait — wait";
  const std::vector<std::pair<int64_t, int64_t>> offsets = {{0, 5}, {5, 7}, {7, 12}};
  const auto occ = find_occurrences(text, 0, 12, families({"wait"}), offsets);
  ASSERT_EQ(occ.size(), 1u);
  EXPECT_EQ(occ[0].char_begin, 8);
  EXPECT_EQ(occ[0].tok_begin, 2);
}

TEST(Family, IdSetIsCaseSpaceAndTrailingPunctuationInsensitive) {
  const std::vector<std::string> vocab = {"wait", " Wait", "WAIT", "\nWait", "Wait,", " waiting", "await", "wa", "it",
                                          "", " Wait!", "hmm"};
  const auto f = build_family("Wait", vocab, [](const std::string&) { return -1; });
  EXPECT_EQ(f.name, "wait");
  EXPECT_FALSE(f.prefix);
  EXPECT_EQ(f.token_ids, (std::vector<int32_t>{0, 1, 2, 3, 4, 10}));
}

TEST(Family, FallsBackToFirstTokensOfVariantsAndFlagsPrefix) {
  const std::vector<std::string> vocab = {"a", "ha", " a", "A", " A", "\n"};
  std::vector<std::string> asked;
  const auto f = build_family("aha", vocab, [&](const std::string& s) {
    asked.push_back(s);
    return s[0] == ' ' ? 2 : s[0] == '\n' ? 5 : s[0] == 'a' ? 0 : 3;
  });
  EXPECT_TRUE(f.prefix);
  // "\n" (id 5), the first token of the variants after a newline, does not begin the keyword.
  EXPECT_EQ(f.token_ids, (std::vector<int32_t>{0, 2, 3}));
  EXPECT_EQ(asked.size(), 9u);  // aha, Aha, AHA × "", " ", "\n"
}

// On Qwen2.5's vocabulary a phrase has no single-token form: its family holds the first tokens of
// "let me check", " Let me check", … and not "\n" (the tokenizer splits the newline off), which
// would make its propensity mostly P(newline).
TEST(Family, APhrasesPrefixFamilyOnARealVocabularyHoldsNoBareNewline) {
  const tok::Tokenizer t = tok::load_tokenizer(test::fixture("tokenizers/qwen2.5/tokenizer.json"));
  const auto f = build_families({"let me check"}, t)[0];
  EXPECT_TRUE(f.prefix);
  ASSERT_FALSE(f.token_ids.empty());
  for (const int32_t id : f.token_ids) {
    const std::string text = t.decode_token(id);
    EXPECT_NE(text.find_first_not_of(" \n\t"), std::string::npos) << "id " << id << " \"" << text << "\"";
    EXPECT_NE(fold_case(text).find("let"), std::string::npos) << "id " << id << " \"" << text << "\"";
  }
}

TEST(TextLayout, NotebookTemplateSpansAndThink) {
  const auto t = make_template("notebook");
  const auto l = apply_template(t, "1+1?", "<think>x</think> 2");
  EXPECT_EQ(l.text, "Query: 1+1?\nAnswer: <think>x</think> 2");
  EXPECT_EQ(l.answer_begin, 20);
  EXPECT_EQ(l.answer_end, 38);
  EXPECT_EQ(l.think_end, 36);
  // tokens: "Query: 1+1?\nAnswer:" | " <think>" | "x" | "</think>" | " 2"
  const auto spans = token_spans(l, {{0, 19}, {19, 27}, {27, 28}, {28, 36}, {36, 38}});
  EXPECT_EQ(spans, (std::vector<Span>{Span::Prompt, Span::Think, Span::Think, Span::Think, Span::AfterThink}));
}

TEST(TextLayout, CustomTemplateEscapesAndValidation) {
  const auto t = make_template("Q: {query}\\nA: {answer}");
  EXPECT_EQ(apply_template(t, "q", "a").text, "Q: q\nA: a");
  EXPECT_THROW(make_template("{answer} {query}"), std::exception);
  EXPECT_THROW(make_template("no placeholders"), std::exception);
}

std::string chat_template_of(const std::string& tokenizer) {
  std::ifstream f(test::fixture("tokenizers/" + tokenizer + "/tokenizer_config.json"));
  const auto j = nlohmann::json::parse(f);
  return j.at("chat_template").get<std::string>();
}

// The system message a chat template writes when a conversation has none, read from the
// templates of the fixtures' tokenizers (Qwen2.5 writes one, Qwen3 none, R1-Distill is not
// ChatML), and from the line Qwen2.5-Math's template has (its \\boxed escaped as in Jinja).
TEST(ChatTemplate, DefaultSystemMessageOfTheModelsOwnTemplate) {
  EXPECT_EQ(chatml_default_system(chat_template_of("qwen2.5")),
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_EQ(chatml_default_system(chat_template_of("qwen3")), "");
  EXPECT_EQ(chatml_default_system(chat_template_of("deepseek-r1-distill-qwen")), "");
  const std::string math = R"({%- else %}
        {{- '<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n' }})";
  EXPECT_EQ(chatml_default_system(math), "Please reason step by step, and put your final answer within \\boxed{}.");
  EXPECT_EQ(chatml_default_system(R"({{- "<|im_start|>system\nBe brief.<|im_end|>\n" }})"), "Be brief.");
  EXPECT_EQ(chatml_default_system(R"({{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }})"), "");
  EXPECT_EQ(chatml_default_system(""), "");
  // The user's turn follows the system turn, as apply_chat_template writes them.
  EXPECT_EQ(apply_template(chatml_template("S"), "q", "a").text,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\na");
  EXPECT_EQ(apply_template(chatml_template(), "q", "a").text, "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\na");
}

// R1-Distill's chat template (the fixture's, the revision of early 2025) opens the thinking in its
// generation prompt: '<｜Assistant｜><think>\n'. The earlier revision wrote '<｜Assistant｜>' alone.
TEST(ChatTemplate, R1GenerationPromptOpensTheThinkingWhereItsTemplateDoes) {
  EXPECT_TRUE(r1_prompt_opens_think(chat_template_of("deepseek-r1-distill-qwen")));
  EXPECT_FALSE(r1_prompt_opens_think(R"({% if add_generation_prompt %}{{'<｜Assistant｜>'}}{% endif %})"));
  EXPECT_FALSE(r1_prompt_opens_think(R"({{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}})"));
  EXPECT_FALSE(r1_prompt_opens_think(chat_template_of("qwen2.5")));
  EXPECT_FALSE(r1_prompt_opens_think(""));

  const std::string prompt = "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜>";
  const auto opened = apply_template(r1_template(true), "1+1?", "Two.</think> 2");
  EXPECT_EQ(opened.text, prompt + "<think>\nTwo.</think> 2");
  EXPECT_EQ(opened.answer_begin, 46 + 8);  // the "<think>\n" is the prompt's
  EXPECT_EQ(opened.think_end, 46 + 8 + 12);
  // A trace that opens its thinking itself is read as written, not with a second "<think>".
  const auto written = apply_template(r1_template(true), "1+1?", "<think>\nTwo.</think> 2");
  EXPECT_EQ(written.text, prompt + "<think>\nTwo.</think> 2");
  EXPECT_EQ(written.answer_begin, 46);
  EXPECT_EQ(apply_template(r1_template(false), "1+1?", "Two.").text, prompt + "Two.");
  // Only the R1 template's own opening is dropped: a custom pattern is written as given.
  EXPECT_EQ(apply_template(make_template("Q {query} A <think>\\n{answer}"), "q", "<think>a").text, "Q q A <think>\n<think>a");
}

}  // namespace
}  // namespace lsc::analysis
