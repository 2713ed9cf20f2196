// Fuzzes parse_tokenizer_json on tokenizer.json text. Bad input must end in an InputError; a
// tokenizer that parses must then encode and decode text without failing, since the tool uses
// whatever tokenizer.json the user points it at.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "io/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  lsc::tok::Tokenizer t;
  try {
    t = lsc::tok::parse_tokenizer_json(json, "fuzz/tokenizer.json");
  } catch (const lsc::InputError&) {
    return 0;
  } catch (const lsc::UsageError&) {
    return 0;
  }
  // Texts that reach every stage: words, digits, runs of spaces and newlines, NFC composition,
  // multi-byte characters, and the added tokens the seeds define.
  static constexpr std::string_view kTexts[] = {
      "Hello world, it's 2024!",
      "  \n\n  x\t12345  ",
      "e\xCC\x81 caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87",
      "\xF0\x9F\x8E\x89<|end|>x",
      "<|endoftext|><|im_start|>user\n<think>",
      "",
  };
  for (std::string_view text : kTexts) {
    for (bool add_special : {false, true}) {
      const lsc::tok::Encoding enc = t.encode(text, add_special);
      FUZZ_CHECK(enc.offsets.size() == enc.ids.size() && enc.tokens.size() == enc.ids.size());
      for (size_t k = 0; k < enc.size(); ++k) {
        FUZZ_CHECK(enc.ids[k] >= 0 && enc.ids[k] < t.vocab_size());
        const auto [b, e] = enc.byte_offsets[k];
        FUZZ_CHECK(0 <= b && b <= e && e <= int64_t(text.size()));
      }
      (void)t.decode(enc.ids, false);
      (void)t.decode(enc.ids, true);
    }
  }
  for (int32_t id = 0; id < t.vocab_size() && id < 512; ++id) {
    (void)t.decode_token(id);
    (void)t.token_to_id(t.id_to_token(id));
  }
  return 0;
}
