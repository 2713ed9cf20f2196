// BPE merge loop (see bpe.h). Two implementations of the same rule: a quadratic scan for short
// words (almost all of them) and a heap over a linked list for long ones (runs of spaces, long
// digit-free strings), so a pathological word costs O(n log n), not O(n^2).
#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <queue>

#include "io/error.h"
#include "tokenizer/byte_level.h"

namespace lsc::tok {

bool BpeModel::add_token(std::string token, int32_t id) {
  return vocab_.emplace(std::move(token), id).second;
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

void BpeModel::insert_merge(uint64_t key, int32_t rank, int32_t merged) {
  if ((n_merges_ + 1) * 2 > slots_.size()) {  // keep the load factor at most 1/2
    std::vector<MergeSlot> old = std::move(slots_);
    slots_.assign(old.size() * 2, MergeSlot{});
    --shift_;
    const size_t keep = n_merges_;
    n_merges_ = 0;
    for (const MergeSlot& s : old) {
      if (s.key != kEmpty) insert_merge(s.key, s.rank, s.merged);
    }
    LSC_CHECK(n_merges_ == keep);
  }
  size_t i = size_t((key * 0x9E3779B97F4A7C15ULL) >> shift_);
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) {  // a repeated merge takes its last rank, as HF's map build does
      slots_[i].rank = rank;
      slots_[i].merged = merged;
      return;
    }
    i = (i + 1) & (slots_.size() - 1);
  }
  slots_[i] = MergeSlot{key, rank, merged};
  ++n_merges_;
}

std::string BpeModel::add_merge(std::string_view left, std::string_view right, int32_t rank) {
  const int32_t a = token_to_id(left);
  if (a < 0) return "token '" + std::string(left) + "' is not in the vocabulary";
  const int32_t b = token_to_id(right);
  if (b < 0) return "token '" + std::string(right) + "' is not in the vocabulary";
  thread_local std::string joined;
  joined.assign(left);
  joined.append(right);
  const int32_t m = token_to_id(joined);
  if (m < 0) return "the merged token '" + joined + "' is not in the vocabulary";
  insert_merge((uint64_t(uint32_t(a)) << 32) | uint32_t(b), rank, m);
  return {};
}

std::string BpeModel::finish() {
  for (int b = 0; b < 256; ++b) {
    const std::string_view ch = byte_to_char_utf8(uint8_t(b));
    const int32_t id = token_to_id(ch);
    if (id < 0) return std::string(ch);
    byte_ids_[b] = id;
  }
  return {};
}

void BpeModel::merge_small(std::vector<int32_t>& syms) const {
  // rank[i] and merged[i] describe the pair (syms[i], syms[i+1]).
  const size_t n = syms.size();
  int32_t rank[kMaxSmall], merged[kMaxSmall];
  for (size_t i = 0; i + 1 < n; ++i) {
    const MergeSlot* m = find_merge(syms[i], syms[i + 1]);
    rank[i] = m != nullptr ? m->rank : INT32_MAX;
    merged[i] = m != nullptr ? m->merged : -1;
  }
  size_t len = n;
  while (len > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < len; ++i) {
      if (rank[i] < rank[best]) best = i;
    }
    if (rank[best] == INT32_MAX) break;
    syms[best] = merged[best];
    for (size_t i = best + 1; i + 1 < len; ++i) {
      syms[i] = syms[i + 1];
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    --len;
    auto update = [&](size_t i) {
      const MergeSlot* m = find_merge(syms[i], syms[i + 1]);
      rank[i] = m != nullptr ? m->rank : INT32_MAX;
      merged[i] = m != nullptr ? m->merged : -1;
    };
    if (best > 0) update(best - 1);
    if (best + 1 < len) update(best);
  }
  syms.resize(len);
}

void BpeModel::merge_large(std::vector<int32_t>& syms) const {
  const size_t n = syms.size();
  std::vector<int32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = int32_t(i) - 1;
    next[i] = i + 1 < n ? int32_t(i + 1) : -1;
  }
  struct Cand {
    int32_t rank, pos, left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t i) {
    if (i < 0 || next[size_t(i)] < 0) return;
    const int32_t j = next[size_t(i)];
    const MergeSlot* m = find_merge(syms[size_t(i)], syms[size_t(j)]);
    if (m != nullptr) heap.push({m->rank, i, syms[size_t(i)], syms[size_t(j)]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(int32_t(i));
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const size_t i = size_t(c.pos);
    // Skip candidates made stale by an earlier merge.
    if (!alive[i] || syms[i] != c.left || next[i] < 0 || syms[size_t(next[i])] != c.right) continue;
    const size_t j = size_t(next[i]);
    syms[i] = find_merge(c.left, c.right)->merged;
    alive[j] = false;
    next[i] = next[j];
    if (next[j] >= 0) prev[size_t(next[j])] = int32_t(i);
    push(prev[i]);
    push(int32_t(i));
  }
  size_t out = 0;
  for (int32_t i = 0; i >= 0; i = next[size_t(i)]) syms[out++] = syms[size_t(i)];
  syms.resize(out);
}

void BpeModel::encode_word(std::string_view bytes, std::vector<int32_t>& out,
                           size_t max_small) const {
  if (bytes.empty()) return;
  if (ignore_merges_) {
    // Llama 3 style: a word that is itself a token is taken whole, merges or not.
    auto it = vocab_.find(bytes_to_byte_level(bytes));
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  thread_local std::vector<int32_t> syms;
  syms.resize(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) syms[i] = byte_ids_[static_cast<uint8_t>(bytes[i])];
  if (syms.size() <= std::min(max_small, kMaxSmall)) {
    merge_small(syms);
  } else {
    merge_large(syms);
  }
  out.insert(out.end(), syms.begin(), syms.end());
}

}  // namespace lsc::tok
