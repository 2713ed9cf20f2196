// The logit lens against transformers' per-layer hidden states (fixtures' hidden_states.npy),
// the layer specs, and the last layer being the model's own output.
#include "pipeline/lens.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "analysis/position_metrics.h"
#include "io/error.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/paths.h"
#include "kernels/cpu/kernels.h"
#include "model/checkpoint.h"
#include "support/fixtures.h"

namespace lsc::pipeline {
namespace {

TEST(LensLayers, ParsesEverySpecAndRefusesBadOnes) {
  EXPECT_EQ(lens_layers("none", 28), std::vector<int>{});
  EXPECT_EQ(lens_layers("all", 3), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(lens_layers("every:7", 28), (std::vector<int>{0, 7, 14, 21, 27}));
  EXPECT_EQ(lens_layers("every:2", 5), (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(lens_layers("21,0,7,7", 28), (std::vector<int>{0, 7, 21}));
  for (const char* bad : {"", "every:0", "every:", "1,,2", "-1", "x", "all,1", "3.5"}) {
    EXPECT_THROW(lens_layers(bad, 28), UsageError) << bad;
  }
  try {
    lens_layers("0,28", 28);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("28 layers: 0-27"), std::string::npos) << e.what();
  }
}

// One written form per set of layers, so `--lens 1,0,1` and `--lens 0,1` resume each other's run.
TEST(LensLayers, AListIsStoredAscendingWithoutRepeats) {
  EXPECT_EQ(canonical_lens_spec("21,0,7,07"), "0,7,21");
  EXPECT_EQ(canonical_lens_spec("1,0,1"), "0,1");
  for (const char* kept : {"none", "all", "every:7", "1,,2", "x", ""}) EXPECT_EQ(canonical_lens_spec(kept), kept);
}

std::vector<double> tensor_f64(const model::Checkpoint& ck, const std::string& name) {
  const model::TensorView& t = ck.get(name);
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case io::DType::F32: out[size_t(i)] = static_cast<const float*>(t.data)[i]; break;
      case io::DType::BF16: out[size_t(i)] = cpu::bf16_to_f32(static_cast<const uint16_t*>(t.data)[i]); break;
      case io::DType::F16: out[size_t(i)] = cpu::f16_to_f32(static_cast<const uint16_t*>(t.data)[i]); break;
      default: ADD_FAILURE() << "dtype";
    }
  }
  return out;
}

// log p(observed) of softmax(W · (normed ? x : rmsnorm(x))) in double.
double logprob_double(const float* x, bool normed, const std::vector<double>& norm_w, const std::vector<double>& lm,
                      int64_t h, int64_t vocab, double eps, int32_t observed) {
  std::vector<double> v(static_cast<size_t>(h));
  double ss = 0;
  for (int64_t i = 0; i < h; ++i) ss += double(x[i]) * double(x[i]);
  const double inv = 1.0 / std::sqrt(ss / double(h) + eps);
  for (int64_t i = 0; i < h; ++i) v[size_t(i)] = normed ? double(x[i]) : norm_w[size_t(i)] * double(x[i]) * inv;
  std::vector<double> l(static_cast<size_t>(vocab));
  double mx = -INFINITY;
  for (int64_t j = 0; j < vocab; ++j) {
    double s = 0;
    for (int64_t i = 0; i < h; ++i) s += lm[size_t(j * h + i)] * v[size_t(i)];
    l[size_t(j)] = s;
    mx = std::max(mx, s);
  }
  double z = 0;
  for (double s : l) z += std::exp(s - mx);
  return l[size_t(observed)] - mx - std::log(z);
}

class LensFixture : public ::testing::TestWithParam<std::tuple<std::string, model::Precision>> {};

TEST_P(LensFixture, EqualsTheFixtureHiddenStatesThroughFinalNormAndLmHead) {
  const auto [fixture, precision] = GetParam();
  const std::string dir = test::fixture("models/" + fixture);
  const auto mdl = model::Model::load(dir);
  const auto ck = model::Checkpoint::open(dir);
  const auto& c = mdl->config();
  const int64_t h = c.hidden_size, vocab = c.vocab_size, L = c.num_hidden_layers;
  const auto norm_w = tensor_f64(*ck, "model.norm.weight");
  const auto lm = tensor_f64(*ck, c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  for (const char* seq : {"len7", "len64"}) {
    const std::string base = test::fixture("expected/" + fixture + "/" + seq);
    const io::Json s = io::parse_json(io::read_text_file(base + ".summary.json"), base);
    const std::vector<int32_t> ids = s.at("ids").get<std::vector<int32_t>>();
    const io::NpyArray hs = io::read_npy_f32(base + ".hidden_states.npy");  // [L + 1, T, h]
    const int64_t T = static_cast<int64_t>(ids.size());
    ASSERT_EQ(hs.shape, (std::vector<int64_t>{L + 1, T, h}));
    LensSites sites;
    for (int64_t t = 1; t < T; ++t) sites.pos.push_back(t);
    LensRows rows;
    rows.layers = lens_layers("all", int(L));
    rows.sites = &sites;
    model::ForwardOptions fo;
    fo.precision = precision;
    fo.tap = lens_tap({&rows}, {0});
    const std::vector<float> hidden = mdl->forward_hidden(ids, fo);
    const auto got = lens_of_model(*mdl, rows, hidden, ids, 5, {}, precision);
    ASSERT_EQ(got.size(), size_t(L) * sites.pos.size());
    // The model's own output at the same positions (as the positions table computes it).
    std::vector<float> logits(static_cast<size_t>((T - 1) * vocab));
    mdl->lm_head(hidden.data(), T - 1, logits.data(), precision);
    std::vector<analysis::RowSummary> own(static_cast<size_t>(T - 1));
    analysis::summarize_rows(logits.data(), T - 1, vocab, ids.data() + 1, 5, {}, own.data());
    double worst = 0, worst_shifted = 0;
    for (const auto& r : got) {
      // transformers' hidden_states[ℓ + 1] is the output of layer ℓ; its last entry is normed.
      const int64_t l = r.layer, t = r.pos;
      const float* x = hs.data.data() + ((l + 1) * T + (t - 1)) * h;
      const double want = logprob_double(x, l == L - 1, norm_w, lm, h, vocab, c.rms_norm_eps, ids[size_t(t)]);
      worst = std::max(worst, std::fabs(r.m.logprob - want));
      if (l >= 1) {  // the entry one too early (an off-by-one layer numbering)
        const float* xs = hs.data.data() + (l * T + (t - 1)) * h;
        worst_shifted = std::max(
            worst_shifted, std::fabs(r.m.logprob - logprob_double(xs, false, norm_w, lm, h, vocab, c.rms_norm_eps, ids[size_t(t)])));
      }
      if (l == L - 1) {
        EXPECT_EQ(r.m.logprob, own[size_t(t - 1)].logprob) << "last layer = the model's output, at " << t;
        EXPECT_EQ(r.m.rank, own[size_t(t - 1)].rank);
        EXPECT_EQ(r.kl_final, 0.0);
      } else {
        EXPECT_GE(r.kl_final, 0.0);
      }
    }
    std::printf("  %s %s %s: lens max |Δ log p| vs float64 from hidden_states %.3g (one layer off: %.3g)\n",
                fixture.c_str(), model::precision_name(precision), seq, worst, worst_shifted);
    EXPECT_LE(worst, 1e-4) << fixture << " " << seq;
    EXPECT_GT(worst_shifted, 1e-3) << "an off-by-one layer would go unnoticed";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LensFixture,
                         ::testing::Values(std::tuple{std::string("qwen2-f32"), model::Precision::FP32},
                                           std::tuple{std::string("qwen2-bf16"), model::Precision::FP32},
                                           std::tuple{std::string("qwen2-bf16"), model::Precision::Exact},
                                           std::tuple{std::string("qwen3-bf16"), model::Precision::Exact}),
                         [](const auto& param_info) {
                           std::string n = std::get<0>(param_info.param) + "_" + model::precision_name(std::get<1>(param_info.param));
                           for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return n;
                         });

}  // namespace
}  // namespace lsc::pipeline
