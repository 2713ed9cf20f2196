// Encoding and decoding (see tokenizer.h). The pipeline, in Hugging Face's order:
//   added tokens (matched in the input) -> NFC -> added tokens marked `normalized` -> split regex
//   -> ByteLevel (bytes) -> BPE (with a word cache) -> post-processor (prefix/suffix ids).
// Offsets are tracked in input bytes throughout and turned into code points at the end.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include "io/error.h"
#include "tokenizer/unicode.h"

namespace lsc::tok {
namespace {

// Word (pre-token bytes) -> ids, per thread (so encode() takes no lock) and per tokenizer: a
// direct-mapped table of short words with their ids stored inline, overwritten on collision.
// Words longer than kMaxWord bytes or with more than kMaxIds tokens are not cached (they are rare
// and their BPE cost is dominated by the merge loop anyway).
struct WordCache {
  static constexpr size_t kSlots = 1 << 14;
  static constexpr size_t kMaxWord = 30;
  static constexpr size_t kMaxIds = 8;
  struct alignas(64) Slot {  // one cache line
    uint8_t len = 0xFF;  // 0xFF: empty
    uint8_t n_ids = 0;
    char word[kMaxWord];
    int32_t ids[kMaxIds];
  };
  static_assert(sizeof(Slot) == 64);
  uint64_t owner = 0;  // Tokenizer::instance_ this cache belongs to
  std::vector<Slot> slots;  // kSlots entries (1 MiB) once claimed by a tokenizer

  static uint64_t hash(std::string_view w) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ w.size();
    size_t i = 0;
    for (; i + 8 <= w.size(); i += 8) {
      uint64_t v;
      std::memcpy(&v, w.data() + i, 8);
      h = (h ^ v) * 0xFF51AFD7ED558CCDULL;
      h ^= h >> 32;
    }
    uint64_t v = 0;
    std::memcpy(&v, w.data() + i, w.size() - i);
    h = (h ^ v) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
  }
};

// The calling thread's caches, one per tokenizer it has used recently (a thread that alternates
// between two models' tokenizers keeps both warm).
WordCache& thread_cache(uint64_t owner) {
  thread_local std::array<WordCache, 4> caches;
  thread_local size_t next_victim = 0;
  for (WordCache& c : caches) {
    if (c.owner == owner) return c;
  }
  WordCache& c = caches[next_victim++ % caches.size()];
  c.owner = owner;
  c.slots.assign(WordCache::kSlots, WordCache::Slot{});
  return c;
}

std::atomic<uint64_t> g_next_instance{1};

}  // namespace

// A stretch of text: plain (id < 0) or one matched added token.
struct Tokenizer::Piece {
  uint32_t begin = 0, end = 0;
  int32_t id = -1;
};

Tokenizer::Tokenizer() : instance_(g_next_instance.fetch_add(1)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

const std::string& Tokenizer::id_to_token(int32_t id) const {
  static const std::string kNone;
  return id >= 0 && id < vocab_size() ? tokens_[size_t(id)] : kNone;
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  return id >= 0 && id < vocab_size() ? std::string_view(token_bytes_[size_t(id)])
                                      : std::string_view();
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  for (const AddedToken& a : added_) {
    if (a.content == token) return a.id;
  }
  return bpe_.token_to_id(token);
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[size_t(id)] != 0;
}

namespace {

bool is_word_char(uint32_t cp) {
  // Rust's char::is_alphanumeric (letters and numbers) plus '_', as HF's single_word check uses.
  return cp == '_' || (char_class(cp) & (kLetter | kNumber)) != 0;
}

uint32_t cp_before(std::string_view s, size_t i) {
  size_t k = i - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  size_t len;
  return decode_utf8(reinterpret_cast<const unsigned char*>(s.data()) + k, &len);
}

// An added token's string is the text it matched, which differs from its content only when
// lstrip/rstrip took whitespace; only then is the text stored.
void set_matched_text(Encoding& enc, std::string_view matched) {
  if (matched == enc.tokens.back()) return;
  if (!enc.matched_text) enc.matched_text = std::make_shared<std::deque<std::string>>();
  enc.matched_text->emplace_back(matched);
  enc.tokens.back() = enc.matched_text->back();
}

}  // namespace

// Splits text at added tokens of one set (matched in the input, or in the normalized text), as
// Hugging Face's leftmost-longest Aho-Corasick scan does, then applies single_word, lstrip and
// rstrip. Pieces cover text in order.
void Tokenizer::find_added(std::string_view text, bool normalized_set,
                           std::vector<Piece>& out) const {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const bool* first = added_first_byte_[normalized_set ? 1 : 0];
  size_t plain_begin = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!first[p[i]]) {
      ++i;
      continue;
    }
    // added_ is sorted by decreasing length, so the first hit is the longest at i.
    const AddedToken* hit = nullptr;
    for (const AddedToken& a : added_) {
      if (a.normalized == normalized_set && a.content.size() <= text.size() - i &&
          std::memcmp(p + i, a.content.data(), a.content.size()) == 0) {
        hit = &a;
        break;
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + hit->content.size();
    if (hit->single_word) {
      const bool left_ok = start == 0 || !is_word_char(cp_before(text, start));
      size_t len = 0;
      const bool right_ok = stop == text.size() || !is_word_char(decode_utf8(p + stop, &len));
      if (!left_ok || !right_ok) {  // not a whole word: leave it as text, resume after it
        i = stop;
        continue;
      }
    }
    if (hit->lstrip) {
      while (start > plain_begin && is_white_space(cp_before(text, start))) {
        --start;
        while (start > plain_begin && (p[start] & 0xC0) == 0x80) --start;
      }
    }
    if (hit->rstrip) {
      size_t len = 0;
      while (stop < text.size() && is_white_space(decode_utf8(p + stop, &len))) stop += len;
    }
    if (start > plain_begin) out.push_back({uint32_t(plain_begin), uint32_t(start), -1});
    out.push_back({uint32_t(start), uint32_t(stop), hit->id});
    plain_begin = i = stop;
  }
  if (plain_begin < text.size()) out.push_back({uint32_t(plain_begin), uint32_t(text.size()), -1});
}

void Tokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > WordCache::kMaxWord) {
    bpe_.encode_word(word, out);
    return;
  }
  WordCache& cache = thread_cache(instance_);
  WordCache::Slot& slot = cache.slots[WordCache::hash(word) & (WordCache::kSlots - 1)];
  if (slot.len == word.size() && std::memcmp(slot.word, word.data(), word.size()) == 0) {
    out.insert(out.end(), slot.ids, slot.ids + slot.n_ids);
    return;
  }
  const size_t before = out.size();
  bpe_.encode_word(word, out);
  const size_t n = out.size() - before;
  if (n <= WordCache::kMaxIds) {
    slot.len = uint8_t(word.size());
    slot.n_ids = uint8_t(n);
    std::memcpy(slot.word, word.data(), word.size());
    std::copy(out.begin() + long(before), out.end(), slot.ids);
  }
}

// Encodes one stretch of input without added tokens of the input set; `base` is its byte offset
// in the full input `whole`. Appends ids, tokens and input byte offsets.
void Tokenizer::encode_text(std::string_view whole, size_t base, size_t len, Encoding& enc) const {
  const std::string_view seg = whole.substr(base, len);
  NormalizedText norm;
  if (nfc_) norm = nfc_with_alignment(seg);
  const std::string_view ntext = norm.identity ? seg : std::string_view(norm.text);
  const auto* w = reinterpret_cast<const unsigned char*>(whole.data());

  // Input byte range of normalized bytes [nb, ne), widened to whole characters.
  auto push = [&](int32_t id, size_t nb, size_t ne) {
    size_t ob, oe;
    if (norm.identity) {
      ob = base + nb;
      oe = base + ne;
      while (ob > 0 && (w[ob] & 0xC0) == 0x80) --ob;
      while (oe < whole.size() && (w[oe] & 0xC0) == 0x80) ++oe;
    } else {
      ob = base + norm.orig_begin[nb];
      oe = base + norm.orig_end[ne - 1];
    }
    enc.ids.push_back(id);
    enc.tokens.push_back(token_view(id));
    enc.byte_offsets.emplace_back(int64_t(ob), int64_t(oe));
  };

  thread_local std::vector<Piece> subs;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> words;
  thread_local std::vector<int32_t> ids;
  subs.clear();
  if (has_normalized_added_) {
    find_added(ntext, true, subs);
  } else if (!ntext.empty()) {
    subs.push_back({0, uint32_t(ntext.size()), -1});
  }
  for (const Piece& sub : subs) {
    if (sub.id >= 0) {
      push(sub.id, sub.begin, sub.end);
      set_matched_text(enc, ntext.substr(sub.begin, sub.end - sub.begin));
      continue;
    }
    words.clear();
    split_pretokens(ntext.substr(sub.begin, sub.end - sub.begin), split_, words);
    for (const auto& [wb, we] : words) {
      ids.clear();
      encode_word(ntext.substr(sub.begin + wb, we - wb), ids);
      size_t at = sub.begin + wb;
      for (int32_t id : ids) {
        const size_t n = info_[size_t(id)].n_bytes;
        push(id, at, at + n);
        at += n;
      }
      LSC_CHECK(at == sub.begin + we);
    }
  }
}

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (text.size() > UINT32_MAX) {  // pieces hold 32-bit offsets
    throw InputError("input text", "", "at most 4 GiB", std::to_string(text.size()) + " bytes");
  }
  check_utf8(text, "input text");
  Encoding enc;
  enc.ids.reserve(text.size() / 3 + 8);
  enc.tokens.reserve(text.size() / 3 + 8);
  enc.byte_offsets.reserve(text.size() / 3 + 8);
  size_t n_prefix = 0;
  if (add_special_tokens) {
    for (size_t k = 0; k < prefix_ids_.size(); ++k) {
      enc.ids.push_back(prefix_ids_[k]);
      enc.tokens.push_back(prefix_tokens_[k]);
      enc.byte_offsets.emplace_back(0, 0);
    }
    n_prefix = prefix_ids_.size();
  }
  thread_local std::vector<Piece> pieces;
  pieces.clear();
  if (has_plain_added_) {
    find_added(text, false, pieces);
  } else if (!text.empty()) {
    pieces.push_back({0, uint32_t(text.size()), -1});
  }
  for (const Piece& piece : pieces) {
    if (piece.id >= 0) {
      enc.ids.push_back(piece.id);
      enc.tokens.push_back(token_view(piece.id));
      enc.byte_offsets.emplace_back(piece.begin, piece.end);
      set_matched_text(enc, text.substr(piece.begin, piece.end - piece.begin));
    } else {
      encode_text(text, piece.begin, piece.end - piece.begin, enc);
    }
  }
  const size_t n_body_end = enc.ids.size();
  if (add_special_tokens) {
    for (size_t k = 0; k < suffix_ids_.size(); ++k) {
      enc.ids.push_back(suffix_ids_[k]);
      enc.tokens.push_back(suffix_tokens_[k]);
      enc.byte_offsets.emplace_back(0, 0);
    }
  }

  // Byte offsets -> code point offsets. Starts and ends each move forward almost always, so two
  // cursors that step over the text (backwards if ever needed) cost O(text) in total.
  struct Cursor {
    const unsigned char* s;
    size_t byte = 0;
    int64_t cp = 0;
    int64_t at(size_t b) {
      while (byte < b) cp += (s[byte++] & 0xC0) != 0x80;
      while (byte > b) cp -= (s[--byte] & 0xC0) != 0x80;
      return cp;
    }
  };
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  Cursor starts{s}, ends{s};
  enc.offsets.resize(enc.ids.size());
  for (size_t k = n_prefix; k < n_body_end; ++k) {
    const auto [b, e] = enc.byte_offsets[k];
    enc.offsets[k] = {starts.at(size_t(b)), ends.at(size_t(e))};
  }
  return enc;
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      out.push_back(char(c));
      ++i;
      continue;
    }
    // Expected length and the allowed range of the second byte (Unicode Table 3-7).
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c == 0xE0) {
      len = 3;
      lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
      len = 3;
    else if (c == 0xED) {
      len = 3;
      hi = 0x9F;
    } else if (c == 0xF0) {
      len = 4;
      lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3)
      len = 4;
    else if (c == 0xF4) {
      len = 4;
      hi = 0x8F;
    }
    size_t k = 1;
    if (len > 0) {
      // Maximal subpart: the longest prefix of a well-formed sequence.
      for (; k < len && i + k < n; ++k) {
        const unsigned char b = p[i + k];
        const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) break;
      }
    }
    if (len > 0 && k == len) {
      out.append(bytes.substr(i, len));
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for the maximal subpart (at least one byte)
    }
    i += k;
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (size_t k = 0; k < ids.size(); ++k) {
    const int32_t id = ids[k];
    if (id < 0 || id >= vocab_size() || tokens_[size_t(id)].empty()) {
      throw InputError("ids", "item " + std::to_string(k + 1),
                       "a token id in [0, " + std::to_string(vocab_size()) + ") that has a token",
                       std::to_string(id));
    }
    if (skip_special_tokens && special_[size_t(id)]) continue;
    if (byte_level_decoder_) {
      bytes += token_bytes_[size_t(id)];
    } else {
      if (!bytes.empty()) bytes += ' ';  // no decoder: Hugging Face joins the tokens with spaces
      bytes += tokens_[size_t(id)];
    }
  }
  return utf8_lossy(bytes);
}

std::string Tokenizer::decode_token(int32_t id) const {
  if (id < 0 || id >= vocab_size() || tokens_[size_t(id)].empty()) return {};
  return utf8_lossy(byte_level_decoder_ ? token_bytes_[size_t(id)] : tokens_[size_t(id)]);
}

}  // namespace lsc::tok
