// Hand-written matcher for the Qwen / Llama 3 split regex (see pretokenize.h). Each alternative is
// tried in order at the current position, as a backtracking engine would, and the first that
// matches wins. Every character is matched by some alternative, so there are no gaps.
#include "tokenizer/pretokenize.h"

#include "tokenizer/unicode.h"

namespace lsc::tok {
namespace {

// The pattern as tokenizer.json stores it, with `\r\n` written as escapes (Qwen's files) or as
// the literal characters (some hub copies). `DIGITS` is \p{N} or \p{N}{1,3}.
std::string qwen_pattern(bool literal_crlf, const std::string& digits) {
  const std::string crlf = literal_crlf ? "\r\n" : "\\r\\n";
  return "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^" + crlf + "\\p{L}\\p{N}]?\\p{L}+|" + digits +
         "| ?[^\\s\\p{L}\\p{N}]+[" + crlf + "]*|\\s*[" + crlf + "]+|\\s+(?!\\S)|\\s+";
}

struct Chars {
  std::vector<uint32_t> cp;
  std::vector<uint8_t> cls;
  std::vector<uint32_t> byte_pos;  // byte offset of each character; one extra entry = text size
};

// ASCII case-insensitive letter of a contraction; Oniguruma's (?i) also folds U+017F (long s)
// to 's' (Unicode simple case folding), so "'ſ" matches like "'s".
uint32_t fold(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c == 0x17F) return 's';
  return c;
}

// End (character index, exclusive) of the match starting at i; always > i.
size_t match_at(const Chars& t, size_t i, int max_digits) {
  const size_t n = t.cp.size();
  const auto& cls = t.cls;
  auto is_letter = [&](size_t k) { return k < n && (cls[k] & kLetter); };
  auto is_other = [&](size_t k) {  // [^\s\p{L}\p{N}]
    return k < n && (cls[k] & (kSpace | kLetter | kNumber)) == 0;
  };

  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (t.cp[i] == '\'' && i + 1 < n) {
    const uint32_t a = fold(t.cp[i + 1]);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < n) {
      const uint32_t b = fold(t.cp[i + 2]);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (cls[i] & kLetter) {
    size_t j = i + 1;
    while (is_letter(j)) ++j;
    return j;
  }
  if ((cls[i] & (kCrLf | kNumber)) == 0 && is_letter(i + 1)) {
    size_t j = i + 2;
    while (is_letter(j)) ++j;
    return j;
  }
  // \p{N} (or \p{N}{1,3}, greedy)
  if (cls[i] & kNumber) {
    size_t j = i + 1;
    while (j < n && j - i < size_t(max_digits) && (cls[j] & kNumber)) ++j;
    return j;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  {
    size_t k = i;
    if (t.cp[i] == ' ' && is_other(i + 1)) k = i + 1;
    if (is_other(k)) {
      size_t j = k + 1;
      while (is_other(j)) ++j;
      while (j < n && (cls[j] & kCrLf)) ++j;
      return j;
    }
  }
  // What is left starts with whitespace (every other character matched above).
  size_t end = i;
  size_t last_crlf = n;  // none
  while (end < n && (cls[end] & kSpace)) {
    if (cls[end] & kCrLf) last_crlf = end;
    ++end;
  }
  // \s*[\r\n]+ : \s* backtracks to the last CR/LF of the run, [\r\n]+ then takes just that one.
  if (last_crlf != n) return last_crlf + 1;
  // \s+(?!\S) : the whole run at the end of the text, else the run minus its last character.
  if (end == n) return end;
  if (end - 1 > i) return end - 1;
  // \s+
  return end;
}

}  // namespace

bool parse_split_pattern(std::string_view regex, SplitPattern* out) {
  for (bool literal : {false, true}) {
    for (int digits : {1, 3}) {
      if (regex == qwen_pattern(literal, digits == 1 ? "\\p{N}" : "\\p{N}{1,3}")) {
        out->max_digits = digits;
        return true;
      }
    }
  }
  return false;
}

void split_pretokens(std::string_view text, const SplitPattern& pattern,
                     std::vector<std::pair<uint32_t, uint32_t>>& pieces) {
  thread_local Chars t;
  t.cp.clear();
  t.cls.clear();
  t.byte_pos.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    const uint32_t cp = p[i] < 0x80 ? p[i] : decode_utf8(p + i, &len);
    t.cp.push_back(cp);
    t.cls.push_back(char_class(cp));
    t.byte_pos.push_back(uint32_t(i));
    i += len;
  }
  t.byte_pos.push_back(uint32_t(text.size()));
  for (size_t i = 0; i < t.cp.size();) {
    const size_t j = match_at(t, i, pattern.max_digits);
    pieces.emplace_back(t.byte_pos[i], t.byte_pos[j]);
    i = j;
  }
}

}  // namespace lsc::tok
