// The GPU backend (gpu.h) on the CUDA runtime, cuBLASLt and kernels/cuda.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "gpu/gpu.h"
#include "io/error.h"
#include "kernels/cuda/kernels_cuda.h"
#include "model/tensor_table.h"

namespace lsc::gpu {

namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
// Rows per chunk of the prefill (chunked as on the CPU: the working memory beyond the KV cache and
// the residual stream does not grow with the text) and per LM-head chunk of the measuring step.
constexpr int64_t kPrefillRows = 4096;
constexpr int64_t kLmRows = 256;
// Kept free on the device beyond our estimate (CUDA context, cuBLASLt, fragmentation).
constexpr int64_t kSpareBytes = int64_t{768} << 20;

std::string gib(int64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GiB", double(bytes) / double(kGiB));
  return b;
}

cuda::DType dtype_of(io::DType t) {
  switch (t) {
    case io::DType::BF16: return cuda::DType::BF16;
    case io::DType::F16: return cuda::DType::F16;
    default: return cuda::DType::F32;
  }
}

// A device allocation, freed with its owner.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(int64_t bytes) { resize(bytes); }
  ~Buffer() { release(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr, o.bytes_ = 0; }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_, bytes_ = o.bytes_;
      o.p_ = nullptr, o.bytes_ = 0;
    }
    return *this;
  }
  // Grows (contents not kept) to at least `bytes`.
  void ensure(int64_t bytes) {
    if (bytes > bytes_) resize(bytes);
  }
  void* get() const { return p_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void resize(int64_t bytes) {
    release();
    if (bytes <= 0) return;
    LSC_CUDA_CHECK(cudaMalloc(&p_, size_t(bytes)));
    bytes_ = bytes;
  }
  void release() {
    if (p_ != nullptr) cudaFree(p_);
    p_ = nullptr, bytes_ = 0;
  }
  void* p_ = nullptr;
  int64_t bytes_ = 0;
};

struct Mat {
  Buffer buf;
  cuda::DType type = cuda::DType::F32;
  int64_t rows = 0, cols = 0;
};
using Vec = Buffer;  // fp32 on the device; empty where the config has no such vector

struct Layer {
  Vec attn_norm, ffn_norm, bq, bk, bv, bo, q_norm, k_norm, b_gate, b_up, b_down;
  Mat wq, wk, wv, wo, gate, up, down;
};

struct DevModel {
  const model::Model* cpu = nullptr;
  model::ModelConfig c;
  Mat embed, lm_head_own;  // lm_head_own empty when tied
  const Mat& lm_head() const { return c.tie_word_embeddings ? embed : lm_head_own; }
  std::vector<Layer> layers;
  Vec final_norm, inv_freq;
  bool bf16 = false;  // products of BF16-stored matrices in bf16
  Buffer logits;      // [kLmRows, vocab]: the last summarize() chunk
  int64_t logits_rows = 0;
  int64_t weight_bytes = 0;
};

class CudaModels final : public GpuModels {
 public:
  CudaModels(int device, const std::vector<const model::Model*>& models, model::Precision precision, int64_t max_tokens,
             int top_k, const std::vector<analysis::KeywordFamily>& families);
  ~CudaModels() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  const DeviceInfo& device() const override { return info_; }
  std::string method(size_t m) const override {
    return models_[m].bf16 ? "bf16 (cuBLASLt, fp32 accumulation)" : "fp32 (cuBLASLt, TF32 off)";
  }
  std::vector<float> forward_hidden(size_t m, std::span<const int32_t> ids, const model::ForwardOptions& opt) override;
  void summarize(size_t m, const float* hidden, int64_t n, const int32_t* observed, int n_top,
                 analysis::RowSummary* out) override;
  void compare(size_t a, size_t b, int64_t n, const analysis::RowSummary* const* sa,
               const analysis::RowSummary* const* sb, analysis::PairSummary* out) override;
  void lm_head(size_t m, const float* hidden, int64_t n, float* out) override;
  int64_t chunk_rows() const override { return kLmRows; }

 private:
  void upload(DevModel& d);
  void upload_matrix(const model::TensorView& t, Mat& m);
  void upload_vector(const model::TensorView& t, Vec& v);
  // The largest widths over the models (w32: elements of the largest matrix an fp32 product
  // widens), for the shared working buffers.
  struct Dims {
    int64_t h = 0, kv = 0, q = 0, inter = 0, w32 = 0;
  };
  Dims dims() const;
  // Working memory for passes of n_tokens (every model: the passes run one at a time).
  int64_t work_bytes(int64_t n_tokens) const;
  void ensure_work(int64_t n_tokens);
  // out[n, w.rows] (= or +=) in[n, w.cols] · wᵀ (+ bias), at the model's precision.
  void linear(const DevModel& d, const float* in, int64_t n, const Mat& w, const Vec& bias, float* out, bool accumulate);
  void logits_of(DevModel& d, const float* hidden, int64_t n);
  void sync() { LSC_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  int dev_;
  DeviceInfo info_;
  std::vector<DevModel> models_;
  std::unique_ptr<cuda::Gemm> gemm_;
  cudaStream_t stream_ = nullptr;
  int top_k_;
  int n_fam_;
  Buffer fam_ids_, fam_off_;
  // Working buffers shared by the models' passes.
  int64_t work_tokens_ = 0;
  Buffer ids_, x_, k_, v_, xn_, q_, att_, gate_, up_, x16_, w32_, hidden_in_, targets_, stats_, prop_, pair_lse_,
      pair_sums_;
  std::vector<float> host_tap_;
};

}  // namespace

bool built_with_cuda() { return true; }

std::vector<DeviceInfo> cuda_devices(std::string* why) {
  std::vector<DeviceInfo> out;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    if (why != nullptr) {
      *why = std::string("no CUDA device: ") +
             (e != cudaSuccess ? std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e) : "the driver reports none") +
             (e == cudaErrorInsufficientDriver ? " (no NVIDIA driver, or one older than this build's CUDA runtime: check nvidia-smi, or use --device cpu)"
                                               : " (check nvidia-smi and CUDA_VISIBLE_DEVICES, or use --device cpu)");
    }
    (void)cudaGetLastError();
    return out;
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    LSC_CUDA_CHECK(cudaGetDeviceProperties(&p, i));
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.cc_major = p.major;
    d.cc_minor = p.minor;
    d.total_bytes = int64_t(p.totalGlobalMem);
    d.driver_version = driver;
    d.runtime_version = runtime;
    out.push_back(d);
  }
  return out;
}

double gemm_seconds(int device, int64_t n, int64_t k, int64_t m, bool bf16, int reps) {
  std::string why;
  const auto devices = cuda_devices(&why);
  if (devices.empty()) throw DeviceError(why);
  cuda::set_current_device_for_messages(device);
  LSC_CUDA_CHECK(cudaSetDevice(device));
  const int64_t es = bf16 ? 2 : 4;
  Buffer x(n * k * es), w(m * k * es), c(n * m * 4);
  LSC_CUDA_CHECK(cudaMemset(x.get(), 0, size_t(n * k * es)));
  LSC_CUDA_CHECK(cudaMemset(w.get(), 0, size_t(m * k * es)));
  cuda::Gemm gemm(device);
  cudaStream_t st = nullptr;
  LSC_CUDA_CHECK(cudaStreamCreate(&st));
  cudaEvent_t a = nullptr, b = nullptr;
  LSC_CUDA_CHECK(cudaEventCreate(&a));
  LSC_CUDA_CHECK(cudaEventCreate(&b));
  gemm.run(x.get(), w.get(), bf16, n, k, m, c.as<float>(), false, st);  // warm-up (plans, clocks)
  std::vector<double> t;
  for (int r = 0; r < std::max(reps, 1); ++r) {
    LSC_CUDA_CHECK(cudaEventRecord(a, st));
    gemm.run(x.get(), w.get(), bf16, n, k, m, c.as<float>(), false, st);
    LSC_CUDA_CHECK(cudaEventRecord(b, st));
    LSC_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0.0f;
    LSC_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(double(ms) * 1e-3);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaStreamDestroy(st);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::unique_ptr<GpuModels> GpuModels::create(int device, const std::vector<const model::Model*>& models,
                                             model::Precision precision, int64_t max_tokens, int top_k,
                                             const std::vector<analysis::KeywordFamily>& families) {
  return std::make_unique<CudaModels>(device, models, precision, max_tokens, top_k, families);
}

namespace {

CudaModels::CudaModels(int device, const std::vector<const model::Model*>& models, model::Precision precision,
                       int64_t max_tokens, int top_k, const std::vector<analysis::KeywordFamily>& families)
    : dev_(device), top_k_(std::max(top_k, 2)), n_fam_(int(families.size())) {
  std::string why;
  const std::vector<DeviceInfo> devices = cuda_devices(&why);
  if (devices.empty()) throw DeviceError(why);
  if (device < 0 || device >= int(devices.size())) {
    throw DeviceError("--device cuda:" + std::to_string(device) + ": no such device (this process sees " +
                      std::to_string(devices.size()) + ": cuda:0-" + std::to_string(devices.size() - 1) + ")");
  }
  if (top_k_ > cuda::kMaxTopK) {
    throw UsageError("--top-k " + std::to_string(top_k) + ": the CUDA backend keeps at most " +
                     std::to_string(cuda::kMaxTopK) + " (use --device cpu for more)");
  }
  info_ = devices[size_t(device)];
  cuda::set_current_device_for_messages(device);
  LSC_CUDA_CHECK(cudaSetDevice(device));
  size_t free_b = 0, total_b = 0;
  LSC_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  info_.free_bytes = int64_t(free_b);
  // The plan: every model's weights as stored, its logits chunk, and the shared working memory.
  models_.resize(models.size());
  int64_t need = 0;
  std::string per_model;
  for (size_t m = 0; m < models.size(); ++m) {
    DevModel& d = models_[m];
    d.cpu = models[m];
    d.c = models[m]->config();
    bool all_bf16 = true;
    for (const auto& [dt, bytes] : models[m]->checkpoint().used_bytes_by_dtype()) {
      d.weight_bytes += int64_t(bytes);
      all_bf16 = all_bf16 && dt == "BF16";
    }
    d.bf16 = precision == model::Precision::BF16 && all_bf16;
    const int64_t logits = kLmRows * d.c.vocab_size * 4;
    need += d.weight_bytes + logits;
    per_model += (per_model.empty() ? "" : ", ") + gib(d.weight_bytes + logits);
  }
  const int64_t work = work_bytes(std::max<int64_t>(max_tokens, 1));
  need += work + kSpareBytes;
  if (need > int64_t(free_b)) {
    // What fits: the longest prefix of the models with the working memory.
    std::string fits;
    int64_t sum = work + kSpareBytes;
    for (size_t m = 0; m < models.size(); ++m) {
      sum += models_[m].weight_bytes + kLmRows * models_[m].c.vocab_size * 4;
      if (sum > int64_t(free_b)) break;
      fits += std::string(fits.empty() ? "" : ", ") + "model " + std::to_string(m + 1);
    }
    throw DeviceError("the models do not fit on " + info_.describe() + ": they need " + gib(need) + " (weights and a " +
                      std::to_string(kLmRows) + "-row logits chunk per model: " + per_model + "; working memory for " +
                      std::to_string(max_tokens) + " tokens: " + gib(work) + "; " + gib(kSpareBytes) + " spare), " +
                      gib(int64_t(free_b)) + " are free. " +
                      (fits.empty() ? std::string("Not even the first model fits") : "What fits: " + fits) +
                      ". Use one GPU per model (separate runs merged, or MPI ranks), a shorter --max-tokens, or --device cpu");
  }
  LSC_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  gemm_ = std::make_unique<cuda::Gemm>(device);
  for (DevModel& d : models_) upload(d);
  // The families' token ids, flattened.
  std::vector<int32_t> ids;
  std::vector<int64_t> off{0};
  for (const auto& f : families) {
    ids.insert(ids.end(), f.token_ids.begin(), f.token_ids.end());
    off.push_back(int64_t(ids.size()));
  }
  fam_ids_ = Buffer(int64_t(std::max<size_t>(ids.size(), 1) * sizeof(int32_t)));
  fam_off_ = Buffer(int64_t(off.size() * sizeof(int64_t)));
  if (!ids.empty()) LSC_CUDA_CHECK(cudaMemcpy(fam_ids_.get(), ids.data(), ids.size() * 4, cudaMemcpyHostToDevice));
  LSC_CUDA_CHECK(cudaMemcpy(fam_off_.get(), off.data(), off.size() * 8, cudaMemcpyHostToDevice));
  ensure_work(std::max<int64_t>(max_tokens, 1));
}

void CudaModels::upload_matrix(const model::TensorView& t, Mat& m) {
  m.type = dtype_of(t.dtype);
  m.rows = t.shape.size() == 2 ? t.shape[0] : 1;
  m.cols = t.shape.back();
  m.buf = Buffer(int64_t(t.n_bytes));
  LSC_CUDA_CHECK(cudaMemcpy(m.buf.get(), t.data, t.n_bytes, cudaMemcpyHostToDevice));
}

void CudaModels::upload_vector(const model::TensorView& t, Vec& v) {
  int64_t n = 1;
  for (int64_t s : t.shape) n *= s;
  Buffer raw(int64_t(t.n_bytes));
  LSC_CUDA_CHECK(cudaMemcpy(raw.get(), t.data, t.n_bytes, cudaMemcpyHostToDevice));
  v = Buffer(n * 4);
  cuda::widen_f32(raw.get(), dtype_of(t.dtype), n, v.as<float>(), stream_);
  sync();
}

void CudaModels::upload(DevModel& d) {
  const model::Checkpoint& ck = d.cpu->checkpoint();
  const model::ModelConfig& c = d.c;
  upload_matrix(ck.get("model.embed_tokens.weight"), d.embed);
  if (!c.tie_word_embeddings) upload_matrix(ck.get("lm_head.weight"), d.lm_head_own);
  upload_vector(ck.get("model.norm.weight"), d.final_norm);
  const std::vector<float> inv = model::rope_inv_freq(c);
  d.inv_freq = Buffer(int64_t(inv.size() * 4));
  LSC_CUDA_CHECK(cudaMemcpy(d.inv_freq.get(), inv.data(), inv.size() * 4, cudaMemcpyHostToDevice));
  d.layers.resize(size_t(c.num_hidden_layers));
  const std::pair<const char*, Mat Layer::*> mats[] = {
      {"self_attn.q_proj.weight", &Layer::wq}, {"self_attn.k_proj.weight", &Layer::wk},
      {"self_attn.v_proj.weight", &Layer::wv}, {"self_attn.o_proj.weight", &Layer::wo},
      {"mlp.gate_proj.weight", &Layer::gate},  {"mlp.up_proj.weight", &Layer::up},
      {"mlp.down_proj.weight", &Layer::down}};
  const std::pair<const char*, Vec Layer::*> vecs[] = {
      {"input_layernorm.weight", &Layer::attn_norm}, {"post_attention_layernorm.weight", &Layer::ffn_norm},
      {"self_attn.q_proj.bias", &Layer::bq},          {"self_attn.k_proj.bias", &Layer::bk},
      {"self_attn.v_proj.bias", &Layer::bv},          {"self_attn.q_norm.weight", &Layer::q_norm},
      {"self_attn.k_norm.weight", &Layer::k_norm},    {"self_attn.o_proj.bias", &Layer::bo},
      {"mlp.gate_proj.bias", &Layer::b_gate},         {"mlp.up_proj.bias", &Layer::b_up},
      {"mlp.down_proj.bias", &Layer::b_down}};
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    Layer& l = d.layers[size_t(i)];
    for (const auto& [name, member] : mats) upload_matrix(ck.get(model::layer_tensor_name(i, name)), l.*member);
    for (const auto& [name, member] : vecs) {
      const std::string full = model::layer_tensor_name(i, name);
      if (ck.tensors().count(full) != 0) upload_vector(ck.get(full), l.*member);
    }
  }
}

CudaModels::Dims CudaModels::dims() const {
  Dims m;
  for (const DevModel& d : models_) {
    const auto& c = d.c;
    m.h = std::max<int64_t>(m.h, c.hidden_size);
    m.kv = std::max<int64_t>(m.kv, int64_t(c.num_key_value_heads) * c.head_dim);
    m.q = std::max<int64_t>(m.q, int64_t(c.num_attention_heads) * c.head_dim);
    m.inter = std::max<int64_t>(m.inter, c.intermediate_size);
    if (!d.bf16) {  // fp32 products of BF16/F16 matrices widen each matrix into w32 first
      const int64_t lm = c.vocab_size * c.hidden_size;
      const int64_t layer = std::max<int64_t>(int64_t(c.num_attention_heads) * c.head_dim, c.intermediate_size) * c.hidden_size;
      m.w32 = std::max({m.w32, lm, layer});
    }
  }
  return m;
}

int64_t CudaModels::work_bytes(int64_t n_tokens) const {
  const Dims m = dims();
  const int64_t chunk = std::min(n_tokens, kPrefillRows);
  const int64_t whole = n_tokens * (m.h + 2 * m.kv) * 4 + n_tokens * 4;
  const int64_t per_chunk = chunk * (m.h + 2 * m.q + 2 * m.inter) * 4 + std::max(chunk, kLmRows) * std::max({m.h, m.q, m.inter}) * 2;
  const int64_t measure =
      kLmRows * (m.h * 4 + 4 + int64_t(sizeof(cuda::RowStatsGpu)) + 8 * std::max(n_fam_, 1) + 2 * 8 + 7 * 8);
  return whole + per_chunk + m.w32 * 4 + measure + (int64_t{32} << 20);
}

void CudaModels::ensure_work(int64_t n) {
  if (n <= work_tokens_) return;
  const Dims m = dims();
  const int64_t h = m.h, kv = m.kv, q = m.q, inter = m.inter, w32 = m.w32;
  const int64_t chunk = std::min(n, kPrefillRows);
  ids_.ensure(n * 4);
  x_.ensure(n * h * 4);
  k_.ensure(n * kv * 4);
  v_.ensure(n * kv * 4);
  xn_.ensure(chunk * h * 4);
  q_.ensure(chunk * q * 4);
  att_.ensure(chunk * q * 4);
  gate_.ensure(chunk * inter * 4);
  up_.ensure(chunk * inter * 4);
  x16_.ensure(std::max(chunk, kLmRows) * std::max({h, q, inter}) * 2);
  w32_.ensure(w32 * 4);
  hidden_in_.ensure(kLmRows * h * 4);
  targets_.ensure(kLmRows * 4);
  stats_.ensure(kLmRows * int64_t(sizeof(cuda::RowStatsGpu)));
  prop_.ensure(kLmRows * 8 * std::max(n_fam_, 1));
  pair_lse_.ensure(2 * kLmRows * 8);
  pair_sums_.ensure(kLmRows * 7 * 8);
  for (DevModel& d : models_) d.logits.ensure(kLmRows * d.c.vocab_size * 4);
  work_tokens_ = n;
}

void CudaModels::linear(const DevModel& d, const float* in, int64_t n, const Mat& w, const Vec& bias, float* out,
                        bool accumulate) {
  if (d.bf16 && w.type == cuda::DType::BF16) {
    uint16_t* in16 = x16_.as<uint16_t>();
    cuda::to_bf16(in, in16, n * w.cols, stream_);
    gemm_->run(in16, w.buf.get(), true, n, w.cols, w.rows, out, accumulate, stream_);
  } else {
    const void* w32 = w.buf.get();
    if (w.type != cuda::DType::F32) {
      cuda::widen_f32(w.buf.get(), w.type, w.rows * w.cols, w32_.as<float>(), stream_);
      w32 = w32_.get();
    }
    gemm_->run(in, w32, false, n, w.cols, w.rows, out, accumulate, stream_);
  }
  if (bias.get() != nullptr) cuda::add_bias(out, bias.as<float>(), n, w.rows, stream_);
}

std::vector<float> CudaModels::forward_hidden(size_t m, std::span<const int32_t> ids, const model::ForwardOptions& opt) {
  DevModel& d = models_[m];
  d.cpu->validate_ids(ids, "forward");
  const model::ModelConfig& c = d.c;
  const int64_t T = int64_t(ids.size()), H = c.hidden_size, D = c.head_dim;
  const int64_t n_h = c.num_attention_heads, n_kv = c.num_key_value_heads, kvc = n_kv * D, inter = c.intermediate_size;
  ensure_work(T);
  LSC_CUDA_CHECK(cudaMemcpyAsync(ids_.get(), ids.data(), size_t(T) * 4, cudaMemcpyHostToDevice, stream_));
  float *x = x_.as<float>(), *k = k_.as<float>(), *v = v_.as<float>(), *xn = xn_.as<float>(), *q = q_.as<float>();
  float *att = att_.as<float>(), *gate = gate_.as<float>(), *up = up_.as<float>();
  auto tap = [&](const std::string& name, const float* dev) {
    if (!opt.tap) return;
    host_tap_.resize(size_t(T * H));
    LSC_CUDA_CHECK(cudaMemcpyAsync(host_tap_.data(), dev, size_t(T * H) * 4, cudaMemcpyDeviceToHost, stream_));
    sync();
    opt.tap(name, host_tap_.data(), T, H);
  };
  cuda::embed_rows(d.embed.buf.get(), d.embed.type, H, ids_.as<int32_t>(), T, x, stream_);
  tap("embed", x);
  const float scale = 1.0f / std::sqrt(float(D));
  const int64_t chunk = std::min(T, kPrefillRows);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const Layer& w = d.layers[size_t(i)];
    for (int64_t r0 = 0; r0 < T; r0 += chunk) {
      const int64_t n = std::min(chunk, T - r0);
      float* xr = x + r0 * H;
      // x += o_proj(attention(rope(q), rope(k), v)), q/k/v from rms_norm(x); k, v into the cache.
      cuda::rms_norm(xr, w.attn_norm.as<float>(), n, H, c.rms_norm_eps, xn, nullptr, stream_);
      linear(d, xn, n, w.wq, w.bq, q, false);
      linear(d, xn, n, w.wk, w.bk, k + r0 * kvc, false);
      linear(d, xn, n, w.wv, w.bv, v + r0 * kvc, false);
      if (c.qk_norm) {
        cuda::rms_norm(q, w.q_norm.as<float>(), n * n_h, D, c.rms_norm_eps, q, nullptr, stream_);
        cuda::rms_norm(k + r0 * kvc, w.k_norm.as<float>(), n * n_kv, D, c.rms_norm_eps, k + r0 * kvc, nullptr, stream_);
      }
      cuda::rope(q, n, n_h, D, d.inv_freq.as<float>(), r0, stream_);
      cuda::rope(k + r0 * kvc, n, n_kv, D, d.inv_freq.as<float>(), r0, stream_);
      cuda::attention(q, k, v, n, r0, n_h, n_kv, D, scale, att, stream_);
      linear(d, att, n, w.wo, w.bo, xr, true);
      // x += down(silu(gate(rms_norm(x))) · up(rms_norm(x))).
      cuda::rms_norm(xr, w.ffn_norm.as<float>(), n, H, c.rms_norm_eps, xn, nullptr, stream_);
      linear(d, xn, n, w.gate, w.b_gate, gate, false);
      linear(d, xn, n, w.up, w.b_up, up, false);
      cuda::swiglu(gate, up, n * inter, gate, stream_);
      linear(d, gate, n, w.down, w.b_down, xr, true);
    }
    tap("layer." + std::to_string(i), x);
    if (opt.on_layer) {
      sync();
      opt.on_layer(i + 1);
    }
  }
  cuda::rms_norm(x, d.final_norm.as<float>(), T, H, c.rms_norm_eps, x, nullptr, stream_);
  std::vector<float> out(size_t(T * H));
  LSC_CUDA_CHECK(cudaMemcpyAsync(out.data(), x, out.size() * 4, cudaMemcpyDeviceToHost, stream_));
  sync();
  if (opt.tap) opt.tap("final_norm", out.data(), T, H);
  return out;
}

void CudaModels::logits_of(DevModel& d, const float* hidden, int64_t n) {
  LSC_CHECK(n >= 0 && n <= kLmRows);
  const int64_t H = d.c.hidden_size;
  LSC_CUDA_CHECK(cudaMemcpyAsync(hidden_in_.get(), hidden, size_t(n * H) * 4, cudaMemcpyHostToDevice, stream_));
  static const Vec kNoBias;
  linear(d, hidden_in_.as<float>(), n, d.lm_head(), kNoBias, d.logits.as<float>(), false);
  d.logits_rows = n;
}

void CudaModels::summarize(size_t m, const float* hidden, int64_t n, const int32_t* observed, int n_top,
                           analysis::RowSummary* out) {
  if (n <= 0) return;
  DevModel& d = models_[m];
  const int64_t V = d.c.vocab_size;
  for (int64_t r = 0; r < n; ++r) LSC_CHECK(observed[r] >= 0 && observed[r] < V);
  logits_of(d, hidden, n);
  const int k = std::max(n_top, 2);
  LSC_CHECK(k <= top_k_);
  LSC_CUDA_CHECK(cudaMemcpyAsync(targets_.get(), observed, size_t(n) * 4, cudaMemcpyHostToDevice, stream_));
  cuda::reduce_rows(d.logits.as<float>(), n, V, targets_.as<int32_t>(), int(std::min<int64_t>(k, V)), fam_ids_.as<int32_t>(),
                    fam_off_.as<int64_t>(), n_fam_, stats_.as<cuda::RowStatsGpu>(), prop_.as<double>(), stream_);
  std::vector<cuda::RowStatsGpu> st(static_cast<size_t>(n));
  std::vector<double> prop(size_t(n) * size_t(std::max(n_fam_, 1)));
  LSC_CUDA_CHECK(cudaMemcpyAsync(st.data(), stats_.get(), st.size() * sizeof(cuda::RowStatsGpu), cudaMemcpyDeviceToHost, stream_));
  if (n_fam_ > 0) {
    LSC_CUDA_CHECK(cudaMemcpyAsync(prop.data(), prop_.get(), size_t(n * n_fam_) * 8, cudaMemcpyDeviceToHost, stream_));
  }
  sync();
  const int n_found = int(std::min<int64_t>(k, V));
  for (int64_t r = 0; r < n; ++r) {
    const cuda::RowStatsGpu& s = st[size_t(r)];
    analysis::RowSummary& o = out[r];
    // As position_metrics.cpp's finish_summary, from the device's reduction.
    o.logsumexp = s.logsumexp;
    o.entropy_nats = s.entropy;
    o.logprob = s.target_logit - s.logsumexp;
    o.rank = s.rank;
    o.top1 = s.top_ids[0];
    o.top1_margin = n_found > 1 ? double(s.top_logits[0]) - double(s.top_logits[1]) : 0.0;
    o.topk_ids.clear();
    o.topk_logprobs.clear();
    double mass = 0.0;
    for (int i = 0; i < n_top && i < n_found; ++i) {
      const double lp = double(s.top_logits[i]) - s.logsumexp;
      o.topk_ids.push_back(s.top_ids[i]);
      o.topk_logprobs.push_back(float(lp));
      mass += std::exp(lp);
    }
    o.tail_mass = std::max(0.0, 1.0 - mass);
    o.propensity.assign(size_t(n_fam_), 0.0f);
    for (int f = 0; f < n_fam_; ++f) o.propensity[size_t(f)] = float(prop[size_t(r * n_fam_ + f)]);
  }
}

void CudaModels::compare(size_t a, size_t b, int64_t n, const analysis::RowSummary* const* sa,
                         const analysis::RowSummary* const* sb, analysis::PairSummary* out) {
  if (n <= 0) return;
  const DevModel& da = models_[a];
  const DevModel& db = models_[b];
  LSC_CHECK(da.logits_rows >= n && db.logits_rows >= n);
  const int64_t va = da.c.vocab_size, vb = db.c.vocab_size;
  if (va != vb) {  // padded vocabularies: renormalised over the common ids on the host (rare)
    std::vector<float> ra(size_t(n * va)), rb(size_t(n * vb));
    LSC_CUDA_CHECK(cudaMemcpyAsync(ra.data(), da.logits.get(), ra.size() * 4, cudaMemcpyDeviceToHost, stream_));
    LSC_CUDA_CHECK(cudaMemcpyAsync(rb.data(), db.logits.get(), rb.size() * 4, cudaMemcpyDeviceToHost, stream_));
    sync();
    for (int64_t i = 0; i < n; ++i) {
      analysis::compare_rows({ra.data() + i * va, size_t(va)}, {rb.data() + i * vb, size_t(vb)}, &out[i]);
    }
    return;
  }
  std::vector<double> lse(size_t(2 * n));
  for (int64_t i = 0; i < n; ++i) lse[size_t(i)] = sa[i]->logsumexp, lse[size_t(n + i)] = sb[i]->logsumexp;
  double* lse_d = pair_lse_.as<double>();
  LSC_CUDA_CHECK(cudaMemcpyAsync(lse_d, lse.data(), lse.size() * 8, cudaMemcpyHostToDevice, stream_));
  cuda::pair_sums(da.logits.as<float>(), db.logits.as<float>(), n, va, lse_d, lse_d + n, pair_sums_.as<double>(), stream_);
  std::vector<double> sums(size_t(7 * n));
  LSC_CUDA_CHECK(cudaMemcpyAsync(sums.data(), pair_sums_.get(), sums.size() * 8, cudaMemcpyDeviceToHost, stream_));
  sync();
  for (int64_t i = 0; i < n; ++i) {
    // As divergence.cpp's compare_rows_impl, from the device's sums.
    const double* s = sums.data() + 7 * i;
    analysis::PairSummary& o = out[i];
    o = analysis::PairSummary{};
    if (s[6] == 0.0) continue;  // identical rows: every divergence is exactly 0
    const double dl = sb[i]->logsumexp - sa[i]->logsumexp;
    o.kl_ab = std::max(0.0, s[2] + dl * s[0]);
    o.kl_ba = std::max(0.0, -s[3] - dl * s[1]);
    o.js_bits = std::clamp(0.25 * s[4] / std::log(2.0), 0.0, 1.0);
    o.tv = std::clamp(0.5 * s[5], 0.0, 1.0);
  }
}

void CudaModels::lm_head(size_t m, const float* hidden, int64_t n, float* out) {
  DevModel& d = models_[m];
  logits_of(d, hidden, n);
  LSC_CUDA_CHECK(cudaMemcpyAsync(out, d.logits.get(), size_t(n * d.c.vocab_size) * 4, cudaMemcpyDeviceToHost, stream_));
  sync();
}

}  // namespace

}  // namespace lsc::gpu
