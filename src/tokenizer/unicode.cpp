// Character classes and NFC with alignment, and the throwing UTF-8 check (see unicode.h).
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "io/error.h"

namespace lsc::tok {

void check_utf8(std::string_view s, const std::string& what) {
  std::string why;
  const size_t at = find_invalid_utf8(s, &why);
  if (at != std::string_view::npos) {
    throw InputError(what, "byte " + std::to_string(at + 1), "valid UTF-8", why);  // from 1, as JSON errors count
  }
}


// Unicode White_Space (PropList.txt). Oniguruma's \s and Rust's char::is_whitespace are this
// set; note that U+001C..U+001F are not in it, and U+0085 and U+00A0 are.
bool is_white_space(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

namespace {

uint8_t class_from_category(uint32_t cp) {
  uint8_t c = 0;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      c = kLetter;
      break;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      c = kNumber;
      break;
    default:
      break;
  }
  if (is_white_space(cp)) c |= kSpace;
  if (cp == '\r' || cp == '\n') c |= kCrLf;
  return c;
}

// ASCII classes, fixed by the Unicode standard: letters Lu/Ll, digits Nd, White_Space \t..\r and
// space. (The unit tests check this table against utf8proc.)
constexpr std::array<uint8_t, 128> make_ascii_classes() {
  std::array<uint8_t, 128> v{};
  for (uint32_t c = 0; c < 128; ++c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) v[c] = kLetter;
    if (c >= '0' && c <= '9') v[c] = kNumber;
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) v[c] = kSpace;
    if (c == '\r' || c == '\n') v[c] = kSpace | kCrLf;
  }
  return v;
}
constexpr std::array<uint8_t, 128> kAsciiClasses = make_ascii_classes();

}  // namespace

uint8_t char_class(uint32_t cp) {
  if (cp < 128) return kAsciiClasses[cp];
  return class_from_category(cp);
}

uint8_t char_class_from_utf8proc(uint32_t cp) { return class_from_category(cp); }

int combining_class(uint32_t cp) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

namespace {

// A character before which NFC can be computed independently: a starter (ccc 0) that NFC leaves
// unchanged and that never combines with a preceding character (NFC_Quick_Check = Yes). Only
// ranges known to satisfy this are listed; any other character just takes the exact slow path.
bool is_nfc_boundary(uint32_t cp) {
  return cp < 0x300 || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0x3000 && cp <= 0x3029) || (cp >= 0xFF01 && cp <= 0xFF5E) ||
         (cp >= 0x1F300 && cp <= 0x1FAFF);
}

std::string utf8proc_nfc(std::string_view s) {
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  LSC_CHECK_MSG(n >= 0, "utf8proc_map failed on text that passed UTF-8 validation");
  std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

// Primary composite of (a, b), or 0 when they do not compose (utf8proc's composition step on a
// two-character buffer; it honours composition exclusions and Hangul syllables).
uint32_t compose_pair(uint32_t a, uint32_t b) {
  utf8proc_int32_t buf[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  const utf8proc_ssize_t n = utf8proc_normalize_utf32(
      buf, 2, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  return n == 1 ? static_cast<uint32_t>(buf[0]) : 0;
}

struct Tracked {
  uint32_t cp;
  uint32_t begin, end;  // original byte range this character came from
};

// NFC of one changed segment, character by character (canonical decomposition, canonical
// ordering, canonical composition; UAX #15), carrying the original byte range of each piece.
// Returns false if the result differs from `expect` (then the caller uses a coarser alignment).
bool nfc_tracked(std::string_view seg, uint32_t base, const std::string& expect,
                 std::vector<Tracked>& out) {
  std::vector<Tracked> d;
  const auto* p = reinterpret_cast<const unsigned char*>(seg.data());
  for (size_t i = 0; i < seg.size();) {
    size_t len;
    const uint32_t cp = decode_utf8(p + i, &len);
    utf8proc_int32_t buf[32];
    utf8proc_int32_t boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(
        static_cast<utf8proc_int32_t>(cp), buf, 32,
        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE), &boundclass);
    if (n < 0 || n > 32) return false;
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
      d.push_back({static_cast<uint32_t>(buf[k]), base + uint32_t(i), base + uint32_t(i + len)});
    }
    i += len;
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 1; i < d.size(); ++i) {
    const int c = combining_class(d[i].cp);
    if (c == 0) continue;
    size_t j = i;
    while (j > 0) {
      const int pc = combining_class(d[j - 1].cp);
      if (pc <= c) break;
      std::swap(d[j - 1], d[j]);
      --j;
    }
  }
  // Canonical composition.
  out.clear();
  long starter = -1;
  int last_class = -1;  // -1: the previous character is the starter itself (adjacent)
  for (const Tracked& t : d) {
    const int c = combining_class(t.cp);
    if (starter >= 0) {
      const bool blocked = last_class != -1 && (last_class == 0 || last_class >= c);
      if (!blocked) {
        const uint32_t comp = compose_pair(out[size_t(starter)].cp, t.cp);
        if (comp != 0) {
          Tracked& s = out[size_t(starter)];
          s.cp = comp;
          s.begin = std::min(s.begin, t.begin);
          s.end = std::max(s.end, t.end);
          continue;
        }
      }
    }
    if (c == 0) {
      starter = long(out.size());
      last_class = -1;
    } else {
      last_class = c;
    }
    out.push_back(t);
  }
  std::string got;
  for (const Tracked& t : out) append_utf8(t.cp, got);
  return got == expect;
}

}  // namespace

NormalizedText nfc_with_alignment(std::string_view s) {
  NormalizedText r;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  // Split at boundaries; segments made only of boundary characters are already NFC.
  size_t seg_begin = 0;
  bool dirty = false;
  std::vector<std::pair<size_t, size_t>> dirty_segments;
  for (size_t i = 0; i < n;) {
    if (p[i] < 0x80) {  // ASCII is a boundary; skip the whole ASCII run, 8 bytes at a time
      if (dirty) dirty_segments.emplace_back(seg_begin, i);
      dirty = false;
      size_t j = i + 1;
      for (uint64_t w; j + 8 <= n && (std::memcpy(&w, p + j, 8), (w & 0x8080808080808080ULL) == 0);)
        j += 8;
      while (j < n && p[j] < 0x80) ++j;
      seg_begin = j - 1;  // the run's last character starts the current segment
      i = j;
      continue;
    }
    size_t len;
    const uint32_t cp = decode_utf8(p + i, &len);
    if (is_nfc_boundary(cp)) {
      if (dirty) dirty_segments.emplace_back(seg_begin, i);
      dirty = false;
      seg_begin = i;
    } else {
      dirty = true;
    }
    i += len;
  }
  if (dirty) dirty_segments.emplace_back(seg_begin, n);

  // Normalize the dirty segments; most come back unchanged.
  std::vector<std::string> normalized(dirty_segments.size());
  bool changed = false;
  for (size_t k = 0; k < dirty_segments.size(); ++k) {
    const auto [b, e] = dirty_segments[k];
    normalized[k] = utf8proc_nfc(s.substr(b, e - b));
    changed = changed || normalized[k] != s.substr(b, e - b);
  }
  if (!changed) return r;  // identity: no copy

  r.identity = false;
  r.text.reserve(n);
  r.orig_begin.reserve(n);
  r.orig_end.reserve(n);
  auto copy_identity = [&](size_t b, size_t e) {
    for (size_t i = b; i < e;) {
      size_t len = 1;
      if (p[i] >= 0x80) decode_utf8(p + i, &len);
      for (size_t k = 0; k < len; ++k) {
        r.orig_begin.push_back(uint32_t(i));
        r.orig_end.push_back(uint32_t(i + len));
      }
      i += len;
    }
    r.text.append(s.substr(b, e - b));
  };
  size_t pos = 0;
  std::vector<Tracked> tracked;
  for (size_t k = 0; k < dirty_segments.size(); ++k) {
    const auto [b, e] = dirty_segments[k];
    copy_identity(pos, b);
    pos = e;
    const std::string_view seg = s.substr(b, e - b);
    if (normalized[k] == seg) {
      copy_identity(b, e);
      continue;
    }
    if (nfc_tracked(seg, uint32_t(b), normalized[k], tracked)) {
      // Canonical reordering can leave spans out of order (a + U+0301 + U+0323 -> ạ + U+0301);
      // characters whose spans interleave share the union of their spans.
      for (size_t g = 0; g < tracked.size();) {
        size_t h = g + 1;
        uint32_t lo = tracked[g].begin, hi = tracked[g].end;
        while (h < tracked.size() && tracked[h].begin < hi) {
          lo = std::min(lo, tracked[h].begin);
          hi = std::max(hi, tracked[h].end);
          ++h;
        }
        for (size_t q = g; q < h; ++q) tracked[q].begin = lo, tracked[q].end = hi;
        g = h;
      }
      for (const Tracked& t : tracked) {
        const size_t before = r.text.size();
        append_utf8(t.cp, r.text);
        for (size_t q = before; q < r.text.size(); ++q) {
          r.orig_begin.push_back(t.begin);
          r.orig_end.push_back(t.end);
        }
      }
    } else {
      // Fallback (not expected): every normalized character spans the whole segment.
      r.text += normalized[k];
      r.orig_begin.insert(r.orig_begin.end(), normalized[k].size(), uint32_t(b));
      r.orig_end.insert(r.orig_end.end(), normalized[k].size(), uint32_t(e));
    }
  }
  copy_identity(pos, n);
  return r;
}

std::string nfc(std::string_view s) {
  NormalizedText n = nfc_with_alignment(s);
  return n.identity ? std::string(s) : std::move(n.text);
}

}  // namespace lsc::tok
