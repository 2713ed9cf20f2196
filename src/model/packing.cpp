// Packing BF16 weights for the bf16 kernel, and when to do it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/mapped_file.h"
#include "kernels/cpu/kernels.h"
#include "model/checkpoint.h"
#include "model/model.h"

namespace lsc::model {

// The bf16 kernel runs faster on weights packed in oneDNN's blocked layout (5-30% on every model
// shape: docs/performance.md) and gives bitwise the same results on plain ones (the same brgemm
// kernel; tested), so packing is a matter of memory only. Each BF16 matrix is packed once, on the
// first bf16 pass, into anonymous memory; then its mapped pages are given back, so the packed copy
// replaces the checkpoint's pages in memory instead of doubling it (peak: weights + one matrix).
// Unlike mapped pages, a packed copy cannot be dropped under memory pressure: several large models
// in one process (a run over three 7B checkpoints on 24 GB) must not all pack. LSC_BF16_PACK:
// "auto" (default) packs when the copies fit in the memory available now with 2 GiB to spare,
// "1" always, "0" never. The embedding table is read row by row and stays mapped, unless it is
// also the LM head.
int64_t Model::pack_bytes_needed() const {
  int64_t need = 0;
  auto bf16_bytes = [](const cpu::WeightMatrix& w) {
    return w.type == cpu::WType::BF16 ? w.rows * w.cols * 2 : int64_t{0};
  };
  for (const LayerWeights& w : layers_) {
    for (const cpu::WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down})
      need += bf16_bytes(*m);
  }
  return need + bf16_bytes(lm_head_);
}

void Model::pack_for_bf16() const {
  const int64_t need = pack_bytes_needed();
  const char* env = std::getenv("LSC_BF16_PACK");
  const std::string mode = env != nullptr && *env != '\0' ? env : "auto";
  const int64_t avail = io::available_memory_bytes();
  const bool pack_all = mode == "1" || (mode != "0" && avail >= 0 && need + (int64_t{2} << 30) <= avail);
  if (!pack_all) {
    if (cpu::verbose()) {
      std::fprintf(stderr, "logitscope: bf16 weights of %s read in place, not packed (LSC_BF16_PACK=%s; "
                   "%.2f GiB to pack, %.2f GiB available)\n", ckpt_->dir().c_str(), mode.c_str(),
                   double(need) / double(1 << 30), double(avail) / double(1 << 30));
    }
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  size_t bytes = 0;
  auto pack = [&](cpu::WeightMatrix& w) {
    if (w.type != cpu::WType::BF16 || w.packed != nullptr) return;
    packed_.push_back(cpu::pack_bf16(w));
    w.packed = packed_.back().get();
    bytes += cpu::packed_bytes(*w.packed);
    io::release_pages(w.data, static_cast<size_t>(w.rows * w.cols) * 2);
  };
  for (LayerWeights& w : layers_) {
    for (cpu::WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo}) pack(*m);
    // gate and up only as the pair when the whole MLP is BF16: it then runs fused (hidden_into)
    if (w.w_gate.type == cpu::WType::BF16 && w.w_up.type == cpu::WType::BF16 && w.w_down.type == cpu::WType::BF16) {
      packed_.push_back(cpu::pack_bf16_pair(w.w_gate, w.w_up));
      w.w_gate_up = {nullptr, cpu::WType::BF16, 2 * w.w_gate.rows, w.w_gate.cols, packed_.back().get()};
      bytes += cpu::packed_bytes(*packed_.back());
      for (const cpu::WeightMatrix* m : {&w.w_gate, &w.w_up})
        io::release_pages(m->data, static_cast<size_t>(m->rows * m->cols) * 2);
    } else {
      pack(w.w_gate);
      pack(w.w_up);
    }
    pack(w.w_down);
  }
  pack(lm_head_);
  if (cpu::verbose()) {
    std::fprintf(stderr, "logitscope: packed %zu bf16 matrices of %s (%.2f GiB) for the bf16 kernel in %.1f s\n",
                 packed_.size(), ckpt_->dir().c_str(), static_cast<double>(bytes) / double(1 << 30),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

Products Model::products(Precision precision, bool pack) const {
  const PrecisionUsed used = precision_used(precision);
  if (used.precision == Precision::FP32) return {false, 1, used.fast_attention};
  if (!pack) return {true, used.x_parts};
  std::lock_guard<std::mutex> lock(pack_mutex_);
  if (!pack_decided_) {
    pack_for_bf16();
    pack_decided_ = true;
  }
  return {true, used.x_parts};
}

void Model::release_packed() const {
  std::lock_guard<std::mutex> lock(pack_mutex_);
  for (LayerWeights& w : layers_) {
    for (cpu::WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) m->packed = nullptr;
    w.w_gate_up = {};
  }
  lm_head_.packed = nullptr;
  if (cpu::verbose() && !packed_.empty()) {
    std::fprintf(stderr, "logitscope: released the packed bf16 copies of %s (%.2f GiB)\n", ckpt_->dir().c_str(),
                 static_cast<double>(packed_bytes()) / double(1 << 30));
  }
  packed_.clear();
  pack_decided_ = false;
}

size_t Model::packed_bytes() const {
  size_t n = 0;
  for (const auto& p : packed_) n += cpu::packed_bytes(*p);
  return n;
}

}  // namespace lsc::model
