// Fuzzes Tokenizer::encode and decode of a real tokenizer (Qwen2.5's, from data/demo) on
// arbitrary bytes. encode documents an InputError for invalid UTF-8 and nothing else; for valid
// UTF-8, byte-level BPE is lossless up to the NFC normalizer, so decode(encode(s)) must give
// back NFC(s) when no added token is matched, and s itself when s is already NFC. decode of any
// ids must return valid UTF-8 or an InputError for an id with no token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "io/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

std::unique_ptr<lsc::tok::Tokenizer> g_tok;
bool g_nfc = false;  // the tokenizer's normalizer is NFC

bool has_added_token(std::string_view text) {
  for (const lsc::tok::AddedToken& a : g_tok->added_tokens()) {
    if (text.find(a.content) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("LSC_FUZZ_TOKENIZER");
  const std::string path = env != nullptr && *env != '\0' ? env : LSC_FUZZ_TOKENIZER_DEFAULT;
  g_tok = std::make_unique<lsc::tok::Tokenizer>(lsc::tok::load_tokenizer(path));
  // e + U+0301 comes back as é only through NFC.
  const std::string decomposed = "e\xCC\x81";
  g_nfc = g_tok->decode(g_tok->encode(decomposed, false).ids) == "\xC3\xA9";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = lsc::tok::find_invalid_utf8(text, nullptr) == std::string_view::npos;
  lsc::tok::Encoding enc;
  try {
    enc = g_tok->encode(text, false);
  } catch (const lsc::InputError&) {
    FUZZ_CHECK(!valid);  // the one documented error
    enc = {};
  }
  if (valid) {
    FUZZ_CHECK(enc.offsets.size() == enc.ids.size());
    // Spans may overlap and, where NFC reorders combining marks, go backwards; they stay inside
    // the input.
    for (size_t k = 0; k < enc.size(); ++k) {
      const auto [b, e] = enc.byte_offsets[k];
      FUZZ_CHECK(0 <= b && b <= e && e <= int64_t(size));
      FUZZ_CHECK(enc.ids[k] >= 0 && enc.ids[k] < g_tok->vocab_size());
    }
    const std::string back = g_tok->decode(enc.ids);
    if (!has_added_token(text)) {
      FUZZ_CHECK(back == (g_nfc ? lsc::tok::nfc(text) : std::string(text)));
    } else if (!g_nfc || lsc::tok::nfc(text) == text) {
      FUZZ_CHECK(back == text);
    }
  }
  // The same bytes read as token ids (little-endian int32, a few out of range on purpose).
  std::vector<int32_t> ids(size / 4);
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * 4);
  for (int32_t& id : ids) id = int32_t(uint32_t(id) % uint32_t(g_tok->vocab_size() + 16));
  try {
    const std::string out = g_tok->decode(ids);
    FUZZ_CHECK(lsc::tok::find_invalid_utf8(out, nullptr) == std::string_view::npos);
  } catch (const lsc::InputError&) {
  }
  return 0;
}
