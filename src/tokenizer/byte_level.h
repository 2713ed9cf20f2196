// GPT-2 byte-level alphabet: every byte 0..255 is shown as one printable code point, so BPE can
// work on strings of visible characters ("Ġ" is the byte 0x20). Used by the pre-tokenizer
// (bytes -> characters) and the decoder (characters -> bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lsc::tok {

// The code point that stands for byte b.
uint32_t byte_to_char(uint8_t b);

// The UTF-8 of byte_to_char(b) (1 or 2 bytes), precomputed.
std::string_view byte_to_char_utf8(uint8_t b);

// The byte that code point cp stands for, or -1 if cp is not in the byte-level alphabet.
int char_to_byte(uint32_t cp);

// Byte-level string of raw bytes ("Hello world" -> "HelloĠworld").
std::string bytes_to_byte_level(std::string_view bytes);

// Appends the raw bytes of a byte-level string to out. Returns false if a character is not in the
// alphabet (out may then hold part of the bytes; the caller truncates). `s` must be valid UTF-8.
bool byte_level_to_bytes(std::string_view s, std::string& out);

}  // namespace lsc::tok
