// Keyword families (DESIGN §2): the token-id set used for propensity, and whole-word,
// case-insensitive occurrences in the answer text mapped to the tokens that cover them.
// Knows token texts and offsets (build_families reads them from a tokenizer), not the model.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace lsc::tok {
class Tokenizer;
}

namespace lsc::analysis {

// The default families, in report order.
const std::vector<std::string>& default_keywords();

struct KeywordFamily {
  std::string name;                // the keyword, lower case ("wait")
  std::vector<int32_t> token_ids;  // ids whose text is the keyword up to case, leading space, trailing punctuation
  bool prefix = false;             // no single-token form: ids are first tokens of variants (upper bound)
};

// Lower-cases a UTF-8 string by Unicode simple case mapping (utf8proc).
std::string fold_case(const std::string& s);

// token_texts[id] is the decoded text of id ("" when the id has none, e.g. padded rows).
// encode_first(s) returns the first token id of s tokenized alone (for the prefix fallback).
KeywordFamily build_family(const std::string& keyword, std::span<const std::string> token_texts,
                           const std::function<int32_t(const std::string&)>& encode_first);
// The families of `keywords` under a tokenizer's vocabulary (decoded once for all of them).
std::vector<KeywordFamily> build_families(const std::vector<std::string>& keywords, const tok::Tokenizer& tokenizer);

struct Occurrence {
  int family = 0;
  std::string surface;              // as written in the answer ("Wait")
  int64_t char_begin = 0, char_end = 0;  // code points in the full text, end exclusive
  int64_t tok_begin = 0, tok_end = 0;    // tokens covering the word, end exclusive
  bool starts_before_word = false;  // the first token also holds non-space text before the word
};

// Whole-word, case-insensitive matches of each family's keyword inside [answer_begin, answer_end)
// of `text` (a letter or digit on either side means no match), with the covering token span from
// the tokenizer offsets (code points). Sorted by position, then family.
std::vector<Occurrence> find_occurrences(const std::string& text, int64_t answer_begin, int64_t answer_end,
                                         const std::vector<KeywordFamily>& families,
                                         const std::vector<std::pair<int64_t, int64_t>>& offsets);

}  // namespace lsc::analysis
