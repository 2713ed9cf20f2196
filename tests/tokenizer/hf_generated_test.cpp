// The tokenizer against vectors generated with Hugging Face tokenizers 0.22.2 (npm
// @anush008/tokenizers) by tests/data/tokenizer/make_vectors.mjs: offsets for every edge string,
// pseudo-random strings, and tokenizer variants with each AddedToken flag and Llama 3's digit rule.
#include <gtest/gtest.h>

#include "io/paths.h"
#include "tokenizer_test_util.h"

namespace lsc::test {
namespace {

// A fixture tokenizer with a variant from variants.json applied, as make_vectors.mjs applies it.
const tok::Tokenizer& variant_tokenizer(const std::string& name, const std::string& variant) {
  static std::map<std::string, std::unique_ptr<tok::Tokenizer>> cache;
  auto it = cache.find(variant);
  if (it != cache.end()) return *it->second;
  const io::Json variants =
      io::Json::parse(read_file_or_fail(test_data("tokenizer/variants.json")));
  const io::Json& v = variants.at(variant);
  EXPECT_EQ(v.at("base").get<std::string>(), name);
  io::Json j =
      io::Json::parse(io::read_text_file(fixture(tokenizer_dir(name) + "/tokenizer.json")));
  if (v.contains("added_tokens")) {
    for (const io::Json& a : v.at("added_tokens")) j["added_tokens"].push_back(a);
  }
  if (v.contains("regex"))
    j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = v.at("regex");
  if (v.contains("ignore_merges")) j["model"]["ignore_merges"] = v.at("ignore_merges");
  auto t = std::make_unique<tok::Tokenizer>(tok::parse_tokenizer_json(j.dump(), variant));
  return *cache.emplace(variant, std::move(t)).first->second;
}

TEST(HfGenerated, IdsTokensDecodedAndOffsetsMatch) {
  const auto records = read_jsonl_or_fail(test_data("tokenizer/hf_reference_vectors.jsonl"));
  ASSERT_EQ(records.size(), 1102u);
  int n_nfc_changed = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const io::Json& r = records[i];
    const std::string name = r.at("tokenizer");
    const tok::Tokenizer& t = r.at("variant").is_null() ? fixture_tokenizer(name)
                                                        : variant_tokenizer(name, r.at("variant"));
    const std::string text = r.at("text");
    const bool add = r.at("add_special_tokens");
    const std::string label =
        "record " + std::to_string(i + 1) + " (" + name + ", \"" + text.substr(0, 40) + "\")";
    const tok::Encoding e = t.encode(text, add);
    EXPECT_EQ(e.ids, ids_of(r.at("ids"))) << label;
    EXPECT_EQ(tokens_of(e), r.at("tokens").get<std::vector<std::string>>()) << label;
    EXPECT_EQ(t.decode(e.ids), r.at("decoded").get<std::string>()) << label;
    std::vector<std::pair<int64_t, int64_t>> want;
    for (const io::Json& o : r.at("offsets"))
      want.emplace_back(o.at(0).get<int64_t>(), o.at(1).get<int64_t>());
    if (tok::nfc(text) == text) {
      EXPECT_EQ(e.offsets, want) << label;
    } else {
      // NFC composed characters: HF gives a composed character the span of its first original
      // character only; we give it the span of all the characters it came from. Our span
      // always contains HF's.
      ++n_nfc_changed;
      ASSERT_EQ(e.offsets.size(), want.size()) << label;
      for (size_t k = 0; k < want.size(); ++k) {
        EXPECT_LE(e.offsets[k].first, want[k].first) << label << " token " << k;
        EXPECT_GE(e.offsets[k].second, want[k].second) << label << " token " << k;
      }
    }
    // (lstrip/rstrip tokens of the `flags` variant swallow whitespace, so no round trip there.)
    if (r.at("variant").is_null()) {
      if (!add) {
        EXPECT_EQ(t.decode(e.ids), tok::nfc(text)) << label;
      }
      expect_offsets_cover(e, text, add ? t.prefix_ids().size() : 0,
                           add ? t.suffix_ids().size() : 0, label);
    }
  }
  EXPECT_GT(n_nfc_changed, 10) << "the vectors exercise NFC composition";
}

}  // namespace
}  // namespace lsc::test
