// A loaded model: the checkpoint (mmapped), views of its matrices for the kernels, and the small
// vectors (norms, biases) converted to fp32 once. forward() runs one teacher-forced pass and
// streams logits to a consumer in row chunks; it never holds [n_tokens, vocab] floats.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace lsc::model {

struct LayerWeights {
  std::vector<float> attn_norm;         // [hidden]
  cpu::WeightMatrix wq;                 // [n_heads * head_dim, hidden]
  cpu::WeightMatrix wk, wv;             // [n_heads_kv * head_dim, hidden]
  std::vector<float> bq, bk, bv;        // [rows of wq/wk/wv]   only if attention_bias
  std::vector<float> q_norm, k_norm;    // [head_dim]           only if qk_norm
  cpu::WeightMatrix wo;                 // [hidden, n_heads * head_dim]
  std::vector<float> bo;                // [hidden]             only if o_proj_bias
  std::vector<float> ffn_norm;          // [hidden]
  cpu::WeightMatrix w_gate, w_up;       // [intermediate, hidden]
  cpu::WeightMatrix w_down;             // [hidden, intermediate]
  // gate and up packed together for the bf16 kernel's fused SwiGLU (pack_bf16_pair); set by the
  // first bf16 pass when gate, up and down are all BF16, else empty (data and packed null).
  cpu::WeightMatrix w_gate_up;
  std::vector<float> b_gate, b_up, b_down;  // only if mlp_bias
};

// Rows [first_pos, first_pos + n_rows) of the logits; row t predicts token t+1.
struct LogitsChunk {
  int64_t first_pos = 0, n_rows = 0, vocab = 0;
  const float* logits = nullptr;  // [n_rows, vocab]; valid during the callback only
};
using LogitsConsumer = std::function<void(const LogitsChunk&)>;

// Named intermediate dumps for debugging against reference hidden states:
// "embed", "layer.<i>" (block output), "final_norm"; data is [rows, cols] fp32.
using TapFn = std::function<void(const std::string& name, const float* data, int64_t rows, int64_t cols)>;

// Arithmetic of the matrix multiplies (projections and LM head). Norms, RoPE, softmax and all
// statistics are fp32 (sums in double) in all three.
//  FP32:  weights widened exactly to fp32, fp32 activations and accumulation: the reference
//         kernels, bit for bit the same results on every CPU with the same ISA.
//  Exact: the fastest method that meets the transformers fixtures' 1e-4 tolerance here (the
//         default). For BF16-stored matrices on CPUs where that is faster than the fp32 kernels
//         (cpu::exact_splits()), split-bf16: each fp32 activation is written as the sum of
//         kExactParts bf16 numbers (3: exactly), each part multiplied by the BF16 weights on the
//         bf16 kernel (products exact, fp32 accumulation) and the partial sums added in fp32.
//         Otherwise the fp32 kernels' products. Either way, on AVX-512 CPUs, the FMA attention
//         (cpu::attention_causal_fast_rows, float polynomial exp) and the polynomial-exp SwiGLU
//         (relative error < 5e-7), about twice as fast as the reference's at long texts; elsewhere
//         attention and SwiGLU as FP32, whose results it then gives bit for bit.
//  BF16:  activations rounded to bf16, BF16-stored weights used as stored, products accumulated
//         in fp32 (oneDNN: AMX, else AVX512-BF16), a faster attention. Matrices stored as F32 or
//         F16 are rounded to bf16 (to nearest even, as transformers' torch_dtype=bfloat16 does)
//         into the packed copy the bf16 kernel reads, so an F32 checkpoint runs as fast, and in
//         as little memory, as its BF16 version (embeddings, norms and biases stay as stored).
//         Falls back to FP32 on CPUs without bf16 hardware. docs/performance.md gives its
//         accuracy cost and speed.
// In FP32 and Exact, matrices stored as F32 or F16 run the fp32 kernels.
enum class Precision { FP32, BF16, Exact };
const char* precision_name(Precision p);  // "fp32" | "bf16" | "exact"
// Parses "exact", "fp32" or "bf16"; InputError naming `where` (e.g. "--precision") otherwise.
Precision parse_precision(const std::string& text, const std::string& where);

// LSC_BF16_PACK: whether the bf16 path copies BF16 matrices into the kernel's packed layout —
// Auto (unset, empty or "auto": when they fit in the memory available with 2 GiB to spare),
// Always ("1") or Never ("0": read in place; the same results, slower). Any other value is an
// InputError naming the variable (commands check it before any work: cli::precision_from_environment).
enum class PackMode { Auto, Always, Never };
PackMode bf16_pack_mode();

// bf16 parts of each activation in the exact precision's split-bf16 products. 3 hold an fp32
// activation exactly; 2 keep it to 2^-16 and missed the fixtures' 1e-4 (max |Δ logit| 1.24e-4 on
// qwen2-bf16, where fp32 and 3 parts give 9e-6: tests/model/golden_test.cpp).
inline constexpr int kExactParts = 3;

// What a pass at a requested precision really runs, for run manifests.
struct PrecisionUsed {
  // The products' arithmetic: BF16 or Exact (split-bf16) only if the CPU and some BF16 matrices
  // allow it; else FP32.
  Precision precision = Precision::FP32;
  std::string isa;  // "amx" | "avx512_bf16" for BF16 and Exact; the fp32 kernels' ISA for FP32
  int x_parts = 1;  // Exact: the bf16 parts of each activation
  // FP32 products asked for as exact: attention and SwiGLU the fast ones (AVX-512 CPUs; see
  // Precision), so the results are not fp32's bit for bit.
  bool fast_attention = false;
  // BF16: the stored dtypes of the matrices rounded to bf16 ("F32", "F16", "F32+F16"), or empty.
  std::string rounded;
  // "fp32", "bf16", "bf16 (F32 weights rounded to bf16)", "exact (split-bf16 x3)" or
  // "exact (fp32, fast attention)": what the manifests record.
  std::string method() const;
};

// How a pass multiplies: `bf16` = on the bf16 kernel, which BF16-stored matrices take, and F32/F16
// ones by their rounded copy when x_parts = 1 (the others run the fp32 kernels); x_parts = 1
// rounds the activations to bf16 (the bf16 precision), 2-3 splits them (split-bf16: the exact
// precision). `fast_attention`: the exact
// precision's attention and SwiGLU next to fp32 products.
struct Products {
  bool bf16 = false;
  int x_parts = 1;
  bool fast_attention = false;  // fp32 products: the fast attention and SwiGLU (PrecisionUsed)
};

// Rows of one chunk of a pass (chunked prefill: each layer runs over a pass's rows in chunks of
// this many, queries attending to the cached keys) by default. A multiple of the bf16 kernel's
// row tile.
inline constexpr int64_t kPrefillChunkRows = 2048;

// LM-head rows per chunk by default: four bf16 row tiles, so a task of the bf16 kernel reads each
// weight block of the 152k-column LM head (the largest product of a pass) once for 256 rows
// instead of once per 64 (AMX, 0.5B, 512 tokens: 918 -> 990 tok/s). Capped per vocabulary so a
// chunk's logits stay under 256 MiB (Model::chunk_rows); any chunking gives the same bits.
inline constexpr int64_t kLmHeadChunkRows = 256;

struct ForwardOptions {
  int64_t chunk_rows = kLmHeadChunkRows;  // LM-head rows per chunk (capped: Model::chunk_rows)
  TapFn tap;                // optional
  Precision precision = Precision::FP32;
  // Optional: called after each transformer layer with the number of layers done (progress).
  std::function<void(int layers_done)> on_layer;
  // Rows per chunk of the prefill (any ≥ 1 gives the same bits; tests use small ones).
  int64_t prefill_chunk_rows = kPrefillChunkRows;
};

class Model;
// What a command that runs `m` says when its config.json leaves stored tensors unused (a layer
// count cut by hand, another architecture's extras: the model that runs is not the one stored),
// "" when none is (a tied model's stored lm_head.weight aside): "N tensor(s) of DIR are not used
// by its config.json (the first three names and N more): …". `inspect` lists every one.
std::string unused_tensors_warning(const Model& m);

class Model {
 public:
  ~Model();
  // Opens and validates the checkpoint folder (InputError on anything wrong).
  static std::unique_ptr<Model> load(const std::string& dir);

  const ModelConfig& config() const { return cfg_; }
  const Checkpoint& checkpoint() const { return *ckpt_; }

  // Checks ids (non-empty, each in [0, vocab_size)); `where` names their source in errors.
  void validate_ids(std::span<const int32_t> ids, const std::string& where) const;

  // One teacher-forced pass over ids (validated first); calls consume() for each logits chunk in
  // position order. Equivalent to forward_hidden() followed by lm_head() over row chunks.
  void forward(std::span<const int32_t> ids, const LogitsConsumer& consume,
               const ForwardOptions& opt = {}) const;

  // The transformer without the LM head: final-normed hidden states [n_tokens, hidden_size].
  // Keeping these (not logits) lets several models' rows be recomputed side by side later.
  std::vector<float> forward_hidden(std::span<const int32_t> ids, const ForwardOptions& opt = {}) const;

  // Several texts in one pass: their rows are stacked for the matrix products (fuller tiles for
  // short texts), while positions, RoPE and attention stay per text. Returns each text's
  // forward_hidden(), bitwise (a row's products do not depend on the rows around it: tested).
  // opt.tap sees the texts' rows stacked (text i from row Σ_{j<i} |text j|).
  std::vector<std::vector<float>> forward_hidden_batch(const std::vector<std::span<const int32_t>>& texts,
                                                       const ForwardOptions& opt = {}) const;

  // logits[n_rows, vocab_size] = hidden[n_rows, hidden_size] · lm_headᵀ, at the given precision
  // (as forward() with ForwardOptions::precision). Reads the LM head packed if a pass packed it
  // and it was not released since, else in place (the same bits); never packs by itself.
  void lm_head(const float* hidden, int64_t n_rows, float* logits, Precision precision = Precision::FP32) const;

  // LM-head rows per chunk for a requested size (capped so a chunk's logits stay under 256 MiB).
  int64_t chunk_rows(int64_t requested) const;

  // out[n_rows, hidden_size] = the final RMSNorm of x, as the pass applies it after the last
  // layer (so the logit lens of the last layer is the model's own output, bit for bit).
  void final_norm(const float* x, int64_t n_rows, float* out) const;

  // Does now what the first pass at `precision` would do first (packing the weights for the bf16
  // kernel, where that applies), so a caller can say so while it runs.
  void prepare(Precision precision) const { products(precision); }

  // The precision and instruction set forward() uses when `requested` is asked for.
  PrecisionUsed precision_used(Precision requested) const;

  // Bytes of the packed bf16 copies of the weight matrices (0 until the first bf16 pass).
  size_t packed_bytes() const;
  // Bytes the packed copies would take at `precision` (every projection and the LM head that
  // the bf16 kernel takes: BF16-stored ones, and at bf16 the F32/F16 ones too; 0 for FP32).
  int64_t pack_bytes_needed(Precision precision) const;
  // Bytes of the weights a pass at `precision` reads: the checkpoint's tensors as stored, except
  // at bf16, where F32/F16 matrices count as their bf16 copies (the stored ones are read once,
  // while packing).
  int64_t weight_bytes(Precision precision) const;
  // Bytes of the LM head's bf16 copy that release_packed() keeps (an F32/F16 LM head at bf16),
  // else 0.
  int64_t lm_head_copy_bytes(Precision precision) const;
  // Frees the packed copies (BF16 matrices read the mapping again, giving the same bits: tested);
  // the next pass on the bf16 kernel packs again. For runs over several models whose packed
  // copies do not fit in memory together. Not while a pass of this model runs. An F32/F16 LM
  // head's bf16 copy is kept (lm_head() at bf16 reads it; it has no bf16 form in the mapping).
  void release_packed() const;

  // Bytes of working memory forward() allocates for n_tokens: the residual stream, the KV cache and
  // the final hidden rows grow with n_tokens; the rest is per chunk of kPrefillChunkRows rows
  // (chunked prefill) plus one logits chunk.
  int64_t activation_bytes(int64_t n_tokens) const;

 private:
  Model();
  struct Workspace;
  class BorrowedWorkspace;
  // The transformer into ws over ids = texts stacked, text i at rows [starts[i], starts[i + 1]);
  // returns the final-normed hidden states (in ws).
  const float* hidden_into(std::span<const int32_t> ids, std::span<const int64_t> starts, const ForwardOptions& opt,
                           Workspace& ws) const;
  // How a pass at `precision` multiplies; where that is on the bf16 kernel and `pack`, makes
  // sure the matrices are packed (the LM head alone never packs: it reads whatever the last pass
  // left, packed or in place, the same bits).
  Products products(Precision precision, bool pack = true) const;
  // Packs the BF16 matrices (where they fit: LSC_BF16_PACK) and, with `round_floats` (the bf16
  // precision), makes the bf16 copies of the F32/F16 ones, which have no in-place form.
  void pack_for_bf16(bool round_floats) const;
  // lm_head_'s bf16 copy (F32/F16 LM head, bf16 precision), made if missing.
  void round_lm_head() const;
  ModelConfig cfg_;
  std::unique_ptr<Checkpoint> ckpt_;
  cpu::WeightMatrix embed_;
  // The matrices' `packed` pointers are filled in by the first pass on the bf16 kernel after
  // loading or release_packed() (pack_for_bf16, under pack_mutex_); until then, and for the
  // fp32 kernels always, they read the mapping.
  mutable cpu::WeightMatrix lm_head_;
  mutable std::vector<LayerWeights> layers_;
  mutable std::mutex pack_mutex_;
  mutable bool pack_decided_ = false;  // pack_for_bf16 ran (it may have chosen not to pack)
  mutable bool floats_rounded_ = false;  // ... with round_floats
  mutable std::vector<std::shared_ptr<const cpu::PackedBf16>> packed_;
  mutable std::shared_ptr<const cpu::PackedBf16> lm_head_rounded_;  // kept by release_packed
  std::vector<float> final_norm_;
  std::vector<float> inv_freq_;  // [head_dim/2], as transformers computes it (float32)
  // forward()'s buffers, reused by the next pass (sized for the longest pass so far).
  mutable std::mutex ws_mutex_;
  mutable std::unique_ptr<Workspace> ws_;
};

// RoPE inverse frequencies in float32 exactly as transformers builds them (default, linear,
// llama3). Exposed for tests.
std::vector<float> rope_inv_freq(const ModelConfig& cfg);

}  // namespace lsc::model
