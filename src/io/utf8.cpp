#include "io/utf8.h"

#include <cstdio>
#include <cstring>

namespace lsc::io {

size_t find_invalid_utf8(std::string_view s, std::string* why, bool* truncated) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  if (truncated != nullptr) *truncated = false;
  auto fail = [&](const char* msg) {
    if (why != nullptr) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "byte 0x%02X (%s)", p[i], msg);
      *why = buf;
    }
    return i;
  };
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t min_cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      min_cp = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      min_cp = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      min_cp = 0x10000;
    } else if (c >= 0x80 && c <= 0xBF)
      return fail("a continuation byte where a character starts");
    else
      return fail("not a UTF-8 lead byte");
    if (i + len > n) {
      if (truncated != nullptr) *truncated = true;
      return fail("a multi-byte sequence cut off by the end of the text");
    }
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        return fail("a multi-byte sequence with a missing continuation byte");
    }
    size_t n_bytes;
    const uint32_t cp = decode_utf8(p + i, &n_bytes);
    if (cp < min_cp) return fail("an overlong encoding");
    if (cp >= 0xD800 && cp <= 0xDFFF) return fail("an encoded surrogate U+D800..U+DFFF");
    if (cp > 0x10FFFF) return fail("a value above U+10FFFF");
    i += len;
  }
  return std::string_view::npos;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int64_t count_code_points(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace lsc::io
