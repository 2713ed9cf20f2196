// Unicode pieces the tokenizer needs: UTF-8 validation and decoding, the character classes of the
// Qwen split regex (\p{L}, \p{N}, \s) and NFC with an alignment back to the original bytes.
// Categories and normalization come from utf8proc (Debian libutf8proc); nothing here is ASCII-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lsc::tok {

// Byte offset of the first invalid UTF-8 sequence in s, or npos when s is valid. Rejects what
// Rust's str rejects: stray continuation bytes, truncated sequences, overlong forms, surrogates
// (U+D800..U+DFFF) and values above U+10FFFF. `why` (optional) says what was wrong.
size_t find_invalid_utf8(std::string_view s, std::string* why);

// Throws InputError("<what>", "byte N", "valid UTF-8", "<why>") if s is not valid UTF-8.
void check_utf8(std::string_view s, const std::string& what);

// Decodes the code point at p (s must be valid UTF-8); *n_bytes receives its length.
inline uint32_t decode_utf8(const unsigned char* p, size_t* n_bytes) {
  const uint32_t c = p[0];
  if (c < 0x80) {
    *n_bytes = 1;
    return c;
  }
  if (c < 0xE0) {
    *n_bytes = 2;
    return ((c & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (c < 0xF0) {
    *n_bytes = 3;
    return ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  *n_bytes = 4;
  return ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

void append_utf8(uint32_t cp, std::string& out);

// Number of code points in valid UTF-8.
int64_t count_code_points(std::string_view s);

// Class bits used by the pre-tokenizer regex. kSpace is Unicode White_Space (what Oniguruma's
// \s and Rust's char::is_whitespace match); kCrLf is set, together with kSpace, for '\r' and '\n'.
enum CharClass : uint8_t { kLetter = 1, kNumber = 2, kSpace = 4, kCrLf = 8 };
uint8_t char_class(uint32_t cp);                // general category L* -> kLetter, N* -> kNumber
uint8_t char_class_from_utf8proc(uint32_t cp);  // the same without the ASCII table (for tests)
bool is_white_space(uint32_t cp);

// Canonical combining class (0 for starters).
int combining_class(uint32_t cp);

// NFC of s with, for every byte of the normalized text, the original byte range [begin, end) of
// the character it belongs to. A character that NFC composes from several original characters
// (e + U+0301 -> é) gets the range from the first to the last of them, so no original byte is
// left without a token (Hugging Face tokenizers gives it the first original character only).
// Characters whose ranges interleave after canonical reordering share the union of their ranges.
struct NormalizedText {
  std::string text;                  // empty when identity: the input is already NFC
  bool identity = true;              // NFC(input) == input; text and the alignment are then empty
  std::vector<uint32_t> orig_begin;  // per normalized byte, offsets into the input
  std::vector<uint32_t> orig_end;
};
NormalizedText nfc_with_alignment(std::string_view s);
std::string nfc(std::string_view s);  // the same text without the alignment

}  // namespace lsc::tok
