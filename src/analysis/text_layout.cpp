// Templates and token spans.
#include "analysis/text_layout.h"

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

std::string chatml_default_system(const std::string& chat_template) {
  const std::string head = "<|im_start|>system\n", tail = "<|im_end|>\n";
  const std::string open = "<|im_start|>system\\n";  // as the Jinja source writes it
  for (size_t at = chat_template.find(open); at != std::string::npos; at = chat_template.find(open, at + 1)) {
    if (at == 0 || (chat_template[at - 1] != '\'' && chat_template[at - 1] != '"')) continue;  // not a literal's start
    const char quote = chat_template[at - 1];
    // The literal up to its closing quote, with Jinja's (Python's) escapes undone.
    std::string lit;
    bool closed = false;
    for (size_t i = at; i < chat_template.size() && !closed; ++i) {
      const char c = chat_template[i];
      if (c == quote) {
        closed = true;
      } else if (c == '\\' && i + 1 < chat_template.size()) {
        const char e = chat_template[++i];
        if (e == 'n') lit += '\n';
        else if (e == 't') lit += '\t';
        else if (e == 'r') lit += '\r';
        else if (e == '\\' || e == '\'' || e == '"') lit += e;
        else lit += std::string("\\") + e;  // not an escape: kept as written
      } else {
        lit += c;
      }
    }
    // '<|im_start|>system\n' + messages[0]['content'] + … has no text of its own: not this one.
    if (closed && lit.size() > head.size() + tail.size() && lit.compare(lit.size() - tail.size(), tail.size(), tail) == 0) {
      return lit.substr(head.size(), lit.size() - head.size() - tail.size());
    }
  }
  return "";
}

Template r1_template() {
  return {"r1", "<｜begin▁of▁sentence｜><｜User｜>{query}<｜Assistant｜>{answer}", false};
}

TextLayout apply_template(const Template& t, const std::string& query, const std::string& answer) {
  const size_t q = t.pattern.find(kQuery);
  const size_t a = t.pattern.find(kAnswer);
  LSC_CHECK(q != std::string::npos && a != std::string::npos && q < a);
  TextLayout l;
  l.text = t.pattern.substr(0, q) + query + t.pattern.substr(q + 7, a - q - 7);
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
