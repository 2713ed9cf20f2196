// Packing BF16 weights for the bf16 kernel, and when to do it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/error.h"
#include "io/mapped_file.h"
#include "kernels/cpu/kernels.h"
#include "model/checkpoint.h"
#include "model/model.h"

namespace lsc::model {

// The bf16 kernel runs faster on weights packed in oneDNN's blocked layout (5-30% on every model
// shape: docs/performance.md) and gives bitwise the same results on plain ones (the same brgemm
// kernel; tested), so packing a BF16 matrix is a matter of memory only. Each is packed once, on the
// first bf16 pass, into anonymous memory; then its mapped pages are given back, so the packed copy
// replaces the checkpoint's pages in memory instead of doubling it (peak: weights + one matrix).
// Unlike mapped pages, a packed copy cannot be dropped under memory pressure: several large models
// in one process (a run over three 7B checkpoints on 24 GB) must not all pack. LSC_BF16_PACK:
// "auto" (default) packs when the copies fit in the memory available now with 2 GiB to spare,
// "1" always, "0" never. F32/F16 matrices at the bf16 precision are always packed: their packed
// copy, rounded to bf16, is their only bf16 form (an F32 7B checkpoint, 30 GB, runs from its 14
// GiB of copies). The embedding table is read row by row and stays mapped, unless it is also the
// LM head.
namespace {

bool stored_bf16(const cpu::WeightMatrix& w) { return w.type == cpu::WType::BF16; }

int64_t bf16_bytes(const cpu::WeightMatrix& w) { return w.rows * w.cols * 2; }

int64_t element_bytes(const cpu::WeightMatrix& w) { return w.type == cpu::WType::F32 ? 4 : 2; }

int64_t stored_bytes(const cpu::WeightMatrix& w) { return w.rows * w.cols * element_bytes(w); }

// fn(matrix) for every projection of every layer, then the LM head.
template <class Fn>
void for_each_matrix(std::vector<LayerWeights>& layers, cpu::WeightMatrix& lm_head, Fn fn) {
  for (LayerWeights& w : layers) {
    for (cpu::WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) fn(*m);
  }
  fn(lm_head);
}

}  // namespace

PackMode bf16_pack_mode() {
  const char* env = std::getenv("LSC_BF16_PACK");
  const std::string value = env != nullptr ? env : "";
  if (value.empty() || value == "auto") return PackMode::Auto;
  if (value == "1") return PackMode::Always;
  if (value == "0") return PackMode::Never;
  throw InputError("LSC_BF16_PACK", "value", "auto, 1 or 0", "\"" + value + "\"");
}

int64_t Model::pack_bytes_needed(Precision precision) const {
  const Precision used = precision_used(precision).precision;
  if (used == Precision::FP32) return 0;
  int64_t need = 0;
  for_each_matrix(layers_, lm_head_, [&](const cpu::WeightMatrix& w) {
    if (stored_bf16(w) || used == Precision::BF16) need += bf16_bytes(w);
  });
  return need;
}

int64_t Model::weight_bytes(Precision precision) const {
  int64_t bytes = 0;
  for (const auto& [dtype, n] : ckpt_->used_bytes_by_dtype()) bytes += static_cast<int64_t>(n);
  if (precision_used(precision).precision != Precision::BF16) return bytes;
  const bool tied = lm_head_.data == embed_.data;  // the embedding rows stay mapped as stored
  for_each_matrix(layers_, lm_head_, [&](const cpu::WeightMatrix& w) {
    if (!stored_bf16(w) && !(tied && &w == &lm_head_)) bytes -= stored_bytes(w) - bf16_bytes(w);
  });
  if (tied && !stored_bf16(lm_head_)) bytes += bf16_bytes(lm_head_);  // its copy next to the rows
  return bytes;
}

int64_t Model::lm_head_copy_bytes(Precision precision) const {
  const bool rounded = precision_used(precision).precision == Precision::BF16 && !stored_bf16(lm_head_);
  return rounded ? bf16_bytes(lm_head_) : 0;
}

void Model::pack_for_bf16(bool round_floats) const {
  int64_t need = 0, must = 0;
  for_each_matrix(layers_, lm_head_, [&](const cpu::WeightMatrix& w) {
    if (stored_bf16(w)) need += bf16_bytes(w);
    if (!stored_bf16(w) && round_floats && w.packed == nullptr) must += bf16_bytes(w);
  });
  const PackMode mode = bf16_pack_mode();
  const int64_t avail = io::available_memory_bytes();
  const bool pack_all = mode == PackMode::Always ||
                        (mode == PackMode::Auto && avail >= 0 && need + must + (int64_t{2} << 30) <= avail);
  if (!pack_all && need > 0 && cpu::verbose()) {
    std::fprintf(stderr, "logitscope: bf16 weights of %s read in place, not packed (LSC_BF16_PACK=%s; "
                 "%.2f GiB to pack, %.2f GiB available)\n", ckpt_->dir().c_str(), mode == PackMode::Never ? "0" : "auto",
                 double(need) / double(1 << 30), double(avail) / double(1 << 30));
  }
  const auto t0 = std::chrono::steady_clock::now();
  size_t bytes = 0;
  int count = 0;
  // Whether w gets a packed copy now.
  auto takes = [&](const cpu::WeightMatrix& w) {
    return w.packed == nullptr && (stored_bf16(w) ? pack_all : round_floats);
  };
  // The mapped pages of rows already copied go back block by block (a matrix's pages whole at
  // the end: release_pages keeps the pages a block shares with the next).
  auto release_rows = [](const cpu::WeightMatrix& w, int64_t row0, int64_t n_rows) {
    const size_t row_bytes = static_cast<size_t>(w.cols * element_bytes(w));
    io::release_pages(static_cast<const uint8_t*>(w.data) + static_cast<size_t>(row0) * row_bytes,
                      static_cast<size_t>(n_rows) * row_bytes);
  };
  auto release = [&](const cpu::WeightMatrix& w) { release_rows(w, 0, w.rows); };
  auto pack = [&](cpu::WeightMatrix& w) {
    if (!takes(w)) return;
    auto p = cpu::pack_bf16(w, release_rows);
    w.packed = p.get();
    bytes += cpu::packed_bytes(*p);
    ++count;
    if (&w == &lm_head_ && !stored_bf16(w)) {
      lm_head_rounded_ = std::move(p);
    } else {
      packed_.push_back(std::move(p));
    }
    release(w);
  };
  for (LayerWeights& w : layers_) {
    for (cpu::WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo}) pack(*m);
    // gate and up as the pair when the whole MLP goes on the bf16 kernel: it then runs fused
    // (mlp_block). The pair has the stored type of gate and up (on_bf16_kernel reads it).
    // (An earlier call may have paired them: then both are done.)
    const bool paired = w.w_gate_up.packed != nullptr;
    if (!paired && takes(w.w_gate) && takes(w.w_up) && takes(w.w_down) && w.w_gate.type == w.w_up.type) {
      packed_.push_back(cpu::pack_bf16_pair(w.w_gate, w.w_up, release_rows));
      w.w_gate_up = {nullptr, w.w_gate.type, 2 * w.w_gate.rows, w.w_gate.cols, packed_.back().get()};
      bytes += cpu::packed_bytes(*packed_.back());
      count += 2;
      release(w.w_gate);
      release(w.w_up);
    } else if (!paired) {
      pack(w.w_gate);
      pack(w.w_up);
    }
    pack(w.w_down);
  }
  pack(lm_head_);
  if (cpu::verbose() && bytes > 0) {
    std::fprintf(stderr, "logitscope: packed %d matrices of %s (%.2f GiB) for the bf16 kernel in %.1f s%s\n",
                 count, ckpt_->dir().c_str(), static_cast<double>(bytes) / double(1 << 30),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                 round_floats && must > 0 ? " (F32/F16 ones rounded to bf16)" : "");
  }
}

void Model::round_lm_head() const {
  std::lock_guard<std::mutex> lock(pack_mutex_);
  if (stored_bf16(lm_head_) || lm_head_.packed != nullptr) return;
  lm_head_rounded_ = cpu::pack_bf16(lm_head_);
  lm_head_.packed = lm_head_rounded_.get();
}

Products Model::products(Precision precision, bool pack) const {
  const PrecisionUsed used = precision_used(precision);
  if (used.precision == Precision::FP32) return {false, 1, used.fast_attention};
  const bool round_floats = used.precision == Precision::BF16 && !used.rounded.empty();
  if (!pack) {  // the LM head alone
    if (round_floats) round_lm_head();
    return {true, used.x_parts};
  }
  std::lock_guard<std::mutex> lock(pack_mutex_);
  if (!pack_decided_ || (round_floats && !floats_rounded_)) {
    pack_for_bf16(round_floats);
    pack_decided_ = true;
    floats_rounded_ = floats_rounded_ || round_floats;
  }
  return {true, used.x_parts};
}

void Model::release_packed() const {
  std::lock_guard<std::mutex> lock(pack_mutex_);
  const size_t bytes = packed_bytes() - (lm_head_rounded_ ? cpu::packed_bytes(*lm_head_rounded_) : 0);
  for_each_matrix(layers_, lm_head_, [&](cpu::WeightMatrix& m) {
    if (&m != &lm_head_ || !lm_head_rounded_) m.packed = nullptr;
  });
  for (LayerWeights& w : layers_) w.w_gate_up = {};
  if (cpu::verbose() && !packed_.empty()) {
    std::fprintf(stderr, "logitscope: released the packed bf16 copies of %s (%.2f GiB)\n", ckpt_->dir().c_str(),
                 static_cast<double>(bytes) / double(1 << 30));
  }
  packed_.clear();
  pack_decided_ = false;
  floats_rounded_ = false;
}

size_t Model::packed_bytes() const {
  size_t n = lm_head_rounded_ ? cpu::packed_bytes(*lm_head_rounded_) : 0;
  for (const auto& p : packed_) n += cpu::packed_bytes(*p);
  return n;
}

}  // namespace lsc::model
