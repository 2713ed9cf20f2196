// config.json parsing: the three architectures, defaults, and every config the engine refuses.
#include <gtest/gtest.h>

#include <string>

#include "io/error.h"
#include "io/paths.h"
#include "model/config.h"
#include "support/fixtures.h"

namespace lsc::model {
namespace {

std::string error_of(const std::string& json) {
  try {
    parse_config(json, "config.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

const char* kBase =
    R"("hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
       "num_key_value_heads": 2, "vocab_size": 100)";

std::string cfg(const std::string& extra) { return std::string("{") + kBase + (extra.empty() ? "" : ", " + extra) + "}"; }

TEST(Config, ReadsFixtureConfigsOfEachArchitecture) {
  auto read = [](const std::string& name) {
    const std::string p = test::fixture("models/" + name + "/config.json");
    return parse_config(io::read_text_file(p), p);
  };
  const ModelConfig q2 = read("qwen2-f32");
  EXPECT_EQ(q2.arch, Arch::Qwen2);
  EXPECT_TRUE(q2.attention_bias);
  EXPECT_FALSE(q2.o_proj_bias);
  EXPECT_EQ(q2.head_dim, 16);  // implicit: 64 / 4
  EXPECT_TRUE(q2.tie_word_embeddings);
  EXPECT_EQ(q2.rms_norm_eps, 1e-6f);
  const ModelConfig q3 = read("qwen3-f32");
  EXPECT_EQ(q3.arch, Arch::Qwen3);
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_FALSE(q3.attention_bias);
  EXPECT_EQ(q3.head_dim, 32);  // explicit, != 64 / 4
  const ModelConfig ll = read("llama-f32");
  EXPECT_EQ(ll.arch, Arch::Llama);
  EXPECT_EQ(ll.rope_scaling, RopeScaling::Llama3);
  EXPECT_EQ(ll.rope_factor, 8.0);
  EXPECT_EQ(ll.rope_original_max_position_embeddings, 64);
  EXPECT_EQ(ll.rms_norm_eps, 1e-5f);
}

TEST(Config, DefaultsFollowTransformers) {
  const ModelConfig c = parse_config(cfg(R"("model_type": "llama")"), "c");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling, RopeScaling::None);
  EXPECT_FALSE(c.attention_bias);
}

TEST(Config, SlidingWindowFalseMeansNoWindow) {
  EXPECT_EQ(error_of(cfg(R"("model_type": "qwen2", "use_sliding_window": false, "sliding_window": 4)")), "");
}

TEST(Config, RejectsWhatItCannotRun) {
  EXPECT_EQ(error_of(cfg(R"("model_type": "mistral")")),
            "config.json: key 'model_type': expected \"qwen2\", \"qwen3\" or \"llama\", found \"mistral\"");
  EXPECT_NE(error_of(cfg("")).find("key 'model_type': expected to be present"), std::string::npos);
  EXPECT_NE(error_of(cfg(R"("model_type": "llama", "rope_scaling": {"rope_type": "yarn", "factor": 4})"))
                .find("rope_scaling type: expected \"default\", \"linear\" or \"llama3\", found \"yarn\""),
            std::string::npos);
  EXPECT_NE(error_of(cfg(R"("model_type": "qwen2", "use_sliding_window": true)")).find("use_sliding_window"),
            std::string::npos);
  EXPECT_NE(error_of(cfg(R"("model_type": "llama", "hidden_act": "gelu")")).find("expected \"silu\""),
            std::string::npos);
  EXPECT_NE(error_of(cfg(R"("model_type": "llama", "architectures": ["MistralForCausalLM"])"))
                .find("key 'architectures'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "llama", "hidden_size": 64})").find("key 'intermediate_size'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "llama", "hidden_size": "64"})").find("expected an integer, found a string"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("{") + kBase + R"(, "model_type": "llama", "num_key_value_heads": 3})")
                .find("a divisor of num_attention_heads"),
            std::string::npos);
  EXPECT_NE(error_of("[1]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{").find("expected valid JSON"), std::string::npos);
}

// Inputs that were undefined behavior (UBSan in fuzz/config_fuzz.cpp), an escaping exception or
// a silently wrong value before they became InputErrors.
TEST(Config, RejectsSizesBeyondWhatItCanCount) {
  // 2^30 heads of head_dim 2^30 over hidden 2^30: q alone has 2^90 weights (int64 overflow).
  EXPECT_EQ(error_of(R"({"model_type": "qwen2", "hidden_size": 1073741824, "intermediate_size": 1,
                         "num_hidden_layers": 1, "num_attention_heads": 1073741824,
                         "head_dim": 1073741824, "vocab_size": 1})"),
            "config.json: expected sizes that give fewer than 2^62 parameters, found 4.95e+27 parameters");
  // A float outside int64's range where an integer is expected (the cast was undefined).
  EXPECT_EQ(error_of(R"({"model_type": "llama", "hidden_size": 1e300})"),
            "config.json: key 'hidden_size': expected an integer, found a number 1e+300");
  EXPECT_EQ(error_of(R"({"model_type": "llama", "rope_theta": 1e400})"),
            "config.json: expected valid JSON, found number overflow parsing '1e400'");
  // A positive double that is 0 in fp32, where the norm adds it (fuzz/config_fuzz.cpp found it).
  EXPECT_EQ(error_of(cfg(R"("model_type": "llama", "rms_norm_eps": 1e-50)")),
            "config.json: key 'rms_norm_eps': expected a number in (0, 1) that is positive in fp32, found 1e-50");
  // 2^32 + 64 was truncated to 64.
  EXPECT_EQ(error_of(cfg(R"("model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8,
                             "low_freq_factor": 1, "high_freq_factor": 4,
                             "original_max_position_embeddings": 4294967360})")),
            "config.json: rope_scaling: key 'original_max_position_embeddings': expected a positive integer, "
            "found 4294967360");
}

TEST(Config, ParameterCountMatchesStoredTensors) {
  // qwen2-f32: tied, vocab 1000, hidden 64, 2 layers, q 64x64, k/v 32x64 with biases, inter 96.
  const std::string p = test::fixture("models/qwen2-f32/config.json");
  const ModelConfig c = parse_config(io::read_text_file(p), p);
  const int64_t per_layer = 2 * 64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 96 * 64 + 64 + 2 * 32;
  EXPECT_EQ(parameter_count(c), 1000 * 64 + 2 * per_layer + 64);
}

}  // namespace
}  // namespace lsc::model
