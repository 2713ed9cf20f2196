// Fuzzes parse_config on config.json text. Bad input must end in an InputError; a config that
// parses must satisfy what the model code relies on, and parameter_count (which `inspect` and
// `run` print for any config they read) must be computable.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "io/error.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  lsc::model::ModelConfig c;
  try {
    c = lsc::model::parse_config(text, "fuzz/config.json");
  } catch (const lsc::InputError&) {
    return 0;
  } catch (const lsc::UsageError&) {
    return 0;
  }
  FUZZ_CHECK(c.hidden_size > 0 && c.intermediate_size > 0 && c.num_hidden_layers > 0);
  FUZZ_CHECK(c.num_attention_heads > 0 && c.num_key_value_heads > 0 && c.vocab_size > 0);
  FUZZ_CHECK(c.num_attention_heads % c.num_key_value_heads == 0);
  FUZZ_CHECK(c.head_dim > 0 && c.head_dim % 2 == 0);
  FUZZ_CHECK(c.rms_norm_eps > 0.0f && c.rope_theta > 0.0 && c.rope_factor > 0.0);
  FUZZ_CHECK(c.max_position_embeddings > 0 && c.rope_original_max_position_embeddings > 0);
  FUZZ_CHECK(lsc::model::parameter_count(c) > 0);
  return 0;
}
