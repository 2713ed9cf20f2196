// Shared helpers of the tokenizer tests: the three fixture tokenizers (loaded once), file and
// JSON readers that fail the test when a fixture is missing, and the offsets invariant.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "io/json.h"
#include "support/fixtures.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace lsc::test {

// Fixture folder name for the names the vector files use.
inline std::string tokenizer_dir(const std::string& name) {
  if (name == "qwen3") return "tokenizers/qwen3";
  if (name == "qwen2.5" || name == "qwen2.5-reconstructed") return "tokenizers/qwen2.5";
  if (name == "r1" || name == "r1-distill-qwen-reconstructed")
    return "tokenizers/deepseek-r1-distill-qwen";
  ADD_FAILURE() << "unknown tokenizer name " << name;
  return "tokenizers/qwen3";
}

// Loaded once per test binary (reading the 11 MB Qwen3 file takes a moment).
inline const tok::Tokenizer& fixture_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<tok::Tokenizer>> cache;
  const std::string dir = tokenizer_dir(name);
  auto it = cache.find(dir);
  if (it == cache.end()) {
    it = cache.emplace(dir, std::make_unique<tok::Tokenizer>(tok::load_tokenizer(fixture(dir))))
             .first;
  }
  return *it->second;
}

// Whole file; a missing file fails the calling test (fixtures are never optional).
inline std::string read_file_or_fail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture: " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<io::Json> read_jsonl_or_fail(const std::string& path) {
  std::vector<io::Json> out;
  std::istringstream lines(read_file_or_fail(path));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) out.push_back(io::Json::parse(line));
  }
  EXPECT_FALSE(out.empty()) << path;
  return out;
}

inline std::vector<int32_t> ids_of(const io::Json& a) { return a.get<std::vector<int32_t>>(); }

inline std::vector<std::string> tokens_of(const tok::Encoding& e) {
  return std::vector<std::string>(e.tokens.begin(), e.tokens.end());
}

// The offsets of an encoding (without post-processor tokens) cover the text in order: each span
// starts where the previous one ended, except where byte-level BPE split one multi-byte
// character, where both tokens report that character (an overlap of exactly one code point),
// and where NFC reordered combining marks so that two tokens share one span.
inline void expect_offsets_cover(const tok::Encoding& e, std::string_view text, size_t n_prefix,
                                 size_t n_suffix, const std::string& label) {
  const int64_t n_cp = tok::count_code_points(text);
  const size_t first = n_prefix, last = e.size() - n_suffix;
  if (first == last) {
    EXPECT_EQ(n_cp, 0) << label;
    return;
  }
  EXPECT_EQ(e.offsets[first].first, 0) << label;
  EXPECT_EQ(e.offsets[last - 1].second, n_cp) << label;
  for (size_t k = first; k < last; ++k) {
    const auto [s, t] = e.offsets[k];
    EXPECT_LT(s, t) << label << " token " << k;
    if (k == first) continue;
    const int64_t prev_end = e.offsets[k - 1].second;
    const bool adjacent = s == prev_end;
    const bool split_char = s == prev_end - 1 &&
                            e.byte_offsets[k].first < e.byte_offsets[k - 1].second &&
                            e.byte_offsets[k - 1].second - e.byte_offsets[k].first > 1;
    // Characters that NFC reordered and composed share one span (see unicode.h).
    const bool same_nfc_group = s == e.offsets[k - 1].first && t == prev_end;
    EXPECT_TRUE(adjacent || split_char || same_nfc_group)
        << label << " token " << k << ": [" << s << "," << t << ") after one ending at "
        << prev_end;
  }
}

}  // namespace lsc::test
