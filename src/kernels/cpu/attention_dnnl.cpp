// Causal grouped-query attention on bf16 tiles, for the bf16 precision: Q·Kᵀ and P·V as
// bf16 × bf16 → fp32 products through oneDNN (AMX where the CPU has it, else AVX512-BF16: the same
// code on both), flash-style — keys in blocks of kKeyBlock, an online softmax in fp32 per query
// row (running max, the exponentials summed in fp32 lanes per block and in double across blocks,
// the output rescaled as the max grows; avx512::attention_block_rows), so no row of T scores is
// ever held.
//
// A task is one kv head and one block of kQueryBlock query positions, for all query heads that
// share the kv head (GQA: one K/V block serves G heads; the tile has M = G·kQueryBlock rows).
// Query blocks start at multiples of kQueryBlock counted from the text's first position, so
// which rows share a tile depends on positions only. Rows of a block outside the call's queries
// (chunked prefill cuts blocks) are zero rows, computed and dropped. Every product runs one
// primitive per shape (M, K, N), planned single-threaded and called inside our parallel loop, so
// a row's result depends on its own query and the keys up to it only: not on the thread count,
// on q_first or n_q (the chunking), or on the rows sharing its tile (the same reasoning as the
// bf16 matmul's fixed row tile; tested). K and V are converted to bf16 and put in the layout the
// products read (oneDNN's blocked one, pairs of k interleaved) once per call, each key block
// then serving every later query block. Keys after a row's position are masked to p = 0 exactly
// (0 · v adds nothing); the key blocks after the query block's last key are skipped.
//
// Rounding: q, k and v are rounded to bf16 (nearest even) and so is p = e^{s − max} before P·V
// (the row's sum adds the rounded values, so P·V is normalised by what it summed). Scores,
// softmax and the output are fp32; e^x is a degree-5 polynomial of 2^r (relative error < 4e-6,
// far below p's bf16 rounding).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "io/error.h"
#include "kernels/cpu/dnnl_shared.h"
#include "kernels/cpu/kernels.h"

namespace lsc::cpu {
namespace avx512 {
void f32_to_bf16_n(const float* x, uint16_t* out, int64_t n);
void attention_block_rows(const float* s, int64_t n_rows, int64_t n, int64_t valid0, int64_t period, float scale,
                          float* m, double* l, uint16_t* p16, float* alpha);
void rescale_add(float* o, const float* add, float alpha, int64_t n);
}  // namespace avx512

namespace {

constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 128;
// Every row of a query block lies in the same key block, so the rows of a tile meet the same key
// blocks, each with at least one key at or before them.
static_assert(kKeyBlock % kQueryBlock == 0);
static_assert(kKeyBlock % 32 == 0);  // attention_block_rows rounds 32 keys at a time

struct Mm {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c;
  dnnl::memory::desc b_plain;  // B as stored by the caller (b differs where oneDNN wants B blocked)
  dnnl::reorder pack;          // b_plain → b, where they differ
  bool packed = false;
  size_t scratch_bytes = 0;
};

// C[m, n] (fp32, dense) = A[m, k] (bf16, dense) · B[k, n] (bf16), B given as stored rows of n
// values (b_rows_are_n: V, [k, n] row-major) or as n stored rows of k values (K, [n, k]). The
// primitive reads B in the blocked layout oneDNN plans for this shape (its brgemm kernels need
// pairs of k interleaved): a key block is reordered into it once per call of the attention, not
// copied by every product that reads it (each key block meets every later query block).
std::shared_ptr<const Mm> get_mm(int64_t m, int64_t k, int64_t n, bool b_rows_are_n) {
  static std::mutex mu;
  static std::map<std::tuple<int64_t, int64_t, int64_t, bool>, std::shared_ptr<const Mm>> cache;
  std::lock_guard<std::mutex> lock(mu);
  const auto key = std::make_tuple(m, k, n, b_rows_are_n);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  using dt = dnnl::memory::data_type;
  auto p = std::make_shared<Mm>();
  p->a = dnnl::memory::desc({m, k}, dt::bf16, dnnl::memory::dims{k, 1});
  p->b_plain = b_rows_are_n ? dnnl::memory::desc({k, n}, dt::bf16, dnnl::memory::dims{n, 1})
                            : dnnl::memory::desc({k, n}, dt::bf16, dnnl::memory::dims{1, k});
  p->c = dnnl::memory::desc({m, n}, dt::f32, dnnl::memory::dims{n, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  OneThread one_thread;
  const dnnl::memory::desc b_any({k, n}, dt::bf16, dnnl::memory::format_tag::any);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p->a, b_any, p->c), attr, dnnl_engine());
  p->b = pd.weights_desc();
  p->packed = p->b != p->b_plain;
  if (p->packed) {
    p->pack = dnnl::reorder(dnnl::reorder::primitive_desc(dnnl_engine(), p->b_plain, dnnl_engine(), p->b));
  }
  p->prim = dnnl::matmul(pd);
  p->scratch_bytes = pd.scratchpad_desc().get_size();
  if (cache.size() >= 256) cache.clear();  // callers keep their shared_ptr alive
  cache.emplace(key, p);
  return p;
}

template <class T>
T* sized(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

}  // namespace

void attention_causal_bf16_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  LSC_CHECK(std::strcmp(bf16_isa(), "none") != 0);  // AVX-512 with AVX512-BF16 (and maybe AMX)
  if (n_q <= 0) return;
  const int64_t d = head_dim, group = n_heads / n_heads_kv, m_rows = group * kQueryBlock;
  const int64_t q_stride = n_heads * d, kv_stride = n_heads_kv * d;
  const int64_t n_tokens = q_first + n_q;
  const int64_t qb_first = q_first / kQueryBlock, qb_last = (n_tokens - 1) / kQueryBlock;
  const int64_t n_qb = qb_last - qb_first + 1;
  // Keys any task reads: up to the end of the key block holding the last query block.
  const int64_t n_kblocks = ((qb_last + 1) * kQueryBlock + kKeyBlock - 1) / kKeyBlock;
  const auto qk = get_mm(m_rows, d, kKeyBlock, false);
  const auto pv = get_mm(m_rows, kKeyBlock, d, true);
  // K and V per kv head and key block in bf16, zero after the last key, in the layout the products
  // were planned for (`b`): kKeyBlock stored rows of d values where that is the plain one, else
  // oneDNN's blocked layout (each block converted into a per-thread plain block, then reordered).
  const int64_t k_bytes = static_cast<int64_t>(qk->b.get_size());
  const int64_t v_bytes = static_cast<int64_t>(pv->b.get_size());
  static thread_local std::vector<uint8_t> k_buf, v_buf;
  uint8_t* const k_blocks = sized(k_buf, n_heads_kv * n_kblocks * k_bytes);
  uint8_t* const v_blocks = sized(v_buf, n_heads_kv * n_kblocks * v_bytes);
#pragma omp parallel
  {
    dnnl::engine& eng = dnnl_engine();
    dnnl::stream st(eng);
    static thread_local std::vector<uint16_t> plain_buf;
    uint16_t* const plain = sized(plain_buf, kKeyBlock * d);
    dnnl::memory k_plain(qk->b_plain, eng, plain), k_packed(qk->b, eng, nullptr);
    dnnl::memory v_plain(pv->b_plain, eng, plain), v_packed(pv->b, eng, nullptr);
    // One key block of K or V (x: k or v) to its place: rows past the last key are zero.
    auto store_block = [&](const float* x, int64_t hk, int64_t j, const Mm& mm, int64_t bytes, uint8_t* blocks,
                           dnnl::memory& src, dnnl::memory& dst) {
      uint8_t* const place = blocks + (hk * n_kblocks + j) * bytes;
      uint16_t* const rows = mm.packed ? plain : reinterpret_cast<uint16_t*>(place);
      for (int64_t i = 0; i < kKeyBlock; ++i) {
        const int64_t s = j * kKeyBlock + i;
        if (s < n_tokens) {
          avx512::f32_to_bf16_n(x + s * kv_stride + hk * d, rows + i * d, d);
        } else {
          std::fill(rows + i * d, rows + (i + 1) * d, uint16_t{0});
        }
      }
      if (mm.packed) {
        dst.set_data_handle(place);
        mm.pack.execute(st, src, dst);
      }
    };
#pragma omp for schedule(static)
    for (int64_t idx = 0; idx < n_heads_kv * n_kblocks; ++idx) {
      const int64_t hk = idx / n_kblocks, j = idx % n_kblocks;
      store_block(k, hk, j, *qk, k_bytes, k_blocks, k_plain, k_packed);
      store_block(v, hk, j, *pv, v_bytes, v_blocks, v_plain, v_packed);
    }
    static thread_local std::vector<uint16_t> q16_buf, p16_buf;
    static thread_local std::vector<float> s_buf, pv_buf, o_buf, m_buf, alpha_buf;
    static thread_local std::vector<double> l_buf;
    static thread_local std::vector<uint8_t> scratch_buf;
    uint16_t* const q16 = sized(q16_buf, m_rows * d);
    uint16_t* const p16 = sized(p16_buf, m_rows * kKeyBlock);
    float* const sc = sized(s_buf, m_rows * kKeyBlock);
    float* const pvo = sized(pv_buf, m_rows * d);
    float* const o = sized(o_buf, m_rows * d);
    float* const mx = sized(m_buf, m_rows);
    float* const alpha = sized(alpha_buf, m_rows);
    double* const l = sized(l_buf, m_rows);
    uint8_t* const scratch = sized(scratch_buf, static_cast<int64_t>(std::max(qk->scratch_bytes, pv->scratch_bytes)));
    dnnl::memory qm(qk->a, eng, q16), km(qk->b, eng, nullptr), sm(qk->c, eng, sc);
    dnnl::memory pm(pv->a, eng, p16), vm(pv->b, eng, nullptr), om(pv->c, eng, pvo);
    auto scratch_mem = [&](const Mm& mm) {
      return dnnl::memory(dnnl::memory::desc({static_cast<int64_t>(mm.scratch_bytes)}, dnnl::memory::data_type::u8,
                                             dnnl::memory::dims{1}),
                          eng, scratch);
    };
    dnnl::memory qk_scratch = scratch_mem(*qk), pv_scratch = scratch_mem(*pv);
    // Handles of the same memory objects: a call only moves the K and V pointers.
    const std::unordered_map<int, dnnl::memory> qk_args{
        {DNNL_ARG_SRC, qm}, {DNNL_ARG_WEIGHTS, km}, {DNNL_ARG_DST, sm}, {DNNL_ARG_SCRATCHPAD, qk_scratch}};
    const std::unordered_map<int, dnnl::memory> pv_args{
        {DNNL_ARG_SRC, pm}, {DNNL_ARG_WEIGHTS, vm}, {DNNL_ARG_DST, om}, {DNNL_ARG_SCRATCHPAD, pv_scratch}};
    // Later query blocks see more keys: they go first, and threads take tasks as they finish.
#pragma omp for schedule(dynamic, 1)
    for (int64_t idx = 0; idx < n_heads_kv * n_qb; ++idx) {
      const int64_t qb = qb_last - idx / n_heads_kv, hk = idx % n_heads_kv, p0 = qb * kQueryBlock;
      for (int64_t g = 0; g < group; ++g) {
        for (int64_t i = 0; i < kQueryBlock; ++i) {
          const int64_t pos = p0 + i;
          uint16_t* row = q16 + (g * kQueryBlock + i) * d;
          if (pos >= q_first && pos < n_tokens) {
            avx512::f32_to_bf16_n(q + (pos - q_first) * q_stride + (hk * group + g) * d, row, d);
          } else {
            std::fill(row, row + d, uint16_t{0});
          }
        }
      }
      std::fill(o, o + m_rows * d, 0.0f);
      std::fill(mx, mx + m_rows, -INFINITY);
      std::fill(l, l + m_rows, 0.0);
      const int64_t last_kb = (p0 + kQueryBlock - 1) / kKeyBlock;
      for (int64_t j = 0; j <= last_kb; ++j) {
        const int64_t key0 = j * kKeyBlock;
        km.set_data_handle(k_blocks + (hk * n_kblocks + j) * k_bytes);
        qk->prim.execute(st, qk_args);
        // Row r is query position p0 + r mod kQueryBlock: its keys from key0 to it count.
        avx512::attention_block_rows(sc, m_rows, kKeyBlock, p0 + 1 - key0, kQueryBlock, scale, mx, l, p16, alpha);
        vm.set_data_handle(v_blocks + (hk * n_kblocks + j) * v_bytes);
        pv->prim.execute(st, pv_args);
        for (int64_t r = 0; r < m_rows; ++r) avx512::rescale_add(o + r * d, pvo + r * d, alpha[r], d);
      }
      for (int64_t g = 0; g < group; ++g) {
        for (int64_t i = 0; i < kQueryBlock; ++i) {
          const int64_t pos = p0 + i, r = g * kQueryBlock + i;
          if (pos < q_first || pos >= n_tokens) continue;
          const float inv = static_cast<float>(1.0 / l[r]);
          float* dst = out + (pos - q_first) * q_stride + (hk * group + g) * d;
          for (int64_t c = 0; c < d; ++c) dst[c] = o[r * d + c] * inv;
        }
      }
    }
  }
}

}  // namespace lsc::cpu
