// Forward-pass properties that do not need a reference: bitwise determinism across thread counts
// and chunk sizes, causality, and RoPE tables.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "model/model.h"
#include "support/fixtures.h"
#include "support/model_logits.h"

namespace lsc::model {
namespace {

using test::all_logits;
using test::some_ids;

TEST(Forward, BitwiseIdenticalForAnyThreadCountAndChunkSize) {
  for (const char* name : {"qwen2-bf16", "qwen3-f32", "llama-f32"}) {
    auto m = Model::load(test::fixture(std::string("models/") + name));
    const auto ids = some_ids(150, m->config().vocab_size);
    omp_set_num_threads(1);
    const auto one = all_logits(*m, ids, Precision::FP32, 64);
    omp_set_num_threads(2);
    const auto two = all_logits(*m, ids, Precision::FP32, 64);
    omp_set_num_threads(3);  // more threads than cores: a different partition again
    const auto three = all_logits(*m, ids, Precision::FP32, 5);
    omp_set_num_threads(omp_get_num_procs());
    ASSERT_EQ(one.size(), two.size());
    EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * 4)) << name;
    EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * 4)) << name;
  }
}

// Chunked prefill: a pass's rows run through each layer in chunks, the chunk's queries attending to
// the cached keys; any chunk size gives the same bits (one row, odd sizes, one chunk for all).
TEST(Forward, BitwiseIdenticalForAnyPrefillChunk) {
  for (const char* name : {"qwen2-f32", "qwen3-f32", "llama-f32"}) {
    auto m = Model::load(test::fixture(std::string("models/") + name));
    const auto ids = some_ids(150, m->config().vocab_size);
    ForwardOptions opt;
    const auto whole = m->forward_hidden(ids, opt);
    for (int64_t chunk : {1, 16, 37, 64, 149}) {
      opt.prefill_chunk_rows = chunk;
      const auto got = m->forward_hidden(ids, opt);
      ASSERT_EQ(got.size(), whole.size());
      EXPECT_EQ(0, std::memcmp(got.data(), whole.data(), got.size() * 4)) << name << " chunk " << chunk;
    }
  }
}

TEST(Forward, PrefixLogitsDoNotDependOnLaterTokens) {
  auto m = Model::load(test::fixture("models/qwen2-f32"));
  auto ids = some_ids(40, 1000);
  const auto full = all_logits(*m, ids, Precision::FP32, 64);
  ids[30] = (ids[30] + 1) % 1000;  // change a later token
  const auto changed = all_logits(*m, ids, Precision::FP32, 64);
  const size_t v = 1000;
  EXPECT_EQ(0, std::memcmp(full.data(), changed.data(), 30 * v * 4));  // rows 0..29 untouched
  EXPECT_NE(0, std::memcmp(full.data() + 30 * v, changed.data() + 30 * v, v * 4));
}

TEST(Rope, DefaultInverseFrequenciesAreThetaPowers) {
  ModelConfig c;
  c.head_dim = 8;
  c.rope_theta = 10000.0;
  const auto inv = rope_inv_freq(c);
  ASSERT_EQ(inv.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(inv[size_t(i)], std::pow(10000.0, -2.0 * i / 8.0), 1e-7);
}

TEST(Rope, Llama3ScalingDividesLongWavelengthsAndSmoothsTheBand) {
  // The llama-f32 fixture: head_dim 16, theta 5e5, factor 8, low 1, high 4, original 64.
  // fixtures/README.md: 6 of the 8 frequencies are divided by 8, 1 is smoothed, 1 is kept.
  ModelConfig c;
  c.head_dim = 16;
  c.rope_theta = 500000.0;
  ModelConfig s = c;
  s.rope_scaling = RopeScaling::Llama3;
  s.rope_factor = 8.0;
  s.rope_low_freq_factor = 1.0;
  s.rope_high_freq_factor = 4.0;
  s.rope_original_max_position_embeddings = 64;
  const auto base = rope_inv_freq(c), scaled = rope_inv_freq(s);
  int kept = 0, divided = 0, smoothed = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    if (scaled[i] == base[i]) {
      ++kept;
    } else if (std::fabs(scaled[i] - base[i] / 8.0f) <= 1e-7f * base[i]) {
      ++divided;
    } else {
      EXPECT_GT(scaled[i], base[i] / 8.0f);
      EXPECT_LT(scaled[i], base[i]);
      ++smoothed;
    }
  }
  EXPECT_EQ(kept, 1);
  EXPECT_EQ(divided, 6);
  EXPECT_EQ(smoothed, 1);
}

}  // namespace
}  // namespace lsc::model
