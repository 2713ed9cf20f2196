// Templates and token spans.
#include "analysis/text_layout.h"

#include <string_view>

#include "io/error.h"
#include "io/utf8.h"

namespace lsc::analysis {

const char* span_name(Span s) {
  switch (s) {
    case Span::Prompt: return "prompt";
    case Span::Answer: return "answer";
    case Span::Think: return "think";
    case Span::AfterThink: return "after_think";
  }
  return "?";
}

namespace {

constexpr const char* kQuery = "{query}";
constexpr const char* kAnswer = "{answer}";

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[i + 1];
      if (c == 'n' || c == 't' || c == '\\') {
        out += c == 'n' ? '\n' : c == 't' ? '\t' : '\\';
        ++i;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

Template make_template(const std::string& spec) {
  if (spec.empty() || spec == "notebook") return {"notebook", "Query: {query}\nAnswer: {answer}", true};
  Template t{"custom", unescape(spec), true};
  if (count_of(t.pattern, kQuery) != 1 || count_of(t.pattern, kAnswer) != 1 ||
      t.pattern.find(kQuery) > t.pattern.find(kAnswer)) {
    throw UsageError("--template: expected notebook, chat, or a pattern with {query} then {answer} once each, found \"" +
                     spec + "\"");
  }
  return t;
}

Template chatml_template(const std::string& system) {
  LSC_CHECK(system.find(kQuery) == std::string::npos && system.find(kAnswer) == std::string::npos);
  const std::string turn = system.empty() ? "" : "<|im_start|>system\n" + system + "<|im_end|>\n";
  return {"chatml", turn + "<|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n{answer}", false};
}

namespace {

// The string literals of a Jinja source that begin with `open` (as the source writes it, escapes
// and all), each up to its closing quote with Jinja's (Python's) escapes undone.
std::vector<std::string> literals_starting_with(const std::string& jinja, const std::string& open) {
  std::vector<std::string> out;
  for (size_t at = jinja.find(open); at != std::string::npos; at = jinja.find(open, at + 1)) {
    if (at == 0 || (jinja[at - 1] != '\'' && jinja[at - 1] != '"')) continue;  // not a literal's start
    const char quote = jinja[at - 1];
    std::string lit;
    bool closed = false;
    for (size_t i = at; i < jinja.size() && !closed; ++i) {
      const char c = jinja[i];
      if (c == quote) {
        closed = true;
      } else if (c == '\\' && i + 1 < jinja.size()) {
        const char e = jinja[++i];
        if (e == 'n') lit += '\n';
        else if (e == 't') lit += '\t';
        else if (e == 'r') lit += '\r';
        else if (e == '\\' || e == '\'' || e == '"') lit += e;
        else lit += std::string("\\") + e;  // not an escape: kept as written
      } else {
        lit += c;
      }
    }
    if (closed) out.push_back(std::move(lit));
  }
  return out;
}

constexpr std::string_view kThink = "<think>";
constexpr std::string_view kThinkOpening = "<think>\n";  // what R1-Distill's generation prompt ends with

}  // namespace

std::string chatml_default_system(const std::string& chat_template) {
  const std::string head = "<|im_start|>system\n", tail = "<|im_end|>\n";
  for (const std::string& lit : literals_starting_with(chat_template, "<|im_start|>system\\n")) {
    // '<|im_start|>system\n' + messages[0]['content'] + … has no text of its own: not this one.
    if (lit.size() > head.size() + tail.size() && lit.compare(lit.size() - tail.size(), tail.size(), tail) == 0) {
      return lit.substr(head.size(), lit.size() - head.size() - tail.size());
    }
  }
  return "";
}

bool r1_prompt_opens_think(const std::string& chat_template) {
  for (const std::string& lit : literals_starting_with(chat_template, "<｜Assistant｜>")) {
    if (lit == "<｜Assistant｜>" + std::string(kThinkOpening)) return true;
  }
  return false;
}

Template r1_template(bool opens_think) {
  const std::string opening(opens_think ? kThinkOpening : "");
  return {"r1", "<｜begin▁of▁sentence｜><｜User｜>{query}<｜Assistant｜>" + opening + "{answer}", false, opens_think};
}

TextLayout apply_template(const Template& t, const std::string& query, const std::string& answer) {
  const size_t q = t.pattern.find(kQuery);
  const size_t a = t.pattern.find(kAnswer);
  LSC_CHECK(q != std::string::npos && a != std::string::npos && q < a);
  std::string between = t.pattern.substr(q + 7, a - q - 7);
  if (t.think_opening && std::string_view(answer).starts_with(kThink)) {  // the trace opens its thinking itself
    LSC_CHECK(std::string_view(between).ends_with(kThinkOpening));
    between.resize(between.size() - kThinkOpening.size());
  }
  TextLayout l;
  l.text = t.pattern.substr(0, q) + query + between;
  l.answer_begin = io::count_code_points(l.text);
  l.text += answer;
  l.answer_end = l.answer_begin + io::count_code_points(answer);
  l.text += t.pattern.substr(a + 8);
  const size_t think = answer.find("</think>");
  if (think != std::string::npos) l.think_end = l.answer_begin + io::count_code_points(answer.substr(0, think + 8));
  return l;
}

std::vector<Span> token_spans(const TextLayout& l, const std::vector<std::pair<int64_t, int64_t>>& offsets) {
  std::vector<Span> spans;
  spans.reserve(offsets.size());
  for (const auto& [begin, end] : offsets) {
    Span s = Span::Prompt;
    if (end > l.answer_begin && end <= l.answer_end && end > begin) {
      s = l.think_end < 0 ? Span::Answer : end <= l.think_end ? Span::Think : Span::AfterThink;
    }
    spans.push_back(s);
  }
  return spans;
}

}  // namespace lsc::analysis
