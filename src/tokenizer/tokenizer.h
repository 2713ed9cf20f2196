// Hugging Face tokenizer.json (byte-level BPE: Qwen2, Qwen2.5, Qwen3, DeepSeek-R1-Distill-Qwen)
// read into a Tokenizer that encodes text to the ids the model's own tokenizer produces, with
// character offsets, and decodes ids back to text. Only the pipeline pieces these files use are
// supported (NFC, the Qwen/Llama-3 split regex, ByteLevel, BPE, TemplateProcessing); any other
// piece is rejected with an InputError when the file is read, never silently approximated.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/pretokenize.h"

namespace lsc::tok {

// One entry of tokenizer.json's "added_tokens" (flags as Hugging Face defines them).
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;  // match only when no word character touches either end
  bool lstrip = false;       // the match takes the whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool normalized = false;   // matched in the normalized (NFC) text instead of the input
  bool special = false;      // skipped by decode(..., skip_special_tokens = true)
};

// The result of encode(). All vectors have one entry per token.
// Offsets are [start, end) in Unicode code points of the input (as Hugging Face's Python and
// Node bindings report them). Byte-level BPE can split one multi-byte character across tokens;
// each such token reports the span of the whole character, so neighbouring spans overlap there.
// A character that NFC composed from several input characters spans all of them. Tokens added
// by the post-processor (R1's begin-of-sentence) have the empty span [0, 0).
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::pair<int64_t, int64_t>> offsets;       // code points of the input
  std::vector<std::pair<int64_t, int64_t>> byte_offsets;  // bytes of the input, same rules
  // Token strings as Hugging Face reports them: byte-level ("Ġthe") for BPE tokens, the matched
  // text for added tokens (" <mask>" when lstrip took a space). Views into the Tokenizer (valid
  // while it lives) or into `matched_text` below (shared by copies of this Encoding).
  std::vector<std::string_view> tokens;
  std::shared_ptr<std::deque<std::string>> matched_text;
  size_t size() const { return ids.size(); }
};

// What tokenizer_config.json says, when the file is next to tokenizer.json (informational: the
// encoding itself follows tokenizer.json, as Hugging Face tokenizers does).
struct TokenizerConfig {
  bool present = false;
  std::string tokenizer_class;
  std::string bos_token, eos_token, pad_token;
  std::optional<bool> add_bos_token, add_eos_token;
  std::string chat_template;  // empty when absent or not a single string (else chat_template.jinja's)
};

class Tokenizer {
 public:
  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Encodes UTF-8 text as Hugging Face's `tokenizer.encode(text, add_special_tokens=...)` does:
  // added tokens written in the text are always matched; add_special_tokens only controls the
  // post-processor. Throws InputError("input text", "byte N", "valid UTF-8", ...) for invalid
  // UTF-8. Thread-safe: may be called concurrently (each thread keeps its own word cache).
  Encoding encode(std::string_view utf8, bool add_special_tokens = true) const;

  // Ids back to text through the decoder (ByteLevel): bytes that do not form valid UTF-8 become
  // U+FFFD, as Hugging Face does. Throws InputError for an id outside [0, vocab_size()) or one
  // with no token.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // decode({id}): the text of one token ("Ġthe" -> " the"; a partial UTF-8 character -> U+FFFD).
  // Returns "" for an id with no token.
  std::string decode_token(int32_t id) const;
  // The exact bytes one token stands for (may be part of a UTF-8 character). "" if none.
  std::string_view token_bytes(int32_t id) const;

  const std::string& id_to_token(int32_t id) const;   // "" for an id with no token
  int32_t token_to_id(std::string_view token) const;  // added tokens included; -1 if absent
  // One past the largest id (BPE vocabulary and added tokens): 151665 for Qwen2.5.
  int32_t vocab_size() const { return int32_t(tokens_.size()); }
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  bool is_special(int32_t id) const;
  // Ids the post-processor puts before / after the text when add_special_tokens is true.
  const std::vector<int32_t>& prefix_ids() const { return prefix_ids_; }
  const std::vector<int32_t>& suffix_ids() const { return suffix_ids_; }
  const TokenizerConfig& config() const { return config_; }
  const std::string& source() const { return source_; }  // path (or name) it was read from
  const BpeModel& bpe() const { return bpe_; }

 private:
  friend Tokenizer parse_tokenizer_json(std::string_view json, const std::string& where);
  friend Tokenizer load_tokenizer(const std::string& path_or_model_dir);
  struct Piece;

  void finish();  // builds the lookup tables once everything is read
  void encode_text(std::string_view whole, size_t base, size_t len, Encoding& enc) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void find_added(std::string_view text, bool normalized_set, std::vector<Piece>& out) const;

  std::string source_;
  BpeModel bpe_;
  bool nfc_ = false;
  SplitPattern split_;
  bool byte_level_decoder_ = true;
  std::vector<AddedToken> added_;
  // Compact per-id table for the encode loop (8 bytes per id, so it stays in cache): where the
  // token string sits in token_pool_, and how many input bytes the token stands for.
  struct TokenInfo {
    uint32_t pool_offset = 0;
    uint16_t pool_len = 0;
    uint16_t n_bytes = 0;
  };
  std::vector<TokenInfo> info_;
  std::string token_pool_;
  std::string_view token_view(int32_t id) const {
    const TokenInfo& t = info_[size_t(id)];
    return std::string_view(token_pool_).substr(t.pool_offset, t.pool_len);
  }
  std::vector<std::string> tokens_;       // by id; "" for a hole
  std::vector<std::string> token_bytes_;  // by id
  std::vector<uint8_t> special_;          // by id
  std::vector<int32_t> prefix_ids_, suffix_ids_;
  std::vector<std::string> prefix_tokens_, suffix_tokens_;
  bool has_normalized_added_ = false;
  bool has_plain_added_ = false;
  bool added_first_byte_[2][256] = {};  // [normalized][byte]: some added token starts with it
  TokenizerConfig config_;
  uint64_t instance_ = 0;  // identifies this tokenizer's per-thread word caches
};

// Reads tokenizer.json text. `where` names it in errors (a path). Throws InputError for text
// that is not JSON, a missing or unknown model, a merge naming an unknown token, or a pipeline
// piece this implementation does not support.
Tokenizer parse_tokenizer_json(std::string_view json, const std::string& where);

// A tokenizer.json path, or a model folder holding tokenizer.json (and, optionally,
// tokenizer_config.json, read into config()).
Tokenizer load_tokenizer(const std::string& path_or_model_dir);

// Hugging Face's String::from_utf8_lossy: each maximal invalid subsequence becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes);

}  // namespace lsc::tok
