// How a record becomes the text a model reads: a template places query and answer, and every
// token gets a span (prompt / answer / think / after-think) from its character offsets
// (DESIGN §2 "Text and spans"). Positions are in Unicode code points, as tokenizer offsets are.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lsc::analysis {

enum class Span : uint8_t { Prompt = 0, Answer = 1, Think = 2, AfterThink = 3 };
const char* span_name(Span s);  // "prompt", "answer", "think", "after_think"
inline bool in_answer(Span s) { return s != Span::Prompt; }

// A template with {query} and {answer} placeholders, each exactly once, query first.
struct Template {
  std::string name;     // "notebook", "chatml", "r1", or "custom"
  std::string pattern;  // e.g. "Query: {query}\nAnswer: {answer}"
  bool add_special_tokens = true;  // encode() with the post-processor (BOS for R1-Distill)
  // The pattern ends its prompt with the "<think>\n" of the model's generation prompt (newer
  // R1-Distill templates write it); an answer that itself begins with "<think>" is read as
  // written, without it.
  bool think_opening = false;
};

// "notebook" (the default: "Query: {query}\nAnswer: {answer}"), or a custom pattern in which the
// escapes \n, \t and \\ are interpreted. Throws UsageError for a pattern without both placeholders.
Template make_template(const std::string& spec);
// Chat templates as the model's tokenizer_config writes them (text only, no generation prompt):
// Qwen: [<|im_start|>system\n{system}<|im_end|>\n]<|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n{answer},
// the system turn where `system` is not empty (its text is taken as is: no placeholders in it).
Template chatml_template(const std::string& system = "");
// DeepSeek-R1-Distill: <｜begin▁of▁sentence｜><｜User｜>{query}<｜Assistant｜>[<think>\n]{answer}, with the
// "<think>\n" where the model's chat template opens the thinking in its generation prompt.
Template r1_template(bool opens_think = false);

// The system message a ChatML chat template (Jinja source: tokenizer_config.json's chat_template,
// or chat_template.jinja) writes when a conversation has none — its string literal
// '<|im_start|>system\n…<|im_end|>\n' (or double-quoted) with the escapes undone: Qwen2.5's "You are Qwen, created by Alibaba Cloud. You are a helpful
// assistant.", Qwen2.5-Math's "Please reason step by step, …"; empty where it writes none (Qwen3).
std::string chatml_default_system(const std::string& chat_template);
// Whether an R1-Distill chat template's generation prompt is '<｜Assistant｜><think>\n' (the
// templates since early 2025) rather than '<｜Assistant｜>' alone.
bool r1_prompt_opens_think(const std::string& chat_template);

struct TextLayout {
  std::string text;                  // UTF-8, what the tokenizer reads
  int64_t answer_begin = 0;          // code points: the answer is [answer_begin, answer_end)
  int64_t answer_end = 0;
  int64_t think_end = -1;            // code point just after "</think>" in the answer, or -1
};

TextLayout apply_template(const Template& t, const std::string& query, const std::string& answer);

// A token belongs to the answer if its character span ends inside the answer; within an answer
// that contains "</think>", tokens ending at or before the end of "</think>" are Think, the rest
// AfterThink. Special tokens with an empty span at 0 are Prompt.
std::vector<Span> token_spans(const TextLayout& layout, const std::vector<std::pair<int64_t, int64_t>>& offsets);

}  // namespace lsc::analysis
