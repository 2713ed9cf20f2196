// Byte-level BPE model: vocabulary, merge ranks and the merge loop for one pre-tokenized word.
// Merges are looked up in an open-addressing hash map keyed by the pair of token ids; the result
// is the classic rule (repeatedly merge the adjacent pair of lowest rank, leftmost first), which
// is what Hugging Face tokenizers computes. Caching of whole words lives in the tokenizer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lsc::tok {

class BpeModel {
 public:
  // Adds a vocabulary entry (byte-level string -> id). Returns false if the token is already there.
  bool add_token(std::string token, int32_t id);
  // Registers merge number `rank` of (left, right). Returns an empty string on success, else what
  // is wrong ("token 'x' is not in the vocabulary", "'ab' (the merged token) is not ...").
  std::string add_merge(std::string_view left, std::string_view right, int32_t rank);
  // After all tokens are added: checks that the 256 byte-level characters are in the vocabulary.
  // Returns the first missing one (as a byte-level string) or an empty string.
  std::string finish();

  void set_ignore_merges(bool v) { ignore_merges_ = v; }

  // Appends the ids of one word (raw bytes, not byte-level characters) to out. Words of up to
  // `max_small` bytes (at most kMaxSmall) use the quadratic scan, longer ones the heap; tests
  // pass 0 to check that both give the same ids.
  static constexpr size_t kMaxSmall = 64;
  void encode_word(std::string_view bytes, std::vector<int32_t>& out,
                   size_t max_small = kMaxSmall) const;

  int32_t token_to_id(std::string_view token) const;  // -1 if absent
  struct StringHash {  // lets find() take a string_view without building a std::string
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;
  const Vocab& vocab() const { return vocab_; }
  void reserve(size_t n_tokens) { vocab_.reserve(n_tokens); }
  size_t n_merges() const { return n_merges_; }

 private:
  struct MergeSlot {
    uint64_t key = kEmpty;  // (left id << 32) | right id
    int32_t rank = 0;
    int32_t merged = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  void insert_merge(uint64_t key, int32_t rank, int32_t merged);
  const MergeSlot* find_merge(int32_t left, int32_t right) const {
    const uint64_t key = (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
    size_t i = size_t((key * 0x9E3779B97F4A7C15ULL) >> shift_);
    for (;;) {
      const MergeSlot& s = slots_[i];
      if (s.key == key) return &s;
      if (s.key == kEmpty) return nullptr;
      i = (i + 1) & (slots_.size() - 1);
    }
  }
  void merge_small(std::vector<int32_t>& syms) const;
  void merge_large(std::vector<int32_t>& syms) const;

  Vocab vocab_;
  std::vector<MergeSlot> slots_ = std::vector<MergeSlot>(1024);
  int shift_ = 64 - 10;
  size_t n_merges_ = 0;
  int32_t byte_ids_[256] = {};
  bool ignore_merges_ = false;
};

}  // namespace lsc::tok
