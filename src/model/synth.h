// Synthetic checkpoints with random weights, written in Hugging Face layout: the demo's models
// and the crafted checkpoints of the bad-input tests. Names and shapes come from the tensor table.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/safetensors_writer.h"
#include "model/config.h"

namespace lsc::model {

// config.json text for cfg (the keys parse_config reads, Hugging Face spelling).
std::string config_json(const ModelConfig& cfg);

// Every tensor the table requires for cfg, filled from a seeded normal distribution
// (projections std 0.15, embeddings 0.3, biases 0.5, norms 1 ± 0.1), stored as `dtype`.
std::vector<io::TensorData> synth_tensors(const ModelConfig& cfg, uint64_t seed, io::DType dtype);

// Values of a tensor as float (F32/BF16/F16) and back; used to derive one checkpoint from another.
std::vector<float> tensor_values(const io::TensorData& t);
void set_tensor_values(io::TensorData& t, const std::vector<float>& v);

// Writes config.json and model.safetensors (or n_shards shards plus the index) into dir (created
// if missing).
void write_checkpoint(const std::string& dir, const ModelConfig& cfg, const std::vector<io::TensorData>& tensors,
                      int n_shards = 1);

// The same with one model.safetensors written tensor by tensor: fill(i, bytes) produces the bytes
// of specs[i] (one tensor held in memory at a time: for checkpoints larger than RAM).
void write_checkpoint_streamed(const std::string& dir, const ModelConfig& cfg, const std::vector<io::TensorSpecOut>& specs,
                               const std::function<void(size_t, std::vector<uint8_t>&)>& fill);

}  // namespace lsc::model
