// What config.json says, checked once by parse_config(). Fields keep Hugging Face's key names.
// Architectures differ by flags here, not by classes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lsc::model {

enum class Arch { Qwen2, Qwen3, Llama };
const char* arch_name(Arch a);

enum class RopeScaling { None, Linear, Llama3 };

struct ModelConfig {
  Arch arch = Arch::Qwen2;
  std::string model_type;                  // "qwen2", "qwen3", "llama"
  std::vector<std::string> architectures;  // e.g. "Qwen2ForCausalLM"
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // GQA: divides num_attention_heads
  int head_dim = 0;             // explicit in Qwen3; else hidden_size / num_attention_heads
  int vocab_size = 0;
  int max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  double rope_theta = 10000.0;
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2 always)
  bool o_proj_bias = false;     // Llama/Qwen3 attention_bias also biases o_proj
  bool mlp_bias = false;        // Llama mlp_bias: gate/up/down carry a bias
  bool qk_norm = false;         // Qwen3: per-head RMSNorm on q and k, before RoPE
  bool tie_word_embeddings = false;
  std::string torch_dtype;      // as written; informational
  // rope_scaling
  RopeScaling rope_scaling = RopeScaling::None;
  double rope_factor = 1.0;
  double rope_low_freq_factor = 1.0, rope_high_freq_factor = 4.0;
  int rope_original_max_position_embeddings = 8192;
};

// Parses and validates config.json text; `where` names the file in errors. Throws InputError for
// unknown model_type, missing or invalid keys, unsupported rope_scaling, sliding windows, ...
ModelConfig parse_config(std::string_view json_text, const std::string& where);

// Number of parameters implied by the config (embeddings counted once when tied).
int64_t parameter_count(const ModelConfig& cfg);

}  // namespace lsc::model
