// The GPU backend: a run's models on one CUDA device. Weights are uploaded once per model (as
// stored: BF16, F16, F32), checked against the device's free memory first; the transformer runs
// on the device (cuBLASLt products, our kernels for norms, RoPE, attention, SwiGLU) and returns
// the final-normed hidden states, which the pipeline keeps as on the CPU; the measuring step's
// LM-head rows, their statistics and the model pairs' divergences are computed on the device, so
// no logits row travels to the host. Built only with the CUDA toolkit (LSC_CUDA); without it,
// or without a device, cuda_devices() says why and GpuModels::create throws DeviceError.
//
// Precisions: exact and fp32 run fp32 products with TF32 off (CUBLAS_COMPUTE_32F; BF16/F16
// weights widened to fp32 per product) and fp32 attention; bf16 runs BF16-stored matrices as
// bf16 × bf16 → fp32 on tensor cores with the activations rounded to bf16.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "analysis/divergence.h"
#include "analysis/keywords.h"
#include "analysis/position_metrics.h"
#include "model/model.h"

namespace lsc::gpu {

// Which device a command runs on: "cpu" → −1; "cuda" → 0; "cuda:N" → N; "cuda:auto" → rank % the
// number of devices (one GPU per MPI rank). UsageError naming the flag otherwise. n_devices is
// only read for "cuda:auto".
int parse_device(const std::string& spec, int rank, int n_devices);
bool is_cuda_spec(const std::string& spec);
// That the device `spec` names is there (cpu always is; cuda:auto: some GPU): DeviceError saying
// why not (no CUDA backend in this build, no device, no such device number). Commands call it
// before their work, so a run does not load its models nor the demo write its checkpoints first.
void require_device(const std::string& spec);

struct DeviceInfo {
  int index = -1;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int64_t total_bytes = 0, free_bytes = 0;
  int driver_version = 0, runtime_version = 0;  // 13000 = 13.0
  // "cuda:0 NVIDIA H200 (sm_90, 139.8 GiB, driver 13.0, runtime 13.0)"
  std::string describe() const;
};

// The CUDA devices this process sees; empty with *why saying why ("this logitscope was built
// without the CUDA backend ...", "no CUDA device: cudaErrorNoDevice ...").
std::vector<DeviceInfo> cuda_devices(std::string* why);
bool built_with_cuda();

// Seconds per product of cuBLASLt on `device` for C[n, m] = X[n, k] · W[m, k]ᵀ (bf16 inputs, fp32
// out; fp32 with TF32 off when !bf16): the median of `reps` timed runs after a warm-up. The
// benchmark's GEMM ceiling.
double gemm_seconds(int device, int64_t n, int64_t k, int64_t m, bool bf16, int reps);

class GpuModels {
 public:
  // Uploads the models to `device` for passes of up to max_tokens tokens (more are allocated
  // when a longer text comes). DeviceError when they do not fit: needed, free, and what fits.
  static std::unique_ptr<GpuModels> create(int device, const std::vector<const model::Model*>& models,
                                           model::Precision precision, int64_t max_tokens, int top_k,
                                           const std::vector<analysis::KeywordFamily>& families);
  virtual ~GpuModels() = default;

  virtual const DeviceInfo& device() const = 0;
  // What model m's products run as, for the manifest: "fp32 (cuBLASLt, TF32 off)" or "bf16 (cuBLASLt)".
  virtual std::string method(size_t m) const = 0;
  // Model m's final-normed hidden states [ids, hidden] on the host, as Model::forward_hidden
  // (opt.tap sees "embed", "layer.<i>", "final_norm" copied to the host; opt.on_layer per layer).
  virtual std::vector<float> forward_hidden(size_t m, std::span<const int32_t> ids,
                                            const model::ForwardOptions& opt) = 0;
  // The summaries of model m's LM-head rows hidden[0, n) (host, [n, hidden]) against observed[0,
  // n), as analysis::summarize_rows; n ≤ chunk_rows(). The logits stay on the device for compare().
  virtual void summarize(size_t m, const float* hidden, int64_t n, const int32_t* observed, int n_top,
                         analysis::RowSummary* out) = 0;
  // analysis::compare_rows for rows i < n of the last chunks summarize() left for models a and b
  // (the same n), with their summaries sa[i], sb[i].
  virtual void compare(size_t a, size_t b, int64_t n, const analysis::RowSummary* const* sa,
                       const analysis::RowSummary* const* sb, analysis::PairSummary* out) = 0;
  // Model m's logits rows to the host (the logits command): out [n, vocab], n ≤ chunk_rows().
  virtual void lm_head(size_t m, const float* hidden, int64_t n, float* out) = 0;
  virtual int64_t chunk_rows() const = 0;
};

}  // namespace lsc::gpu
