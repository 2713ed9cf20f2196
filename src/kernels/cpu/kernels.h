// CPU kernels over plain arrays: matrix multiply against stored (F32/BF16/F16) weights, RMSNorm,
// RoPE, causal grouped-query attention, SwiGLU. They know shapes, not tensor names or models.
// Every output element is reduced by one thread in a fixed order, so results are bitwise equal
// for any thread count. None of them throws or allocates on the hot path except where noted.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace lsc::cpu {

enum class WType { F32, BF16, F16 };

struct PackedBf16;  // a BF16 matrix re-laid out for the bf16 kernel (pack_bf16)

// A row-major [rows, cols] matrix of stored weights; a view into the mmapped checkpoint.
struct WeightMatrix {
  const void* data = nullptr;
  WType type = WType::F32;
  int64_t rows = 0, cols = 0;
  // If set, the bf16 kernel reads this copy instead of `data` (for F32/F16 matrices: their values
  // rounded to bf16); the fp32 kernels always read `data`.
  const PackedBf16* packed = nullptr;
};

// What the bf16 kernel does with each product y = x·Wᵀ (+ bias) (the fp32 kernels only Store).
//  Store:      out = y
//  StoreStreaming: out = y with non-temporal stores (the same values): for outputs too large
//              to stay in cache that are read later, not at once (the LM head's logits chunk);
//              saves reading the destination lines before writing them.
//  Accumulate: out += y           (the residual add after o_proj and down_proj)
//  SwigluBf16: W is a gate/up pair packed with pack_bf16_pair; y = [g | u] per column;
//              out16 = bf16(silu(g + bias) · (u + bias_up)) with swiglu_fast's arithmetic:
//              the input of down_proj, already rounded as the bf16 kernel would round it.
//  Swiglu:     the same pair; out = swiglu(g + bias, u + bias_up) in fp32 with swiglu_fast's
//              arithmetic (split-bf16's MLP: the fp32 gate and up are never written).
enum class Epilogue { Store, StoreStreaming, Accumulate, SwigluBf16, Swiglu };

// Arguments of out[T, N] = x[T, K] · W[N, K]ᵀ (+ bias[N]), fp32 accumulation.
struct MatmulArgs {
  const float* x = nullptr;    // [n_rows, w.cols], row stride w.cols
  int64_t n_rows = 0;
  WeightMatrix w;
  const float* bias = nullptr; // [w.rows] or null
  float* out = nullptr;        // [n_rows, w.rows]
  // bf16 kernel only:
  const uint16_t* x16 = nullptr;  // the input already in bf16 (x is then not read)
  Epilogue epilogue = Epilogue::Store;
  const float* bias_up = nullptr;  // SwigluBf16: bias of the up half, or null
  uint16_t* out16 = nullptr;       // SwigluBf16: [n_rows, w.rows / 2]
  // Split-bf16 (1 = plain bf16): x (fp32; x16 must be null) is written as the sum of this many
  // bf16 parts (split_bf16_rows), each part is multiplied by W on the bf16 kernel and the
  // partial products are summed in fp32. W's BF16 values are exact, so only the split and the
  // fp32 accumulation round: 2 parts keep x to 2^-16 (relative), 3 parts exactly (3 × 8
  // significant bits hold fp32's 24).
  int x_parts = 1;
};

// Conversions of stored weights to fp32 (exact for BF16 and F16).
float bf16_to_f32(uint16_t v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float v);  // round to nearest even (used by tests and the demo writer)
void convert_row(const WeightMatrix& w, int64_t row, float* out);  // out[w.cols]

// The one CPU-feature choice of the process (LSC_ISA=scalar|avx2|avx512 forces one): every fast
// path in kernels/ and analysis/ reads it, so LSC_ISA=scalar reaches all of them. "avx512" needs
// AVX-512 F, BW, VL and DQ; "avx2" (the fp32 matmul only; the rest is the portable code) AVX2,
// FMA and F16C. The bf16 matmul is oneDNN's and keeps oneDNN's own choice (it needs
// AVX-512 whatever LSC_ISA says: bf16_isa()).
struct CpuKernels {
  const char* isa;  // "avx512", "avx2" or "scalar"
  bool avx512;      // the AVX-512 fast paths (kernels, LM-head row reduction, divergences) may run
  void (*matmul)(const MatmulArgs& args);
  // The fp32 precision's attention: attention_causal_rows bit for bit (AVX-512 and AVX2: the
  // same operations in vectors, in blocks of keys and queries: attention_exact_*.cpp).
  void (*attention)(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first, int64_t n_heads,
                    int64_t n_heads_kv, int64_t head_dim, float scale, float* out);
  // The fp32 precision's SwiGLU: swiglu bit for bit (AVX-512 and AVX2: the same operations in
  // vectors, libm's expf repeated exactly: swiglu_exact_*.cpp).
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* out);
  // The bf16 path's attention and SwiGLU (attention_causal_fast, swiglu_fast below).
  void (*attention_fast)(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                         int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out);
  void (*swiglu_fast)(const float* gate, const float* up, int64_t n, float* out);
};
const CpuKernels& cpu_kernels();
// The kernels of one ISA, for tests that compare each against the scalar reference.
// Returns null if the CPU cannot run that ISA.
const CpuKernels* cpu_kernels_for(const char* isa);

// ---- bf16 path (oneDNN) -------------------------------------------------------------------
// out[T, N] = bf16(x)[T, K] · W[N, K]ᵀ (+ bias), products exact, fp32 accumulation. W must be
// BF16 (read in place from the mapped checkpoint, no copy). x is rounded to bf16 (nearest even).
// Weight rows are cut into fixed blocks (bf16_column_blocks, a function of N only) that our OpenMP
// loop hands to threads; each block is one single-threaded oneDNN call, so results are bitwise
// equal for any thread count. Every call computes kBf16RowTile rows (the last ones zero-padded),
// so a row's result does not depend on the rows around it either. Only call when bf16_isa() is
// not "none".
void matmul_bf16(const MatmulArgs& args);
// Rows of every oneDNN call of the bf16 matmul. A product of T rows costs as much as one of T
// rounded up to a multiple of it: callers that choose their row counts (the LM head's chunks)
// choose multiples.
constexpr int64_t kBf16RowTile = 64;
// Several products of the same activations (q/k/v, gate/up): x converted once, one parallel loop
// over the tiles of all of them. Every args[i] has the same x, n_rows and w.cols.
void matmul_bf16_batch(const MatmulArgs* args, int n_args);
// How the bf16 matmul cuts N output columns into blocks (a function of N only).
struct ColumnBlocks {
  int64_t n = 0, count = 0, base = 0, extra = 0;  // blocks 0..extra-1 have base + 1 units of 64
  int64_t start(int64_t j) const { return 64 * (j * base + std::min(j, extra)); }
  int64_t cols(int64_t j) const { return std::min(64 * (base + (j < extra ? 1 : 0)), n - start(j)); }
};
ColumnBlocks bf16_column_blocks(int64_t n);
// A copy of a BF16 matrix in oneDNN's blocked layout, one part per column block of
// bf16_column_blocks(rows): the layout oneDNN's brgemm kernel reads directly, where the plain
// row-major matrix makes oneDNN re-pack a block of it inside every call (measured in
// bench_matmul: docs/performance.md). The values are the same bf16 numbers (a reorder is a copy),
// but a product with a packed matrix may round differently from one with the plain matrix (another
// kernel), so a model packs all its matrices or none. F32 and F16 matrices are rounded to bf16
// (to nearest even; F16 widened exactly first) as they are packed. Memory: about rows × cols × 2
// bytes (column blocks padded to a multiple of 64). Only call when bf16_isa() is not "none".
// `copied`, if given, is called after each block with the rows of w it has read (the caller may
// give their pages back: the peak of packing a mapped matrix is then one block, not the matrix).
using RowsCopied = std::function<void(const WeightMatrix& w, int64_t row0, int64_t n_rows)>;
std::shared_ptr<const PackedBf16> pack_bf16(const WeightMatrix& w, const RowsCopied& copied = {});
// gate and up ([N, K] each) packed as one matrix whose column block j holds gate's block j then
// up's block j, for Epilogue::SwigluBf16 (the MLP's two products and SwiGLU in one pass over the
// tiles; the [T, N] fp32 gate and up matrices are never written). Use it as a WeightMatrix with
// data = nullptr, rows = 2N, cols = K (type: the stored one; F32/F16 rounded as pack_bf16 does).
std::shared_ptr<const PackedBf16> pack_bf16_pair(const WeightMatrix& gate, const WeightMatrix& up,
                                                 const RowsCopied& copied = {});
size_t packed_bytes(const PackedBf16& p);
// x[n] → bf16 bits, round to nearest even (vectorised where AVX-512 is present; same results).
void f32_to_bf16_rows(const float* x, uint16_t* out, int64_t n);
// x[n] as the sum of `parts` (1-3) bf16 numbers: parts[0] = bf16(x), parts[1] = bf16(x - parts[0]),
// parts[2] = bf16(x - parts[0] - parts[1]) (each difference exact in fp32; three parts sum to x
// exactly above bf16's subnormal range). Where parts[0] is not finite the later parts are 0.
// Vectorised where AVX-512 is present (same results).
void split_bf16_rows(const float* x, int64_t n, int parts, uint16_t* const* out);

// The instruction set oneDNN's bf16 matmul can use here, detected once per process:
// "amx" (AMX-BF16 tiles; the kernel permission was granted), "avx512_bf16" (vdpbf16ps) or "none"
// (no bf16 hardware: the bf16 precision falls back to fp32). LSC_VERBOSE=1 logs it on stderr.
const char* bf16_isa();
// Whether the exact precision's split-bf16 products (3 bf16 parts of each activation, three
// bf16 products) run faster here than the fp32 kernels: on AMX tiles yes, on AVX512-BF16 no
// (vdpbf16ps does twice an fp32 FMA's products, three parts cost 1.5 fp32 products: measured in
// docs/performance.md), without bf16 hardware never. LSC_EXACT=split|fp32 forces the choice
// (split only where bf16_isa() is not "none"), for tests and measurements. Decided once.
bool exact_splits();
// Throws InputError naming LSC_ISA or LSC_EXACT when it is set to something other than
// scalar|avx2|avx512 or split|fp32. main() calls it before any command's work: the dispatch reads
// them inside a pass, where an error could not stop the command cleanly. (A known choice this CPU
// cannot run — avx512 without AVX-512, split without bf16 hardware — falls back with a warning.)
void check_kernel_environment();
// oneDNN's name for the implementation it chose for the last bf16 matmul (e.g.
// "brg:avx512_core_amx"); empty before the first call. For run manifests and benchmarks.
std::string bf16_impl();
// True when LSC_VERBOSE is set to something other than "" or "0".
bool verbose();
// The CPU's model name (/proc/cpuinfo), "unknown" where it cannot be read.
std::string cpu_model_name();

// out[T, n] = w ⊙ x / sqrt(mean(x²) + eps), per row; sums in double. out may alias x.
void rms_norm(const float* x, const float* w, int64_t n_rows, int64_t n, float eps, float* out);
// The same values rounded to bf16 (nearest even), for the bf16 matmul's x16 input: exactly
// f32_to_bf16_rows of rms_norm's output, without writing the fp32 rows.
void rms_norm_bf16(const float* x, const float* w, int64_t n_rows, int64_t n, float eps, uint16_t* out);

// x[t, h*head_dim + i] rotated in place with HF's rotate_half pairing: (i, i + head_dim/2).
// cos/sin: [n_tokens, head_dim/2] tables, row t for the position of row t of x.
void apply_rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const float* cos_t,
                const float* sin_t);

// Causal grouped-query attention for the queries at positions [q_first, q_first + n_q) of one
// sequence, against its keys at [0, q_first + n_q) (chunked prefill: a chunk of queries over the
// cached keys). q, out: [n_q, n_heads*d]; k, v: [q_first + n_q, n_kv*d]. Query head h reads kv
// head h / (n_heads / n_kv). Softmax in fp32 after scaling the scores by `scale`, as
// transformers' eager attention does. A query's result does not depend on q_first or n_q (the
// same operations in the same order), so any chunking gives the same bits.
void attention_causal_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                           int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out);
// The whole sequence: attention_causal_rows with q_first = 0.
inline void attention_causal(const float* q, const float* k, const float* v, int64_t n_tokens, int64_t n_heads,
                             int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  attention_causal_rows(q, k, v, n_tokens, 0, n_heads, n_heads_kv, head_dim, scale, out);
}

// The same attention, faster (AVX-512: 16 keys at a time from a transposed K, polynomial exp);
// used by the bf16 precision. Differs from attention_causal by rounding only (tested to 1e-5
// relative). Falls back to attention_causal on CPUs without AVX-512.
void attention_causal_fast_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out);
inline void attention_causal_fast(const float* q, const float* k, const float* v, int64_t n_tokens,
                                  int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  attention_causal_fast_rows(q, k, v, n_tokens, 0, n_heads, n_heads_kv, head_dim, scale, out);
}

// The same attention on bf16 tiles (oneDNN: AMX, else AVX512-BF16), flash-style with an online
// softmax; used by the bf16 precision. q, k, v and the softmax weights are rounded to bf16 before
// their products (fp32 accumulation, fp32 softmax), so it differs from attention_causal by
// bf16 rounding (tested against it); a query's result depends on its own q and the keys up to
// it only (not on q_first, n_q or the thread count: tested). Only call when bf16_isa() is not
// "none".
void attention_causal_bf16_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out);

// out[i] = silu(gate[i]) * up[i]; out may alias gate. swiglu_one is its arithmetic for one
// element.
void swiglu(const float* gate, const float* up, int64_t n, float* out);
float swiglu_one(float gate, float up);

// The same, with a polynomial exp (relative error < 5e-7); used by the bf16 precision. Falls
// back to swiglu without AVX-512.
void swiglu_fast(const float* gate, const float* up, int64_t n, float* out);

void add_inplace(float* x, const float* y, int64_t n);

}  // namespace lsc::cpu
