// The Split pre-tokenizer of Qwen2/Qwen2.5/Qwen3 (and Llama 3) tokenizer.json files: a hand-written
// matcher for exactly this regex, with Oniguruma's leftmost-first backtracking semantics:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Llama 3 writes \p{N}{1,3} instead of \p{N}. Any other pattern is rejected when the file is read.
// It does not run a general regex engine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lsc::tok {

struct SplitPattern {
  int max_digits = 1;  // 1 for Qwen (\p{N}), 3 for Llama 3 (\p{N}{1,3})
};

// Recognizes the pattern string of a Split pre-tokenizer (as stored in tokenizer.json, after
// JSON unescaping). Returns false for any pattern this matcher does not implement.
bool parse_split_pattern(std::string_view regex, SplitPattern* out);

// Splits valid UTF-8 text into the regex matches (behaviour "Isolated": every byte belongs to
// exactly one piece, in order). Pieces are byte ranges [begin, end) of text, appended to pieces.
void split_pretokens(std::string_view text, const SplitPattern& pattern,
                     std::vector<std::pair<uint32_t, uint32_t>>& pieces);

}  // namespace lsc::tok
