// Model loading (views + small fp32 vectors) and the teacher-forced forward pass.
// Reference: transformers' modeling_qwen2.py / modeling_qwen3.py / modeling_llama.py (eager).
#include "model/model.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <initializer_list>

#include "io/error.h"
#include "io/mapped_file.h"
#include "model/tensor_table.h"

namespace lsc::model {

namespace {

cpu::WeightMatrix as_matrix(const TensorView& t) {
  cpu::WeightMatrix m;
  m.data = t.data;
  m.type = t.dtype == io::DType::BF16 ? cpu::WType::BF16
           : t.dtype == io::DType::F16 ? cpu::WType::F16
                                       : cpu::WType::F32;
  m.rows = t.shape.size() == 2 ? t.shape[0] : 1;
  m.cols = t.shape.back();
  return m;
}

std::vector<float> to_f32(const TensorView& t) {
  cpu::WeightMatrix m = as_matrix(t);
  m.cols = m.rows * m.cols;
  m.rows = 1;
  std::vector<float> out(static_cast<size_t>(m.cols));
  cpu::convert_row(m, 0, out.data());
  return out;
}

// Whether a pass multiplying as `pr` runs w on the bf16 kernel: BF16-stored matrices on every
// bf16 kernel pass; F32/F16 ones in the bf16 precision only, through the bf16 copy its packing
// made (Model::pack_for_bf16): split-bf16 (exact) needs weights that are exact in bf16, and
// keeps those on the fp32 kernels.
bool on_bf16_kernel(const cpu::WeightMatrix& w, Products pr) {
  return pr.bf16 && (w.type == cpu::WType::BF16 || (pr.x_parts == 1 && w.packed != nullptr));
}

// `streaming`: out is large and read later (the LM head's logits chunk): the bf16 kernel writes
// it with non-temporal stores (same values).
void linear(const float* x, int64_t n_rows, const cpu::WeightMatrix& w, const std::vector<float>& bias,
            float* out, Products pr, bool streaming = false) {
  cpu::MatmulArgs a;
  a.x = x;
  a.n_rows = n_rows;
  a.w = w;
  a.bias = bias.empty() ? nullptr : bias.data();
  a.out = out;
  if (streaming) a.epilogue = cpu::Epilogue::StoreStreaming;
  if (on_bf16_kernel(w, pr)) {
    a.x_parts = pr.x_parts;
    cpu::matmul_bf16(a);
  } else {
    cpu::cpu_kernels().matmul(a);
  }
}

bool all_on_bf16_kernel(std::initializer_list<const cpu::WeightMatrix*> ws, Products pr) {
  for (const cpu::WeightMatrix* w : ws) {
    if (!on_bf16_kernel(*w, pr)) return false;
  }
  return true;
}

// Several products of the same activations: one batched bf16 call when every matrix is BF16,
// else one call each (identical results either way: a tile's arithmetic does not depend on the
// batch).
void linear_many(const float* x, int64_t n_rows, std::initializer_list<const cpu::WeightMatrix*> ws,
                 std::initializer_list<const std::vector<float>*> biases, std::initializer_list<float*> outs,
                 Products pr, const uint16_t* x16 = nullptr) {
  const bool all_bf16 = all_on_bf16_kernel(ws, pr);
  auto w = ws.begin();
  auto b = biases.begin();
  auto o = outs.begin();
  if (!all_bf16) {
    for (; w != ws.end(); ++w, ++b, ++o) linear(x, n_rows, **w, **b, *o, pr);
    return;
  }
  cpu::MatmulArgs args[4];
  int n = 0;
  for (; w != ws.end(); ++w, ++b, ++o, ++n) {
    args[n].x = x;
    args[n].x16 = x16;
    args[n].n_rows = n_rows;
    args[n].w = **w;
    args[n].bias = (*b)->empty() ? nullptr : (*b)->data();
    args[n].out = *o;
    args[n].x_parts = pr.x_parts;
  }
  cpu::matmul_bf16_batch(args, n);
}

// x += in · Wᵀ (+ bias): on the bf16 kernel inside the tiles' epilogue (in16, if given, is the
// input already in bf16), else a product into `scratch` and an add.
void add_linear(const float* in, const uint16_t* in16, int64_t n_rows, const cpu::WeightMatrix& w,
                const std::vector<float>& bias, float* x, float* scratch, Products pr) {
  if (on_bf16_kernel(w, pr)) {
    cpu::MatmulArgs a{in, n_rows, w, bias.empty() ? nullptr : bias.data(), x};
    a.x16 = in16;
    a.epilogue = cpu::Epilogue::Accumulate;
    a.x_parts = pr.x_parts;
    cpu::matmul_bf16(a);
  } else {
    linear(in, n_rows, w, bias, scratch, pr);
    cpu::add_inplace(x, scratch, n_rows * w.rows);
  }
}

template <class T>
T* sized(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

}  // namespace

// Working buffers of forward(), kept by the model between passes: allocating (and zeroing, and
// faulting in) ~100 MB per pass cost several percent of a 0.5B pass. Every buffer is fully
// written before it is read, so the contents left by the previous pass never matter.
struct Model::Workspace {
  std::vector<float> x, xn, q, k, v, att, proj, gate, up, cos_t, sin_t, logits;
  std::vector<uint16_t> act16;  // bf16 MLP activations (fused SwiGLU → down_proj)
  std::vector<uint16_t> x16;    // bf16 normed activations (rms_norm_bf16 → q/k/v, gate/up)
};

Model::Model() = default;
Model::~Model() = default;

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::FP32: return "fp32";
    case Precision::BF16: return "bf16";
    case Precision::Exact: return "exact";
  }
  return "?";
}

Precision parse_precision(const std::string& text, const std::string& where) {
  for (Precision p : {Precision::Exact, Precision::FP32, Precision::BF16}) {
    if (text == precision_name(p)) return p;
  }
  throw InputError(where, "precision", "exact, fp32 or bf16", "'" + text + "'");
}

std::string PrecisionUsed::method() const {
  if (precision == Precision::FP32 && fast_attention) return "exact (fp32, fast attention)";
  if (precision == Precision::BF16 && !rounded.empty()) return "bf16 (" + rounded + " weights rounded to bf16)";
  if (precision != Precision::Exact) return precision_name(precision);
  return "exact (split-bf16 x" + std::to_string(x_parts) + ")";
}

PrecisionUsed Model::precision_used(Precision requested) const {
  bool stored[3] = {false, false, false};  // F32, F16, BF16
  auto note = [&](const cpu::WeightMatrix& m) {
    stored[m.type == cpu::WType::F32 ? 0 : m.type == cpu::WType::F16 ? 1 : 2] = true;
  };
  note(lm_head_);
  for (const LayerWeights& w : layers_) {
    for (const cpu::WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) note(*m);
  }
  const std::string isa = cpu::bf16_isa();
  if (requested == Precision::BF16 && isa != "none") {
    return {Precision::BF16, isa, 1, false,
            stored[0] && stored[1] ? "F32+F16" : stored[0] ? "F32" : stored[1] ? "F16" : ""};
  }
  if (requested == Precision::Exact && stored[2] && cpu::exact_splits()) return {Precision::Exact, isa, kExactParts, false, ""};
  // The fast attention and SwiGLU exist on AVX-512 (elsewhere they are the reference's).
  return {Precision::FP32, cpu::cpu_kernels().isa, 1, requested == Precision::Exact && cpu::cpu_kernels().avx512, ""};
}

std::vector<float> rope_inv_freq(const ModelConfig& c) {
  const int half = c.head_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  // transformers: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32.
  const float base = static_cast<float>(c.rope_theta);
  for (int i = 0; i < half; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(c.head_dim);
    inv[static_cast<size_t>(i)] = 1.0f / std::pow(base, e);
  }
  if (c.rope_scaling == RopeScaling::Linear) {
    for (float& f : inv) f /= static_cast<float>(c.rope_factor);
  } else if (c.rope_scaling == RopeScaling::Llama3) {
    // _compute_llama3_parameters: long wavelengths divided by factor, short ones kept, the band
    // between smoothly interpolated.
    const float factor = static_cast<float>(c.rope_factor);
    const float low = static_cast<float>(c.rope_low_freq_factor), high = static_cast<float>(c.rope_high_freq_factor);
    const float old_len = static_cast<float>(c.rope_original_max_position_embeddings);
    const float low_freq_wavelen = old_len / low, high_freq_wavelen = old_len / high;
    const float two_pi = static_cast<float>(2.0 * M_PI);
    for (float& f : inv) {
      const float wavelen = two_pi / f;
      float scaled = wavelen > low_freq_wavelen ? f / factor : f;
      const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
      if (medium) {
        const float smooth = (old_len / wavelen - low) / (high - low);
        scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
      }
      f = scaled;
    }
  }
  return inv;
}

// Where each layer tensor of the tensor table goes (suffix after "model.layers.<i>.").
const std::pair<const char*, cpu::WeightMatrix LayerWeights::*> kLayerMatrices[] = {
    {"self_attn.q_proj.weight", &LayerWeights::wq}, {"self_attn.k_proj.weight", &LayerWeights::wk},
    {"self_attn.v_proj.weight", &LayerWeights::wv}, {"self_attn.o_proj.weight", &LayerWeights::wo},
    {"mlp.gate_proj.weight", &LayerWeights::w_gate}, {"mlp.up_proj.weight", &LayerWeights::w_up},
    {"mlp.down_proj.weight", &LayerWeights::w_down}};
const std::pair<const char*, std::vector<float> LayerWeights::*> kLayerVectors[] = {
    {"input_layernorm.weight", &LayerWeights::attn_norm}, {"post_attention_layernorm.weight", &LayerWeights::ffn_norm},
    {"self_attn.q_proj.bias", &LayerWeights::bq}, {"self_attn.k_proj.bias", &LayerWeights::bk},
    {"self_attn.v_proj.bias", &LayerWeights::bv}, {"self_attn.q_norm.weight", &LayerWeights::q_norm},
    {"self_attn.k_norm.weight", &LayerWeights::k_norm}, {"self_attn.o_proj.bias", &LayerWeights::bo},
    {"mlp.gate_proj.bias", &LayerWeights::b_gate}, {"mlp.up_proj.bias", &LayerWeights::b_up},
    {"mlp.down_proj.bias", &LayerWeights::b_down}};

std::string unused_tensors_warning(const Model& m) {
  std::vector<std::string> unused = m.checkpoint().unused_tensors();
  std::erase_if(unused, [&](const std::string& t) { return t == "lm_head.weight" && m.config().tie_word_embeddings; });
  if (unused.empty()) return "";
  std::string names;
  for (size_t i = 0; i < unused.size() && i < 3; ++i) names += (i ? ", " : "") + unused[i];
  if (unused.size() > 3) names += " and " + std::to_string(unused.size() - 3) + " more";
  const std::string& dir = m.checkpoint().dir();
  return std::to_string(unused.size()) + " tensor(s) of " + dir + " are not used by its config.json (" + names +
         "): is config.json the checkpoint's own? 'logitscope inspect " + dir + "' lists them";
}

std::unique_ptr<Model> Model::load(const std::string& dir) {
  auto m = std::unique_ptr<Model>(new Model());
  m->ckpt_ = Checkpoint::open(dir);
  m->cfg_ = m->ckpt_->config();
  const ModelConfig& c = m->cfg_;
  const Checkpoint& ck = *m->ckpt_;
  m->embed_ = as_matrix(ck.get("model.embed_tokens.weight"));
  m->lm_head_ = c.tie_word_embeddings ? m->embed_ : as_matrix(ck.get("lm_head.weight"));
  m->final_norm_ = to_f32(ck.get("model.norm.weight"));
  // Every layer tensor the tensor table lists for this config (biases and q/k norms only where the
  // config has them) into its place in LayerWeights.
  m->layers_.resize(static_cast<size_t>(c.num_hidden_layers));
  for_each_tensor(c, [&](const TensorSpec& spec) {
    const std::string prefix = "model.layers.";
    if (spec.name.compare(0, prefix.size(), prefix) != 0) return;
    const size_t dot = spec.name.find('.', prefix.size());
    const int i = std::stoi(spec.name.substr(prefix.size(), dot - prefix.size()));
    const std::string suffix = spec.name.substr(dot + 1);
    LayerWeights& w = m->layers_[static_cast<size_t>(i)];
    const TensorView& t = ck.get(spec.name);
    for (const auto& [name, matrix] : kLayerMatrices) {
      if (suffix == name) {
        w.*matrix = as_matrix(t);
        return;
      }
    }
    for (const auto& [name, vec] : kLayerVectors) {
      if (suffix == name) {
        w.*vec = to_f32(t);
        return;
      }
    }
    LSC_CHECK(false && "a layer tensor of the tensor table has no place in LayerWeights");
  });
  m->inv_freq_ = rope_inv_freq(c);
  return m;
}

void Model::validate_ids(std::span<const int32_t> ids, const std::string& where) const {
  if (ids.empty()) throw InputError(where, "token ids", "at least one id", "an empty list");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= cfg_.vocab_size) {
      throw InputError(where, "token id at position " + std::to_string(i),
                       "an id in [0, " + std::to_string(cfg_.vocab_size) + ")", std::to_string(ids[i]));
    }
  }
}

// At most `requested` rows and 256 MiB of logits; a multiple of the bf16 row tile where the cap
// allows one (a chunk then computes no padding rows except at the end of its range).
static int64_t lm_chunk_rows(int64_t requested, int64_t vocab) {
  int64_t cap = std::max<int64_t>(1, (int64_t{256} << 20) / (vocab * 4));
  if (cap >= cpu::kBf16RowTile) cap = cap / cpu::kBf16RowTile * cpu::kBf16RowTile;
  return std::clamp<int64_t>(requested, 1, cap);
}

int64_t Model::activation_bytes(int64_t n_tokens) const {
  const ModelConfig& c = cfg_;
  const int64_t q = int64_t{c.num_attention_heads} * c.head_dim, kv = int64_t{c.num_key_value_heads} * c.head_dim;
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  // The whole pass: the residual stream and the final-normed rows (x, xn), the KV cache (k, v),
  // the bf16 attention's bf16 K and V, the RoPE tables.
  const int64_t whole = 4 * n_tokens * (2 * h + 3 * kv + c.head_dim);
  // One chunk of rows: q, attention out, the projection scratch, fp32 gate/up, and the bf16 rows
  // (up to three parts of a product's input: split-bf16).
  const int64_t chunk = std::min(n_tokens, kPrefillChunkRows);
  const int64_t per_chunk = chunk * (4 * (2 * q + h + 2 * inter) + 2 * (h + inter) + 2 * kExactParts * inter);
  // Attention scores per thread (one query's row of n_tokens keys, up to 8 heads at a time).
  const int64_t scores = 4 * int64_t{omp_get_max_threads()} * 8 * (n_tokens + 16);
  return whole + per_chunk + scores + 4 * lm_chunk_rows(kLmHeadChunkRows, c.vocab_size) * c.vocab_size;
}

int64_t Model::chunk_rows(int64_t requested) const { return lm_chunk_rows(requested, cfg_.vocab_size); }

void Model::final_norm(const float* x, int64_t n_rows, float* out) const {
  cpu::rms_norm(x, final_norm_.data(), n_rows, cfg_.hidden_size, cfg_.rms_norm_eps, out);
}

void Model::lm_head(const float* hidden, int64_t n_rows, float* logits, Precision precision) const {
  static const std::vector<float> kNoBias;
  linear(hidden, n_rows, lm_head_, kNoBias, logits, products(precision, /*pack=*/false), /*streaming=*/true);
}

// The model's workspace for one pass; a concurrent or nested pass (a consumer that runs this
// model again) finds it taken and uses a fresh one.
class Model::BorrowedWorkspace {
 public:
  explicit BorrowedWorkspace(const Model& m) : m_(m) {
    {
      std::lock_guard<std::mutex> lock(m_.ws_mutex_);
      ws_ = std::move(m_.ws_);
    }
    if (!ws_) ws_ = std::make_unique<Workspace>();
  }
  ~BorrowedWorkspace() {
    std::lock_guard<std::mutex> lock(m_.ws_mutex_);
    if (!m_.ws_) m_.ws_ = std::move(ws_);
  }
  Workspace& operator*() { return *ws_; }

 private:
  const Model& m_;
  std::unique_ptr<Workspace> ws_;
};

void Model::forward(std::span<const int32_t> ids, const LogitsConsumer& consume,
                    const ForwardOptions& opt) const {
  BorrowedWorkspace ws(*this);
  const int64_t one_text[2] = {0, static_cast<int64_t>(ids.size())};
  const float* xn = hidden_into(ids, one_text, opt, *ws);
  const int64_t n_t = static_cast<int64_t>(ids.size()), h = cfg_.hidden_size, vocab = cfg_.vocab_size;
  // LM head over row chunks; each chunk goes to the consumer while hot. The chunk buffer is kept
  // with the workspace (39 MB for a 152k vocabulary: zeroing and faulting it in every pass would
  // cost time each pass).
  const int64_t chunk = chunk_rows(opt.chunk_rows);
  float* logits = sized((*ws).logits, std::min(chunk, n_t) * vocab);
  for (int64_t t0 = 0; t0 < n_t; t0 += chunk) {
    const int64_t n_rows = std::min(chunk, n_t - t0);
    lm_head(xn + t0 * h, n_rows, logits, opt.precision);
    consume(LogitsChunk{t0, n_rows, vocab, logits});
  }
}

std::vector<float> Model::forward_hidden(std::span<const int32_t> ids, const ForwardOptions& opt) const {
  BorrowedWorkspace ws(*this);
  const int64_t one_text[2] = {0, static_cast<int64_t>(ids.size())};
  const float* xn = hidden_into(ids, one_text, opt, *ws);
  return std::vector<float>(xn, xn + static_cast<int64_t>(ids.size()) * cfg_.hidden_size);
}

std::vector<std::vector<float>> Model::forward_hidden_batch(const std::vector<std::span<const int32_t>>& texts,
                                                            const ForwardOptions& opt) const {
  std::vector<int32_t> ids;
  std::vector<int64_t> starts{0};
  for (size_t i = 0; i < texts.size(); ++i) {
    validate_ids(texts[i], "forward (text " + std::to_string(i) + " of a batch)");
    ids.insert(ids.end(), texts[i].begin(), texts[i].end());
    starts.push_back(static_cast<int64_t>(ids.size()));
  }
  std::vector<std::vector<float>> out;
  if (texts.empty()) return out;
  BorrowedWorkspace ws(*this);
  const float* xn = hidden_into(ids, starts, opt, *ws);
  const int64_t h = cfg_.hidden_size;
  for (size_t i = 0; i < texts.size(); ++i) out.emplace_back(xn + starts[i] * h, xn + starts[i + 1] * h);
  return out;
}

namespace {

// The kernels of one pass, chosen once: the bf16 path (bf16 products where the matrices are BF16,
// the bf16 tiles' attention and the fast SwiGLU), the exact path (split-bf16 products where the matrices are
// BF16, the reference attention and SwiGLU) or the fp32 path (fp32 products, the reference
// attention and SwiGLU).
struct PassOps {
  Products mm;
  void (*attention)(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first, int64_t n_heads,
                    int64_t n_kv_heads, int64_t head_dim, float scale, float* out) = nullptr;
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* out) = nullptr;
};

PassOps pass_ops(Products mm) {
  // The reference attention and SwiGLU (the ISA's vector versions, bit for bit the reference's)
  // for the fp32 precision: bit for bit the fp32 results. The exact precision promises
  // fp32-grade accuracy, not those bits: the AVX-512 FMA attention and the polynomial-exp SwiGLU
  // (relative error < 5e-7) keep it at about half the cost at long texts (split-bf16 products, or
  // fp32 products on CPUs where split-bf16 is slower; `fast_attention` is set on AVX-512 only).
  if (mm.bf16 && mm.x_parts == 1) return {mm, cpu::attention_causal_bf16_rows, cpu::swiglu_fast};
  if (mm.bf16 || mm.fast_attention) return {mm, cpu::attention_causal_fast_rows, cpu::swiglu_fast};
  return {mm, cpu::cpu_kernels().attention, cpu::cpu_kernels().swiglu};
}

// The bf16 kernel with activations rounded to bf16 (the bf16 precision).
bool rounds_to_bf16(Products mm) { return mm.bf16 && mm.x_parts == 1; }

// One pass over n_t rows (texts stacked; text i at rows [starts[i], starts[i + 1])) and its
// buffers. Whole-pass buffers: the residual stream x and the KV cache k, v ([n_t, ·]). Everything
// else is per chunk of rows (chunked prefill): each layer runs over the rows chunk by chunk, a
// chunk's queries attending to the cached keys of its text, so the working memory beyond the
// KV cache and x does not grow with n_t. Every product, norm and attention row computes a row
// the same way whatever rows it shares a call with, so the chunking changes no bit.
struct Pass {
  const ModelConfig& c;
  PassOps ops;
  int64_t n_t;
  std::span<const int64_t> starts;
  const float *cos_t, *sin_t;  // RoPE tables [longest text, head_dim / 2]
  float *x, *k, *v;            // [n_t, ·]
  float *xn, *q, *att, *proj, *gate, *up;  // [chunk rows, ·]
  uint16_t *x16, *act16;                    // [chunk rows, ·]
};

// The rows [r0, r0 + n) of one chunk.
struct Rows {
  int64_t r0, n;
};

// rms_norm(x) of the chunk's rows as the input of products with the matrices ws: written as
// bf16 (x16) where the bf16 kernel runs all of them, else as fp32 (xn). Returns the fp32 input,
// or null for x16.
const float* normed_input(const Pass& p, Rows r, const std::vector<float>& norm,
                          std::initializer_list<const cpu::WeightMatrix*> ws) {
  const float* x = p.x + r.r0 * p.c.hidden_size;
  if (rounds_to_bf16(p.ops.mm) && all_on_bf16_kernel(ws, p.ops.mm)) {
    cpu::rms_norm_bf16(x, norm.data(), r.n, p.c.hidden_size, p.c.rms_norm_eps, p.x16);
    return nullptr;
  }
  cpu::rms_norm(x, norm.data(), r.n, p.c.hidden_size, p.c.rms_norm_eps, p.xn);
  return p.xn;
}

// x += o_proj(attention(rope(q), rope(k), v)), with q, k, v = projections of rms_norm(x), for the
// chunk's rows; their k and v join the cache, and their queries attend to every cached key of
// their text up to themselves (the chunks of a pass run in row order).
void attention_block(const Pass& p, Rows r, const LayerWeights& w) {
  const ModelConfig& c = p.c;
  const int64_t d = c.head_dim, n_h = c.num_attention_heads, n_kv = c.num_key_value_heads;
  const int64_t q_cols = n_h * d, kv_cols = n_kv * d, half = d / 2;
  float *k = p.k + r.r0 * kv_cols, *v = p.v + r.r0 * kv_cols;
  const float* in = normed_input(p, r, w.attn_norm, {&w.wq, &w.wk, &w.wv});
  linear_many(in, r.n, {&w.wq, &w.wk, &w.wv}, {&w.bq, &w.bk, &w.bv}, {p.q, k, v}, p.ops.mm,
              in == nullptr ? p.x16 : nullptr);
  if (c.qk_norm) {  // Qwen3: RMSNorm over each head's head_dim values, before RoPE
    cpu::rms_norm(p.q, w.q_norm.data(), r.n * n_h, d, c.rms_norm_eps, p.q);
    cpu::rms_norm(k, w.k_norm.data(), r.n * n_kv, d, c.rms_norm_eps, k);
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (size_t s = 0; s + 1 < p.starts.size(); ++s) {  // positions and attention per text
    const int64_t a = std::max(r.r0, p.starts[s]), b = std::min(r.r0 + r.n, p.starts[s + 1]);
    if (a >= b) continue;
    const int64_t pos0 = a - p.starts[s], len = b - a;  // the text's positions [pos0, pos0 + len)
    float* qs = p.q + (a - r.r0) * q_cols;
    cpu::apply_rope(qs, len, n_h, d, p.cos_t + pos0 * half, p.sin_t + pos0 * half);
    cpu::apply_rope(p.k + a * kv_cols, len, n_kv, d, p.cos_t + pos0 * half, p.sin_t + pos0 * half);
    p.ops.attention(qs, p.k + p.starts[s] * kv_cols, p.v + p.starts[s] * kv_cols, len, pos0, n_h, n_kv, d, scale,
                    p.att + (a - r.r0) * q_cols);
  }
  add_linear(p.att, nullptr, r.n, w.wo, w.bo, p.x + r.r0 * c.hidden_size, p.proj, p.ops.mm);
}

// Whether the layer's MLP runs fused on the bf16 kernel: its gate/up pair packed (pack_for_bf16)
// and taken by this pass.
bool fused_mlp(const LayerWeights& w, Products pr) {
  return w.w_gate_up.packed != nullptr && on_bf16_kernel(w.w_gate_up, pr);
}

// x += down(silu(gate(rms_norm(x))) · up(rms_norm(x))) for the chunk's rows.
void mlp_block(const Pass& p, Rows r, const LayerWeights& w) {
  float* x = p.x + r.r0 * p.c.hidden_size;
  const bool fused = fused_mlp(w, p.ops.mm);
  const float* in = fused ? normed_input(p, r, w.ffn_norm, {&w.w_gate_up})
                          : normed_input(p, r, w.ffn_norm, {&w.w_gate, &w.w_up});
  if (fused && p.ops.mm.x_parts > 1) {
    // Split-bf16, fused: gate/up tiles → SwiGLU (swiglu()'s arithmetic) into the fp32 gate rows
    // in their epilogue; down_proj reads them. The arithmetic of the unfused steps below.
    cpu::MatmulArgs gu{in, r.n, w.w_gate_up, w.b_gate.empty() ? nullptr : w.b_gate.data(), p.gate};
    gu.epilogue = cpu::Epilogue::Swiglu;
    gu.bias_up = w.b_up.empty() ? nullptr : w.b_up.data();
    gu.x_parts = p.ops.mm.x_parts;
    cpu::matmul_bf16(gu);
    add_linear(p.gate, nullptr, r.n, w.w_down, w.b_down, x, p.proj, p.ops.mm);
    return;
  }
  if (fused) {
    // Fused: gate/up tiles → SwiGLU → bf16 in their epilogue; down_proj reads the bf16 rows and
    // adds into x. The same arithmetic as the unfused bf16 steps below, without the fp32
    // gate/up matrices.
    cpu::MatmulArgs gu{nullptr, r.n, w.w_gate_up, w.b_gate.empty() ? nullptr : w.b_gate.data(), nullptr};
    gu.x16 = p.x16;
    gu.epilogue = cpu::Epilogue::SwigluBf16;
    gu.bias_up = w.b_up.empty() ? nullptr : w.b_up.data();
    gu.out16 = p.act16;
    cpu::matmul_bf16(gu);
    add_linear(nullptr, p.act16, r.n, w.w_down, w.b_down, x, p.proj, p.ops.mm);
    return;
  }
  linear_many(in, r.n, {&w.w_gate, &w.w_up}, {&w.b_gate, &w.b_up}, {p.gate, p.up}, p.ops.mm,
              in == nullptr ? p.x16 : nullptr);
  p.ops.swiglu(p.gate, p.up, r.n * p.c.intermediate_size, p.gate);
  add_linear(p.gate, nullptr, r.n, w.w_down, w.b_down, x, p.proj, p.ops.mm);
}

}  // namespace

const float* Model::hidden_into(std::span<const int32_t> ids, std::span<const int64_t> starts,
                               const ForwardOptions& opt, Workspace& ws) const {
  validate_ids(ids, "forward");
  LSC_CHECK(starts.size() >= 2 && starts.front() == 0 && starts.back() == static_cast<int64_t>(ids.size()));
  int64_t longest = 0;
  for (size_t i = 0; i + 1 < starts.size(); ++i) longest = std::max(longest, starts[i + 1] - starts[i]);
  const ModelConfig& c = cfg_;
  const int64_t n_t = static_cast<int64_t>(ids.size()), h = c.hidden_size, d = c.head_dim;
  const int64_t q_cols = int64_t{c.num_attention_heads} * d, kv_cols = int64_t{c.num_key_value_heads} * d;
  const PassOps ops = pass_ops(products(opt.precision));

  // RoPE tables [longest, d/2]: angle = float32(pos) * inv_freq in float32, as transformers does.
  const int64_t half = d / 2;
  float* cos_t = sized(ws.cos_t, longest * half);
  float* sin_t = sized(ws.sin_t, longest * half);
  for (int64_t t = 0; t < longest; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(t) * inv_freq_[static_cast<size_t>(i)];
      cos_t[t * half + i] = std::cos(angle);
      sin_t[t * half + i] = std::sin(angle);
    }
  }
  const int64_t chunk = std::min(n_t, std::max<int64_t>(1, opt.prefill_chunk_rows)), inter = c.intermediate_size;
  // The fused gate/up → SwiGLU paths need no fp32 up rows, the bf16 one no fp32 gate rows either
  // (layers can differ where a checkpoint mixes dtypes and its BF16 matrices are not packed).
  bool any_fused = false, all_fused = true;
  for (const LayerWeights& w : layers_) {
    const bool fused = fused_mlp(w, ops.mm);
    any_fused = any_fused || fused;
    all_fused = all_fused && fused;
  }
  const bool bf16_acts = rounds_to_bf16(ops.mm);
  float* xn_all = sized(ws.xn, n_t * h);  // the final-normed rows returned; the chunks' xn before
  const Pass p{c, ops, n_t, starts, cos_t, sin_t,
               sized(ws.x, n_t * h), sized(ws.k, n_t * kv_cols), sized(ws.v, n_t * kv_cols),
               xn_all, sized(ws.q, chunk * q_cols), sized(ws.att, chunk * q_cols), sized(ws.proj, chunk * h),
               all_fused && bf16_acts ? nullptr : sized(ws.gate, chunk * inter),
               all_fused ? nullptr : sized(ws.up, chunk * inter), bf16_acts ? sized(ws.x16, chunk * h) : nullptr,
               any_fused && bf16_acts ? sized(ws.act16, chunk * inter) : nullptr};
  auto tap = [&](const std::string& name, const float* a) {
    if (opt.tap) opt.tap(name, a, n_t, h);
  };

  for (int64_t t = 0; t < n_t; ++t) cpu::convert_row(embed_, ids[static_cast<size_t>(t)], p.x + t * h);
  tap("embed", p.x);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const LayerWeights& w = layers_[static_cast<size_t>(i)];
    for (int64_t r0 = 0; r0 < n_t; r0 += chunk) {
      const Rows r{r0, std::min(chunk, n_t - r0)};
      attention_block(p, r, w);
      mlp_block(p, r, w);
    }
    tap("layer." + std::to_string(i), p.x);
    if (opt.on_layer) opt.on_layer(i + 1);
  }
  cpu::rms_norm(p.x, final_norm_.data(), n_t, h, c.rms_norm_eps, xn_all);
  tap("final_norm", xn_all);
  return xn_all;
}

}  // namespace lsc::model
