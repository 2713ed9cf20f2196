// Tensor names and shapes per architecture, from transformers' modeling_{qwen2,qwen3,llama}.py.
#include "model/tensor_table.h"

namespace lsc::model {

std::string layer_tensor_name(int i_layer, const std::string& suffix) {
  return "model.layers." + std::to_string(i_layer) + "." + suffix;
}

void for_each_tensor(const ModelConfig& c, const std::function<void(const TensorSpec&)>& fn) {
  const int64_t h = c.hidden_size, d = c.head_dim, inter = c.intermediate_size;
  const int64_t q_rows = int64_t{c.num_attention_heads} * d, kv_rows = int64_t{c.num_key_value_heads} * d;
  fn({"model.embed_tokens.weight", {c.vocab_size, h}, Need::Required});
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    auto L = [&](const char* s, std::vector<int64_t> shape) {
      fn({layer_tensor_name(i, s), std::move(shape), Need::Required});
    };
    L("input_layernorm.weight", {h});
    L("self_attn.q_proj.weight", {q_rows, h});
    L("self_attn.k_proj.weight", {kv_rows, h});
    L("self_attn.v_proj.weight", {kv_rows, h});
    if (c.attention_bias) {
      L("self_attn.q_proj.bias", {q_rows});
      L("self_attn.k_proj.bias", {kv_rows});
      L("self_attn.v_proj.bias", {kv_rows});
    }
    if (c.qk_norm) {
      L("self_attn.q_norm.weight", {d});
      L("self_attn.k_norm.weight", {d});
    }
    L("self_attn.o_proj.weight", {h, q_rows});
    if (c.o_proj_bias) L("self_attn.o_proj.bias", {h});
    L("post_attention_layernorm.weight", {h});
    L("mlp.gate_proj.weight", {inter, h});
    L("mlp.up_proj.weight", {inter, h});
    L("mlp.down_proj.weight", {h, inter});
    if (c.mlp_bias) {
      L("mlp.gate_proj.bias", {inter});
      L("mlp.up_proj.bias", {inter});
      L("mlp.down_proj.bias", {h});
    }
  }
  fn({"model.norm.weight", {h}, Need::Required});
  // Tied models read the head from embed_tokens; transformers' tie_weights() overrides any stored
  // lm_head.weight, so a stored one is unused.
  fn({"lm_head.weight", {c.vocab_size, h}, c.tie_word_embeddings ? Need::Ignored : Need::Required});
}

}  // namespace lsc::model
