// config.json → ModelConfig. Defaults follow transformers' Qwen2Config / Qwen3Config / LlamaConfig.
#include "model/config.h"

#include <cstdio>

#include "io/error.h"
#include "io/json.h"

namespace lsc::model {

using io::Json;

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Qwen2: return "qwen2";
    case Arch::Qwen3: return "qwen3";
    case Arch::Llama: return "llama";
  }
  return "?";
}

namespace {

bool has_value(const Json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

int positive_int(const Json& j, const char* key, const std::string& where) {
  int64_t v = io::require_int(j, key, where);
  if (v <= 0 || v > (int64_t{1} << 30)) {
    throw InputError(where, std::string("key '") + key + "'", "a positive integer", std::to_string(v));
  }
  return static_cast<int>(v);
}

bool bool_or(const Json& j, const char* key, bool fallback, const std::string& where) {
  return has_value(j, key) ? io::require_bool(j, key, where) : fallback;
}

// The parameter count in T: double to check that a config's sizes fit, int64_t for the answer.
template <typename T>
T count_parameters(const ModelConfig& c) {
  const T h = T(c.hidden_size), d = T(c.head_dim), nh = T(c.num_attention_heads), nkv = T(c.num_key_value_heads);
  const T inter = T(c.intermediate_size), v = T(c.vocab_size);
  T per_layer = 2 * h                                  // two RMSNorms
                + nh * d * h + 2 * nkv * d * h         // q, k, v
                + h * nh * d                           // o
                + 3 * inter * h;                       // gate, up, down
  if (c.attention_bias) per_layer += nh * d + 2 * nkv * d;
  if (c.o_proj_bias) per_layer += h;
  if (c.mlp_bias) per_layer += 2 * inter + h;
  if (c.qk_norm) per_layer += 2 * d;
  T total = v * h + T(c.num_hidden_layers) * per_layer + h;
  if (!c.tie_word_embeddings) total += v * h;
  return total;
}

}  // namespace

ModelConfig parse_config(std::string_view json_text, const std::string& where) {
  Json j = io::parse_json(json_text, where);
  if (!j.is_object()) throw InputError(where, "", "a JSON object", io::json_type_name(j));
  ModelConfig c;
  c.model_type = io::require_string(j, "model_type", where);
  if (c.model_type == "qwen2") {
    c.arch = Arch::Qwen2;
  } else if (c.model_type == "qwen3") {
    c.arch = Arch::Qwen3;
  } else if (c.model_type == "llama") {
    c.arch = Arch::Llama;
  } else {
    throw InputError(where, "key 'model_type'", "\"qwen2\", \"qwen3\" or \"llama\"", "\"" + c.model_type + "\"");
  }
  if (has_value(j, "architectures")) {
    const Json& a = j["architectures"];
    if (!a.is_array()) throw InputError(where, "key 'architectures'", "an array", io::json_type_name(a));
    static const char* kKnown[] = {"Qwen2ForCausalLM", "Qwen3ForCausalLM", "LlamaForCausalLM"};
    for (const Json& s : a) {
      if (!s.is_string()) throw InputError(where, "key 'architectures'", "strings", io::json_brief(a));
      c.architectures.push_back(s.get<std::string>());
      bool known = false;
      for (const char* k : kKnown) known = known || c.architectures.back() == k;
      if (!known) {
        throw InputError(where, "key 'architectures'",
                         "Qwen2ForCausalLM, Qwen3ForCausalLM or LlamaForCausalLM", "\"" + c.architectures.back() + "\"");
      }
    }
  }
  c.hidden_size = positive_int(j, "hidden_size", where);
  c.intermediate_size = positive_int(j, "intermediate_size", where);
  c.num_hidden_layers = positive_int(j, "num_hidden_layers", where);
  c.num_attention_heads = positive_int(j, "num_attention_heads", where);
  c.num_key_value_heads =
      has_value(j, "num_key_value_heads") ? positive_int(j, "num_key_value_heads", where) : c.num_attention_heads;
  c.vocab_size = positive_int(j, "vocab_size", where);
  c.max_position_embeddings =
      has_value(j, "max_position_embeddings") ? positive_int(j, "max_position_embeddings", where) : 32768;
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    throw InputError(where, "key 'num_key_value_heads'",
                     "a divisor of num_attention_heads (" + std::to_string(c.num_attention_heads) + ")",
                     std::to_string(c.num_key_value_heads));
  }
  if (has_value(j, "head_dim")) {
    c.head_dim = positive_int(j, "head_dim", where);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      throw InputError(where, "key 'hidden_size'",
                       "a multiple of num_attention_heads when head_dim is not given", std::to_string(c.hidden_size));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) throw InputError(where, "head_dim", "an even number (RoPE pairs)", std::to_string(c.head_dim));
  if (has_value(j, "rms_norm_eps")) {
    // The norm adds eps in fp32: a value that rounds to 0 there (1e-50) is no epsilon at all.
    const double eps = io::require_number(j, "rms_norm_eps", where);
    if (!(eps > 0.0 && eps < 1.0 && static_cast<float>(eps) > 0.0f)) {
      char found[32];
      std::snprintf(found, sizeof found, "%.6g", eps);
      throw InputError(where, "key 'rms_norm_eps'", "a number in (0, 1) that is positive in fp32", found);
    }
    c.rms_norm_eps = static_cast<float>(eps);
  }
  if (has_value(j, "rope_theta")) {
    c.rope_theta = io::require_number(j, "rope_theta", where);
    if (!(c.rope_theta > 0.0)) throw InputError(where, "key 'rope_theta'", "a positive number", std::to_string(c.rope_theta));
  }
  if (has_value(j, "hidden_act")) {
    std::string act = io::require_string(j, "hidden_act", where);
    if (act != "silu") throw InputError(where, "key 'hidden_act'", "\"silu\"", "\"" + act + "\"");
  }
  c.tie_word_embeddings = bool_or(j, "tie_word_embeddings", false, where);
  if (has_value(j, "torch_dtype")) c.torch_dtype = io::require_string(j, "torch_dtype", where);

  switch (c.arch) {
    case Arch::Qwen2:
      c.attention_bias = true;  // Qwen2Attention: q/k/v with bias, o_proj without
      break;
    case Arch::Qwen3:
      c.qk_norm = true;
      c.attention_bias = c.o_proj_bias = bool_or(j, "attention_bias", false, where);
      break;
    case Arch::Llama:
      c.attention_bias = c.o_proj_bias = bool_or(j, "attention_bias", false, where);
      c.mlp_bias = bool_or(j, "mlp_bias", false, where);
      break;
  }
  // Sliding-window attention: transformers (>= 4.53) applies it only when use_sliding_window is
  // true. We do not implement windows, so a config that asks for one is refused, not ignored.
  if (bool_or(j, "use_sliding_window", false, where)) {
    throw InputError(where, "key 'use_sliding_window'", "false (sliding-window attention is not supported)", "true");
  }
  if (has_value(j, "rope_scaling")) {
    const Json& rs = j["rope_scaling"];
    const std::string w2 = where + ": rope_scaling";
    if (!rs.is_object()) throw InputError(where, "key 'rope_scaling'", "an object or null", io::json_type_name(rs));
    std::string type;
    if (has_value(rs, "rope_type")) {
      type = io::require_string(rs, "rope_type", w2);
    } else if (has_value(rs, "type")) {
      type = io::require_string(rs, "type", w2);
    } else {
      throw InputError(w2, "key 'rope_type'", "to be present", "nothing");
    }
    if (type == "default") {
      c.rope_scaling = RopeScaling::None;
    } else if (type == "linear") {
      c.rope_scaling = RopeScaling::Linear;
      c.rope_factor = io::require_number(rs, "factor", w2);
    } else if (type == "llama3") {
      c.rope_scaling = RopeScaling::Llama3;
      c.rope_factor = io::require_number(rs, "factor", w2);
      c.rope_low_freq_factor = io::require_number(rs, "low_freq_factor", w2);
      c.rope_high_freq_factor = io::require_number(rs, "high_freq_factor", w2);
      c.rope_original_max_position_embeddings = positive_int(rs, "original_max_position_embeddings", w2);
      if (!(c.rope_high_freq_factor > c.rope_low_freq_factor)) {
        throw InputError(w2, "", "high_freq_factor > low_freq_factor", io::json_brief(rs));
      }
    } else {
      throw InputError(where, "rope_scaling type", "\"default\", \"linear\" or \"llama3\"", "\"" + type + "\"");
    }
    if (!(c.rope_factor > 0.0)) throw InputError(w2, "key 'factor'", "a positive number", std::to_string(c.rope_factor));
  }
  // Each size is at most 2^30, but their products (parameter_count(), tensor shapes) are int64:
  // refuse sizes whose total is no real model rather than let the products overflow (2^30 heads
  // of head_dim 2^30 did).
  if (const double n = count_parameters<double>(c); n > 0x1p62) {
    char found[64];
    std::snprintf(found, sizeof found, "%.3g parameters", n);
    throw InputError(where, "", "sizes that give fewer than 2^62 parameters", found);
  }
  return c;
}

int64_t parameter_count(const ModelConfig& c) { return count_parameters<int64_t>(c); }

}  // namespace lsc::model
