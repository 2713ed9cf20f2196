// Synthetic checkpoint generation (seeded, deterministic across platforms: splitmix64 + Box-Muller).
#include "model/synth.h"

#include <sys/stat.h>

#include <cmath>
#include <cstring>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"
#include "kernels/cpu/kernels.h"
#include "model/tensor_table.h"

namespace lsc::model {

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1p-53; }
  double normal() { return std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * M_PI * uniform()); }
};

uint16_t f32_to_f16(float f) {
  // Round to nearest even; values here are small and normal, so no subnormal/overflow care needed
  // beyond clamping.
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u;
  int32_t e = static_cast<int32_t>((b >> 23) & 0xff) - 127 + 15;
  uint32_t m = b & 0x7fffffu;
  if (e <= 0) return static_cast<uint16_t>(sign);
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  uint32_t h = sign | static_cast<uint32_t>(e) << 10 | m >> 13;
  const uint32_t rest = m & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(h);
}

}  // namespace

std::string config_json(const ModelConfig& c) {
  io::Json j;
  static const char* kArchNames[] = {"Qwen2ForCausalLM", "Qwen3ForCausalLM", "LlamaForCausalLM"};
  j["architectures"] = {kArchNames[static_cast<int>(c.arch)]};
  j["model_type"] = arch_name(c.arch);
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["use_sliding_window"] = false;
  if (c.arch != Arch::Qwen2) j["attention_bias"] = c.attention_bias;
  j["torch_dtype"] = c.torch_dtype.empty() ? "bfloat16" : c.torch_dtype;
  return j.dump(2) + "\n";
}

std::vector<float> tensor_values(const io::TensorData& t) {
  const size_t n = t.bytes.size() / io::dtype_bytes(t.dtype);
  std::vector<float> v(n);
  cpu::WeightMatrix m{t.bytes.data(),
                      t.dtype == io::DType::BF16  ? cpu::WType::BF16
                      : t.dtype == io::DType::F16 ? cpu::WType::F16
                                                  : cpu::WType::F32,
                      1, static_cast<int64_t>(n)};
  cpu::convert_row(m, 0, v.data());
  return v;
}

void set_tensor_values(io::TensorData& t, const std::vector<float>& v) {
  const size_t es = io::dtype_bytes(t.dtype);
  t.bytes.resize(v.size() * es);
  for (size_t i = 0; i < v.size(); ++i) {
    if (t.dtype == io::DType::F32) {
      std::memcpy(&t.bytes[i * 4], &v[i], 4);
    } else {
      const uint16_t h = t.dtype == io::DType::BF16 ? cpu::f32_to_bf16(v[i]) : f32_to_f16(v[i]);
      std::memcpy(&t.bytes[i * 2], &h, 2);
    }
  }
}

std::vector<io::TensorData> synth_tensors(const ModelConfig& cfg, uint64_t seed, io::DType dtype) {
  std::vector<io::TensorData> out;
  Rng rng{seed};
  for_each_tensor(cfg, [&](const TensorSpec& s) {
    if (s.need != Need::Required) return;
    io::TensorData t{s.name, dtype, s.shape, {}};
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    const bool norm = s.name.find("norm") != std::string::npos;
    const bool bias = s.name.size() > 5 && s.name.compare(s.name.size() - 5, 5, ".bias") == 0;
    const bool embed = s.name.find("embed_tokens") != std::string::npos;
    const double sd = norm ? 0.1 : bias ? 0.5 : embed ? 0.3 : 0.15;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = static_cast<float>((norm ? 1.0 : 0.0) + sd * rng.normal());
    set_tensor_values(t, v);
    out.push_back(std::move(t));
  });
  return out;
}

void write_checkpoint(const std::string& dir, const ModelConfig& cfg, const std::vector<io::TensorData>& tensors,
                      int n_shards) {
  ::mkdir(dir.c_str(), 0755);
  io::write_file_atomic(io::join_path(dir, "config.json"), config_json(cfg));
  if (n_shards <= 1) {
    io::write_safetensors(io::join_path(dir, "model.safetensors"), tensors);
    return;
  }
  std::vector<std::vector<io::TensorData>> shards(static_cast<size_t>(n_shards));
  io::Json wm = io::Json::object();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t s = i % static_cast<size_t>(n_shards);
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05d.safetensors", s + 1, n_shards);
    shards[s].push_back(tensors[i]);
    wm[tensors[i].name] = name;
  }
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05d.safetensors", s + 1, n_shards);
    io::write_safetensors(io::join_path(dir, name), shards[s]);
  }
  io::Json index = {{"metadata", io::Json::object()}, {"weight_map", wm}};
  io::write_file_atomic(io::join_path(dir, "model.safetensors.index.json"), index.dump(2) + "\n");
}

void write_checkpoint_streamed(const std::string& dir, const ModelConfig& cfg, const std::vector<io::TensorSpecOut>& specs,
                               const std::function<void(size_t, std::vector<uint8_t>&)>& fill) {
  ::mkdir(dir.c_str(), 0755);
  io::write_file_atomic(io::join_path(dir, "config.json"), config_json(cfg));
  io::write_safetensors_streamed(io::join_path(dir, "model.safetensors"), specs, fill);
}

}  // namespace lsc::model
