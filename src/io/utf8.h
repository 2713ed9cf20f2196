// UTF-8: validation (the one validator of the project: the dataset reader and the tokenizer use
// it), decoding, encoding, counting code points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lsc::io {

// Byte offset of the first invalid UTF-8 sequence in s, or npos when s is valid. Rejects what
// Rust's str rejects: stray continuation bytes, truncated sequences, overlong forms, surrogates
// (U+D800..U+DFFF) and values above U+10FFFF. `why` (optional) says what was wrong; `truncated`
// (optional) whether the text ended inside a multi-byte sequence.
size_t find_invalid_utf8(std::string_view s, std::string* why, bool* truncated = nullptr);


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

}  // namespace lsc::io
