// bf16 × bf16 → fp32 matrix multiply through oneDNN (which JIT-compiles for AMX where the CPU has
// it, else AVX512-BF16). Compiled with no ISA flags: oneDNN picks its own code at run time.
//
// Determinism: oneDNN's own threading may split a matrix differently for different thread counts
// (and may split K). We never let it: the weight rows are cut into fixed blocks whose size depends
// on the shape only, our OpenMP loop hands the blocks to threads, and every block is one call of a
// primitive that was created single-threaded (created while omp_get_max_threads() == 1, and
// executed inside our parallel region, where oneDNN's OpenMP runtime does not nest). Each output
// element is therefore computed by the same kernel with the same K order for any thread count.
//
// Independence of the rows around a row (batching several texts into one pass must not change a
// text's results): oneDNN plans its kernel by the whole shape, M included — on AMX its brgemm
// picks another blocking for a few rows than for many, so the same row came out differently in a
// 17-row call than in a 600-row one. So M is never the caller's: every primitive call computes
// exactly kRowTile rows (the last slice of a product padded with zero rows, which are computed
// and dropped). A weight block then meets one primitive, one JIT kernel and one K order whatever
// the row count, and a row's result depends on its own values only — as long as the kernel treats
// the kRowTile rows of one call alike, which kRowTile (a multiple of every row block a GEMM kernel
// uses: 16-row AMX tiles, 32-row brgemm blocks) makes the case without any tail path.
#include <omp.h>
#include <xmmintrin.h>  // _mm_sfence

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "io/error.h"
#include "kernels/cpu/dnnl_shared.h"
#include "kernels/cpu/kernels.h"

namespace lsc::cpu {
namespace avx512 {
void f32_to_bf16_n(const float* x, uint16_t* out, int64_t n);
void split_bf16_n(const float* x, int64_t n, int parts, uint16_t* const* out);
void store_row(float* out, const float* src, const float* bias, int64_t n);
void stream_row(float* out, const float* src, int64_t n);
void accumulate_row(float* out, const float* src, const float* bias, int64_t n);
void swiglu_bf16_span(const float* gate, const float* up, int64_t n, uint16_t* out16);
void swiglu_span(const float* gate, const float* up, int64_t n, float* out);
}
bool cpu_has_avx512_internal();

dnnl::engine& dnnl_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

namespace {

dnnl::engine& engine() { return dnnl_engine(); }

struct Prim {
  dnnl::matmul prim;
  dnnl::memory::desc a_md, b_md, c_md;
  size_t scratch_bytes = 0;
  std::string impl;
};

using Key = std::tuple<int64_t, int64_t, bool>;  // (N, K, packed); M is always kRowTile

// Rows of every primitive call (see the top of this file), and the most rows of one task of the
// parallel loop: a task runs kRowTile-row slices of one weight block one after the other, so the
// block stays in the core's cache across them (and, on plain weights, oneDNN's per-call copy of it
// is paid per slice). With many threads and few rows that leaves threads idle — a 7B gate/up
// product over a 2048-row prefill chunk is 19 column blocks × 4 row blocks = 76 tasks, which 64
// threads run in two rounds, the second 12 wide — so task_rows() cuts the rows finer, down to one
// call per task, until there are kTasksPerThread tasks per thread. Every call still starts at a
// multiple of kRowTile, so how rows are grouped into tasks changes no result.
constexpr int64_t kRowTile = kBf16RowTile;
constexpr int64_t kRowBlock = 512;
constexpr int64_t kTasksPerThread = 4;
static_assert(kRowBlock % kRowTile == 0 && ((kRowBlock / kRowTile) & (kRowBlock / kRowTile - 1)) == 0);

// Rows per task for a product of m rows whose matrices have `column_blocks` blocks in all, run by
// `threads` threads: kRowBlock, halved while that gives fewer than kTasksPerThread tasks a thread
// (never below kRowTile, a multiple of which it stays).
int64_t task_rows(int64_t m, int64_t column_blocks, int threads) {
  int64_t rows = kRowBlock;
  while (rows > kRowTile && column_blocks * ((m + rows - 1) / rows) < kTasksPerThread * threads) rows /= 2;
  return rows;
}

// The blocked layout oneDNN's single-threaded matmul wants for a [k, n] bf16 weight block, planned
// for the one row count every call has (kRowTile).
dnnl::memory::desc packed_md(int64_t n, int64_t k) {
  using dt = dnnl::memory::data_type;
  const dnnl::memory::desc a({kRowTile, k}, dt::bf16, dnnl::memory::dims{k, 1});
  const dnnl::memory::desc b({k, n}, dt::bf16, dnnl::memory::format_tag::any);
  const dnnl::memory::desc c({kRowTile, n}, dt::f32, dnnl::memory::dims{n, 1});
  OneThread one_thread;
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), engine()).weights_desc();
}

// A is bf16 [m, k] dense. B is either W[n, k] row-major = Wᵀ with strides (1, k) (the plain
// "ba" layout, read in place from the mapped checkpoint) or the packed layout of packed_md.
// C is fp32 [m, n] dense: that is what selects oneDNN's brgemm kernel (with a row stride > n it
// falls back to gemm:jit on plain weights and to a reference kernel on packed ones).
Prim make_prim(int64_t n, int64_t k, bool packed) {
  using dt = dnnl::memory::data_type;
  const int64_t m = kRowTile;
  Prim p;
  p.a_md = dnnl::memory::desc({m, k}, dt::bf16, dnnl::memory::dims{k, 1});
  p.b_md = packed ? packed_md(n, k) : dnnl::memory::desc({k, n}, dt::bf16, dnnl::memory::dims{1, k});
  p.c_md = dnnl::memory::desc({m, n}, dt::f32, dnnl::memory::dims{n, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // one scratchpad per thread, ours
  OneThread one_thread;
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p.a_md, p.b_md, p.c_md), attr, engine());
  p.prim = dnnl::matmul(pd);
  p.scratch_bytes = pd.scratchpad_desc().get_size();
  p.impl = pd.impl_info_str();
  return p;
}

// Primitives by weight-block shape. Creating one costs tens of microseconds (and JIT code): cache
// them (a model has a handful of shapes; the bound only guards against unbounded growth).
std::shared_ptr<const Prim> get_prim(int64_t n, int64_t k, bool packed) {
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<const Prim>> cache;
  std::lock_guard<std::mutex> lock(mu);
  const Key key{n, k, packed};
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 512) cache.clear();  // callers keep their shared_ptr alive
  auto p = std::make_shared<const Prim>(make_prim(n, k, packed));
  cache.emplace(key, p);
  return p;
}

std::string& last_impl() {
  static std::string s;
  return s;
}
std::mutex& impl_mutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

struct PackedBf16 {
  int64_t n = 0;      // output columns (a pair: of each half)
  int64_t k = 0;
  ColumnBlocks blocks;  // bf16_column_blocks(n)
  bool pair = false;  // block j = [gate block j | up block j]: twice its columns
  std::vector<dnnl::memory::desc> mds;  // per column block
  std::vector<size_t> offsets;          // byte offset of each block in data
  size_t bytes = 0;
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data;
  int64_t block_cols(int64_t j) const { return blocks.cols(j); }
  int64_t width(int64_t j) const { return pair ? 2 * block_cols(j) : block_cols(j); }
};

size_t packed_bytes(const PackedBf16& p) { return p.bytes; }

std::string bf16_impl() {
  std::lock_guard<std::mutex> lock(impl_mutex());
  return last_impl();
}

ColumnBlocks bf16_column_blocks(int64_t n) {
  // Depends on N only (never on the thread count). 64-column units (oneDNN's block width) spread
  // evenly over the blocks, the first `extra` blocks one unit wider: at least 16 blocks where
  // there are 16 units, so threads get even shares (blocks are handed out dynamically, widest
  // first), and at most 16 units (1024 columns) per block so per-call overhead on the
  // 152k-column LM head stays small. Even widths matter: with 15 wide blocks and one narrow one,
  // one of two threads would sit idle for most of a block.
  ColumnBlocks b;
  b.n = n;
  const int64_t units = std::max<int64_t>(1, (n + 63) / 64);
  b.count = std::min(units, std::max<int64_t>(16, (units + 15) / 16));
  b.base = units / b.count;
  b.extra = units % b.count;
  return b;
}

void f32_to_bf16_rows(const float* x, uint16_t* out, int64_t n) {
  if (cpu_has_avx512_internal()) {
    avx512::f32_to_bf16_n(x, out, n);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
  }
}

void split_bf16_rows(const float* x, int64_t n, int parts, uint16_t* const* out) {
  LSC_CHECK(parts >= 1 && parts <= 3);
  if (cpu_has_avx512_internal()) {
    avx512::split_bf16_n(x, n, parts, out);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    float r = x[i];
    bool finite = true;
    for (int p = 0; p < parts; ++p) {
      const uint16_t b = f32_to_bf16(r);
      out[p][i] = b;
      if (p == 0) finite = (b & 0x7f80u) != 0x7f80u;
      r = finite ? r - bf16_to_f32(b) : 0.0f;
    }
  }
}

namespace {

// Lays out the blocks and reorders each from a plain [width, k] row-major source that
// source(j, buffer) provides (a pointer into the checkpoint, or `buffer` filled in).
template <class Source, class After>
std::shared_ptr<const PackedBf16> pack_blocks(int64_t n, int64_t k, bool pair, Source source, After after) {
  auto p = std::make_shared<PackedBf16>();
  p->n = n;
  p->k = k;
  p->blocks = bf16_column_blocks(n);
  p->pair = pair;
  const int64_t n_blocks = p->blocks.count;
  for (int64_t j = 0; j < n_blocks; ++j) {
    // Blocks of the same width share one layout.
    p->mds.push_back(j > 0 && p->width(j) == p->width(0) ? p->mds.front() : packed_md(p->width(j), k));
    p->offsets.push_back(p->bytes);
    p->bytes += (p->mds.back().get_size() + 4095) / 4096 * 4096;
  }
  p->data.reset(static_cast<uint8_t*>(std::aligned_alloc(4096, p->bytes)));
  if (!p->data) throw std::bad_alloc();
  // A reorder is an exact copy (plus zero padding); oneDNN may thread it as it likes.
  dnnl::stream s(engine());
  std::vector<uint16_t> buffer;
  for (int64_t j = 0; j < n_blocks; ++j) {
    const dnnl::memory::desc src_md({k, p->width(j)}, dnnl::memory::data_type::bf16, dnnl::memory::dims{1, k});
    dnnl::memory src(src_md, engine(), const_cast<uint16_t*>(source(j, p->block_cols(j), buffer)));
    dnnl::memory dst(p->mds[static_cast<size_t>(j)], engine(), p->data.get() + p->offsets[static_cast<size_t>(j)]);
    dnnl::reorder(src, dst).execute(s, src, dst);
    s.wait();  // the buffer is reused by the next block
    after(j, p->block_cols(j));
  }
  return p;
}

}  // namespace

namespace {

bool packable(const WeightMatrix& w) { return w.data != nullptr && w.rows > 0 && w.cols > 0; }

// Rows [r0, r0 + n) of w as bf16 into out ([n, w.cols]): BF16 copied, F32 rounded to nearest
// even, F16 widened exactly and rounded the same way.
void bf16_rows(const WeightMatrix& w, int64_t r0, int64_t n, uint16_t* out) {
  if (w.type == WType::BF16) {
    const uint16_t* src = static_cast<const uint16_t*>(w.data) + r0 * w.cols;
    std::copy(src, src + n * w.cols, out);
  } else if (w.type == WType::F32) {
    f32_to_bf16_rows(static_cast<const float*>(w.data) + r0 * w.cols, out, n * w.cols);
  } else {
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = 0; r < n; ++r) {
      convert_row(w, r0 + r, row.data());
      f32_to_bf16_rows(row.data(), out + r * w.cols, w.cols);
    }
  }
}

}  // namespace

std::shared_ptr<const PackedBf16> pack_bf16(const WeightMatrix& w, const RowsCopied& copied) {
  LSC_CHECK(packable(w));
  const ColumnBlocks cb = bf16_column_blocks(w.rows);
  auto after = [&](int64_t j, int64_t cols) {
    if (copied) copied(w, cb.start(j), cols);
  };
  if (w.type == WType::BF16) {  // straight from the checkpoint
    const uint16_t* w16 = static_cast<const uint16_t*>(w.data);
    return pack_blocks(
        w.rows, w.cols, false, [&](int64_t j, int64_t, std::vector<uint16_t>&) { return w16 + cb.start(j) * w.cols; },
        after);
  }
  return pack_blocks(
      w.rows, w.cols, false,
      [&](int64_t j, int64_t cols, std::vector<uint16_t>& buf) {
        buf.resize(static_cast<size_t>(cols * w.cols));
        bf16_rows(w, cb.start(j), cols, buf.data());
        return static_cast<const uint16_t*>(buf.data());
      },
      after);
}

std::shared_ptr<const PackedBf16> pack_bf16_pair(const WeightMatrix& gate, const WeightMatrix& up,
                                                 const RowsCopied& copied) {
  LSC_CHECK(packable(gate) && packable(up) && gate.rows == up.rows && gate.cols == up.cols);
  const int64_t k = gate.cols;
  const ColumnBlocks cb = bf16_column_blocks(gate.rows);
  return pack_blocks(
      gate.rows, k, true,
      [&](int64_t j, int64_t cols, std::vector<uint16_t>& buf) {
        buf.resize(static_cast<size_t>(2 * cols * k));
        bf16_rows(gate, cb.start(j), cols, buf.data());
        bf16_rows(up, cb.start(j), cols, buf.data() + cols * k);
        return static_cast<const uint16_t*>(buf.data());
      },
      [&](int64_t j, int64_t cols) {
        if (!copied) return;
        copied(gate, cb.start(j), cols);
        copied(up, cb.start(j), cols);
      });
}

void matmul_bf16(const MatmulArgs& a) { matmul_bf16_batch(&a, 1); }

namespace {

// The epilogue of one tile: c is the dense [rows, width] result of rows m0.. and output columns
// n0.. (width = cols, or 2·cols for a gate/up pair); tmp holds at least 3·cols floats.
void finish_tile(const MatmulArgs& a, int64_t n, const float* c, int64_t rows, int64_t cols, int64_t m0,
                 int64_t n0, float* tmp) {
  const float* bias = a.bias != nullptr ? a.bias + n0 : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    switch (a.epilogue) {
      case Epilogue::Store:
        avx512::store_row(a.out + (m0 + r) * n + n0, c + r * cols, bias, cols);
        break;
      case Epilogue::StoreStreaming:
        if (bias == nullptr) {
          avx512::stream_row(a.out + (m0 + r) * n + n0, c + r * cols, cols);
        } else {
          avx512::store_row(a.out + (m0 + r) * n + n0, c + r * cols, bias, cols);
        }
        break;
      case Epilogue::Accumulate:
        avx512::accumulate_row(a.out + (m0 + r) * n + n0, c + r * cols, bias, cols);
        break;
      case Epilogue::SwigluBf16:
      case Epilogue::Swiglu: {
        // Row r's gate and up halves, with their biases added (in tmp) where there are any.
        const float* g = c + r * 2 * cols;
        const float* u = g + cols;
        if (bias != nullptr) {
          avx512::store_row(tmp, g, bias, cols);
          g = tmp;
        }
        if (a.bias_up != nullptr) {
          avx512::store_row(tmp + cols, u, a.bias_up + n0, cols);
          u = tmp + cols;
        }
        if (a.epilogue == Epilogue::SwigluBf16) {
          avx512::swiglu_bf16_span(g, u, cols, a.out16 + (m0 + r) * n + n0);
        } else {
          avx512::swiglu_span(g, u, cols, a.out + (m0 + r) * n + n0);
        }
        break;
      }
    }
  }
  // Non-temporal stores are weakly ordered: drain them before the tile counts as done.
  if (a.epilogue == Epilogue::StoreStreaming) _mm_sfence();
}

}  // namespace

void matmul_bf16_batch(const MatmulArgs* args, int n_args) {
  if (n_args == 0) return;
  LSC_CHECK(cpu_has_avx512_internal());  // bf16_isa() is "none" without AVX-512
  const MatmulArgs& a0 = args[0];
  const int64_t m = a0.n_rows, k = a0.w.cols;
  const int parts = a0.x_parts;
  LSC_CHECK(parts >= 1 && parts <= 3 && (parts == 1 || (a0.x16 == nullptr && a0.x != nullptr)));
  for (int i = 0; i < n_args; ++i) {
    const MatmulArgs& a = args[i];
    const WeightMatrix& w = a.w;
    LSC_CHECK(w.type == WType::BF16 || w.packed != nullptr);  // a packed F32/F16 matrix: its bf16 copy
    LSC_CHECK(a.x == a0.x && a.x16 == a0.x16 && a.n_rows == m && w.cols == k && a.x_parts == parts);
    const bool pair = w.packed != nullptr && w.packed->pair;
    LSC_CHECK(pair == (a.epilogue == Epilogue::SwigluBf16 || a.epilogue == Epilogue::Swiglu));
    LSC_CHECK(w.packed != nullptr ? w.packed->n * (pair ? 2 : 1) == w.rows && w.packed->k == w.cols
                                  : w.data != nullptr);
    LSC_CHECK(a.epilogue == Epilogue::SwigluBf16 ? a.out16 != nullptr : a.out != nullptr);
  }
  if (m == 0) return;
  // The bf16 input: x16 as given, or x converted (parts > 1: part p at x16 + p·m·k).
  const uint16_t* x16 = a0.x16;
  if (x16 == nullptr) {
    static thread_local std::vector<uint16_t> xb;
    if (xb.size() < static_cast<size_t>(parts * m * k)) xb.resize(static_cast<size_t>(parts * m * k));
    const int64_t chunk = 4096;  // elements per conversion task: element-wise, any split is exact
    const int64_t n_chunks = (m * k + chunk - 1) / chunk;
    uint16_t* xw = xb.data();
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t i0 = c * chunk, len = std::min(chunk, m * k - i0);
      if (parts == 1) {
        f32_to_bf16_rows(a0.x + i0, xw + i0, len);
      } else {
        uint16_t* const out[3] = {xw + i0, xw + m * k + i0, xw + 2 * m * k + i0};
        split_bf16_rows(a0.x + i0, len, parts, out);
      }
    }
    x16 = xw;
  }
  if (k == 0) {  // y = 0 (+ bias); a pair cannot be packed with K = 0
    for (int i = 0; i < n_args; ++i) {
      const MatmulArgs& a = args[i];
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t j = 0; j < a.w.rows; ++j) {
          const float y = a.bias != nullptr ? a.bias[j] : 0.0f;
          float& o = a.out[r * a.w.rows + j];
          o = a.epilogue == Epilogue::Accumulate ? o + y : y;
        }
      }
    }
    return;
  }

  // Tasks of task_rows() activation rows × one column block (bf16_column_blocks), for every matrix
  // of the batch, in one parallel loop; what a call computes depends on (m, n, k) and its position only.
  // A task runs its rows as kRowTile-row calls of the block's one primitive; the last slice of the
  // product, if short, is copied into a zero-padded buffer first. oneDNN's brgemm kernel writes
  // only to a dense output, so a slice lands in a per-thread buffer and finish_tile() stores,
  // accumulates or applies SwiGLU. Plain (mapped) and packed weights run the same brgemm kernel and
  // give bitwise equal results (tested): packing only saves the copy of a weight block that oneDNN
  // makes inside every call on plain weights.
  struct Plan {
    int64_t n;
    ColumnBlocks blocks;
    bool pair;
    std::vector<std::shared_ptr<const Prim>> prim;  // per column block
  };
  std::vector<Plan> plans(static_cast<size_t>(n_args));
  int64_t max_dense = 0, column_blocks = 0;
  for (int i = 0; i < n_args; ++i) {
    const MatmulArgs& a = args[i];
    Plan& pl = plans[static_cast<size_t>(i)];
    const bool packed = a.w.packed != nullptr;
    pl.pair = packed && a.w.packed->pair;
    pl.n = pl.pair ? a.w.rows / 2 : a.w.rows;
    pl.blocks = bf16_column_blocks(std::max<int64_t>(pl.n, 1));
    for (int64_t j = 0; j < pl.blocks.count; ++j) {
      const int64_t width = (pl.pair ? 2 : 1) * pl.blocks.cols(j);
      pl.prim.push_back(get_prim(width, k, packed));
      max_dense = std::max(max_dense, kRowTile * width);
    }
    column_blocks += pl.blocks.count;
    {
      std::lock_guard<std::mutex> lock(impl_mutex());
      last_impl() = pl.prim[0]->impl;
    }
  }
  const int64_t row_block = task_rows(m, column_blocks, omp_get_max_threads());
  const int64_t n_row_blocks = (m + row_block - 1) / row_block;
  std::vector<int64_t> first_task(static_cast<size_t>(n_args) + 1, 0);
  for (int i = 0; i < n_args; ++i) {
    first_task[static_cast<size_t>(i) + 1] =
        first_task[static_cast<size_t>(i)] + plans[static_cast<size_t>(i)].blocks.count * n_row_blocks;
  }
  // The rows of the last slice, padded with zero rows to kRowTile (shared, read-only in the loop;
  // kept by the calling thread between calls, like the bf16 copy of x above).
  const int64_t last_slice = (m - 1) / kRowTile * kRowTile, last_rows = m - last_slice;
  static thread_local std::vector<uint16_t> padded;
  if (last_rows < kRowTile) {
    if (padded.size() < static_cast<size_t>(parts * kRowTile * k)) padded.resize(static_cast<size_t>(parts * kRowTile * k));
    for (int part = 0; part < parts; ++part) {
      const uint16_t* src = x16 + part * m * k;
      const auto dst = padded.begin() + part * kRowTile * k;
      std::copy(src + last_slice * k, src + m * k, dst);
      std::fill(dst + last_rows * k, dst + kRowTile * k, uint16_t{0});
    }
  }
  const uint16_t* const pad = padded.data();  // by pointer: in the parallel loop `padded` is each thread's own
  const int64_t n_tasks = first_task.back();
#pragma omp parallel
  {
    static thread_local std::vector<uint8_t> scratch;
    static thread_local std::vector<float> dense_out, tmp;
    if (dense_out.size() < static_cast<size_t>(parts * max_dense)) dense_out.resize(static_cast<size_t>(parts * max_dense));
    dnnl::stream s(engine());
    // Dynamic: a busy core (the machine is shared) does not hold the others back, and which
    // thread computes a task never changes its result.
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < n_tasks; ++task) {
      int i = 0;
      while (task >= first_task[static_cast<size_t>(i) + 1]) ++i;
      const MatmulArgs& a = args[i];
      const Plan& pl = plans[static_cast<size_t>(i)];
      const int64_t b = task - first_task[static_cast<size_t>(i)];
      const int64_t bi = b / pl.blocks.count, bj = b % pl.blocks.count;
      const Prim& p = *pl.prim[static_cast<size_t>(bj)];
      const int64_t n0 = pl.blocks.start(bj), n = pl.n, cols = pl.blocks.cols(bj);
      if (scratch.size() < p.scratch_bytes) scratch.resize(p.scratch_bytes);
      if (tmp.size() < static_cast<size_t>(3 * cols)) tmp.resize(static_cast<size_t>(3 * cols));
      const PackedBf16* pk = a.w.packed;
      void* b_data = pk != nullptr
                         ? static_cast<void*>(pk->data.get() + pk->offsets[static_cast<size_t>(bj)])
                         : static_cast<void*>(const_cast<uint16_t*>(static_cast<const uint16_t*>(a.w.data) + n0 * k));
      float* c_data = dense_out.data();
      dnnl::memory am(p.a_md, engine(), nullptr);
      dnnl::memory bm(p.b_md, engine(), b_data);
      dnnl::memory cm(p.c_md, engine(), c_data);
      dnnl::memory sm(dnnl::memory::desc({static_cast<int64_t>(p.scratch_bytes)},
                                         dnnl::memory::data_type::u8, dnnl::memory::dims{1}),
                      engine(), scratch.data());
      // The map holds handles of the same memory objects: a call only moves their data pointers.
      const std::unordered_map<int, dnnl::memory> call_args{
          {DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, sm}};
      const int64_t row_end = std::min(m, (bi + 1) * row_block);
      const int64_t width = (pl.pair ? 2 : 1) * cols;
      for (int64_t m0 = bi * row_block; m0 < row_end; m0 += kRowTile) {
        const int64_t rows = std::min(kRowTile, m - m0);
        // Split-bf16: each part's product into its own dense tile, then c = c_0 + (c_1 + c_2).
        for (int part = 0; part < parts; ++part) {
          const uint16_t* a_rows = rows < kRowTile ? pad + part * kRowTile * k : x16 + part * m * k + m0 * k;
          am.set_data_handle(const_cast<uint16_t*>(a_rows));
          cm.set_data_handle(c_data + part * max_dense);
          p.prim.execute(s, call_args);
        }
        if (parts > 1) {
          const float* c1 = c_data + max_dense;
          const float* c2 = c_data + 2 * max_dense;
          for (int64_t e = 0; e < rows * width; ++e) c_data[e] += parts == 3 ? c1[e] + c2[e] : c1[e];
        }
        finish_tile(a, n, c_data, rows, cols, m0, n0, tmp.data());
      }
    }
  }
}

}  // namespace lsc::cpu
