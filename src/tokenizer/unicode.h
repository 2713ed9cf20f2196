// Unicode pieces the tokenizer needs: UTF-8 validation and decoding, the character classes of the
// Qwen split regex (\p{L}, \p{N}, \s) and NFC with an alignment back to the original bytes.
// Categories and normalization come from utf8proc (Debian libutf8proc); nothing here is ASCII-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/utf8.h"

namespace lsc::tok {

// The UTF-8 primitives of io/utf8.h, by their names here.
using io::append_utf8;
using io::count_code_points;
using io::decode_utf8;
using io::find_invalid_utf8;

// Throws InputError("<what>", "byte N", "valid UTF-8", "<why>") if s is not valid UTF-8.
void check_utf8(std::string_view s, const std::string& what);

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
