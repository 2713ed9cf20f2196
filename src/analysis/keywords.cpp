// Keyword family sets and occurrence matching with Unicode categories from utf8proc.
#include "analysis/keywords.h"

#include <utf8proc.h>

#include <algorithm>
#include <set>

#include "io/error.h"
#include "tokenizer/tokenizer.h"

namespace lsc::analysis {

namespace {

std::vector<int32_t> decode_utf8(const std::string& s) {
  std::vector<int32_t> cps;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t i = 0, n = static_cast<utf8proc_ssize_t>(s.size());
  while (i < n) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &cp);
    if (len <= 0) {  // invalid byte (partial character of a byte-level token): keep a placeholder
      cp = 0xFFFD;
      len = 1;
    }
    cps.push_back(cp);
    i += len;
  }
  return cps;
}

std::string encode_utf8(const std::vector<int32_t>& cps) {
  std::string out;
  for (int32_t cp : cps) {
    utf8proc_uint8_t buf[4];
    const auto n = utf8proc_encode_char(cp, buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  }
  return out;
}

bool is_letter_or_digit(int32_t cp) {
  const auto c = utf8proc_category(cp);
  return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) || (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

bool is_punct(int32_t cp) {
  const auto c = utf8proc_category(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool is_space(int32_t cp) {
  const auto c = utf8proc_category(cp);
  return cp == '\n' || cp == '\t' || cp == '\r' || c == UTF8PROC_CATEGORY_ZS;
}

}  // namespace

const std::vector<std::string>& default_keywords() {
  static const std::vector<std::string> k = {"wait", "aha", "check", "think", "hmm",
                                             "let", "actually", "however", "so", "therefore"};
  return k;
}

std::string fold_case(const std::string& s) {
  auto cps = decode_utf8(s);
  for (auto& cp : cps) cp = utf8proc_tolower(cp);
  return encode_utf8(cps);
}

KeywordFamily build_family(const std::string& keyword, std::span<const std::string> token_texts,
                           const std::function<int32_t(const std::string&)>& encode_first) {
  KeywordFamily f;
  f.name = fold_case(keyword);
  for (size_t id = 0; id < token_texts.size(); ++id) {
    const std::string& t = token_texts[id];
    if (t.empty() || t.size() > f.name.size() + 16) continue;
    auto cps = decode_utf8(t);
    size_t b = 0, e = cps.size();
    while (b < e && is_space(cps[b])) ++b;
    while (e > b && is_punct(cps[e - 1])) --e;
    if (e == b) continue;
    std::vector<int32_t> core(cps.begin() + static_cast<long>(b), cps.begin() + static_cast<long>(e));
    for (auto& cp : core) cp = utf8proc_tolower(cp);
    if (encode_utf8(core) == f.name) f.token_ids.push_back(static_cast<int32_t>(id));
  }
  if (f.token_ids.empty()) {
    // No single-token form: the first token of each variant's tokenization (an upper bound on the
    // probability that the keyword starts next). A first token that is only the variant's leading
    // space or newline (a tokenizer that splits "\nlet" into "\n" + "let") does not begin the
    // keyword: the keyword begins at the next token, which the variant without the lead gives.
    f.prefix = true;
    auto cps = decode_utf8(f.name);
    std::vector<int32_t> cap = cps, up = cps;
    if (!cap.empty()) cap[0] = utf8proc_toupper(cap[0]);
    for (auto& cp : up) cp = utf8proc_toupper(cp);
    std::set<int32_t> ids;
    for (const std::string& form : {f.name, encode_utf8(cap), encode_utf8(up)}) {
      for (const char* lead : {"", " ", "\n"}) {
        const int32_t id = encode_first(lead + form);
        if (id < 0 || static_cast<size_t>(id) >= token_texts.size()) continue;
        const auto text = decode_utf8(token_texts[static_cast<size_t>(id)]);
        if (std::all_of(text.begin(), text.end(), [](int32_t cp) { return is_space(cp); })) continue;
        ids.insert(id);
      }
    }
    f.token_ids.assign(ids.begin(), ids.end());
  }
  return f;
}

std::vector<KeywordFamily> build_families(const std::vector<std::string>& keywords, const tok::Tokenizer& tokenizer) {
  std::vector<std::string> texts(static_cast<size_t>(tokenizer.vocab_size()));
  for (size_t id = 0; id < texts.size(); ++id) texts[id] = tokenizer.decode_token(static_cast<int32_t>(id));
  const auto first = [&](const std::string& s) {
    const auto e = tokenizer.encode(s, false);
    return e.ids.empty() ? -1 : e.ids[0];
  };
  std::vector<KeywordFamily> out;
  for (const auto& k : keywords) out.push_back(build_family(k, texts, first));
  return out;
}

std::vector<Occurrence> find_occurrences(const std::string& text, int64_t answer_begin, int64_t answer_end,
                                         const std::vector<KeywordFamily>& families,
                                         const std::vector<std::pair<int64_t, int64_t>>& offsets) {
  const auto cps = decode_utf8(text);
  std::vector<int32_t> folded(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) folded[i] = utf8proc_tolower(cps[i]);
  std::vector<Occurrence> out;
  for (size_t f = 0; f < families.size(); ++f) {
    const auto key = decode_utf8(families[f].name);
    if (key.empty()) continue;
    const int64_t klen = static_cast<int64_t>(key.size());
    for (int64_t i = answer_begin; i + klen <= answer_end; ++i) {
      if (!std::equal(key.begin(), key.end(), folded.begin() + i)) continue;
      // Whole word: no letter or digit right before or after (inside or outside the answer).
      if (i > 0 && is_letter_or_digit(cps[size_t(i - 1)])) continue;
      if (i + klen < static_cast<int64_t>(cps.size()) && is_letter_or_digit(cps[size_t(i + klen)])) continue;
      Occurrence o;
      o.family = static_cast<int>(f);
      o.surface = encode_utf8(std::vector<int32_t>(cps.begin() + i, cps.begin() + i + klen));
      o.char_begin = i;
      o.char_end = i + klen;
      // Covering tokens: every token whose span overlaps [i, i + klen).
      o.tok_begin = -1;
      for (size_t t = 0; t < offsets.size(); ++t) {
        const auto [b, e] = offsets[t];
        if (e > i && b < i + klen) {
          if (o.tok_begin < 0) o.tok_begin = static_cast<int64_t>(t);
          o.tok_end = static_cast<int64_t>(t) + 1;
        }
      }
      if (o.tok_begin < 0) continue;  // truncated away: the word's tokens are not in the sequence
      const int64_t first_begin = offsets[size_t(o.tok_begin)].first;
      for (int64_t c = first_begin; c < i; ++c) o.starts_before_word |= !is_space(cps[size_t(c)]);
      out.push_back(std::move(o));
    }
  }
  std::sort(out.begin(), out.end(), [](const Occurrence& a, const Occurrence& b) {
    return a.char_begin != b.char_begin ? a.char_begin < b.char_begin : a.family < b.family;
  });
  return out;
}

}  // namespace lsc::analysis
