// The byte-level alphabet tables (see byte_level.h).
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode.h"

namespace lsc::tok {
namespace {

struct Tables {
  std::array<uint32_t, 256> to_char{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 512> from_char{};  // every alphabet code point is below 0x144
  Tables() {
    // Printable bytes keep their own code point ('!'..'~', '¡'..'¬', '®'..'ÿ'); the other 68
    // bytes, in increasing order, take U+0100, U+0101, ...
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) to_char[size_t(b)] = printable(b) ? uint32_t(b) : next++;
    from_char.fill(-1);
    for (int b = 0; b < 256; ++b) {
      from_char[to_char[size_t(b)]] = int16_t(b);
      append_utf8(to_char[size_t(b)], to_utf8[size_t(b)]);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

std::string_view byte_to_char_utf8(uint8_t b) { return tables().to_utf8[b]; }

int char_to_byte(uint32_t cp) { return cp < 512 ? tables().from_char[cp] : -1; }

std::string bytes_to_byte_level(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.to_utf8[static_cast<uint8_t>(c)];
  return out;
}

bool byte_level_to_bytes(std::string_view s, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const uint32_t cp = decode_utf8(p + i, &len);
    const int b = char_to_byte(cp);
    if (b < 0) return false;
    out.push_back(static_cast<char>(b));
    i += len;
  }
  return true;
}

}  // namespace lsc::tok
