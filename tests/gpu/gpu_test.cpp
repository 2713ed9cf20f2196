// The GPU backend (gpu.h). Device parsing and the no-device path run everywhere; the rest (ctest
// label cuda) runs on a CUDA device against the shared fixtures and the CPU path: logits within
// the fixtures' 1e-4 for exact and fp32, bf16 within the fixtures' bf16 bounds (README §5); the
// device's row statistics and pair divergences against the CPU's analysis functions applied to
// the same logits. Without a device those print "skipped: no CUDA device" and count as skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "analysis/divergence.h"
#include "analysis/position_metrics.h"
#include "analysis/token_metrics.h"
#include "gpu/gpu.h"
#include "io/error.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/paths.h"
#include "model/model.h"
#include "support/fixtures.h"

namespace lsc::gpu {
namespace {

using io::Json;

Json load_json(const std::string& path) { return io::parse_json(io::read_text_file(path), path); }

bool have_device() {
  std::string why;
  return !cuda_devices(&why).empty();
}

#define REQUIRE_CUDA_DEVICE() \
  if (!have_device()) GTEST_SKIP() << "skipped: no CUDA device"

TEST(GpuDevice, ParsesDeviceSpecs) {
  EXPECT_EQ(parse_device("cpu", 0, 0), -1);
  EXPECT_EQ(parse_device("cuda", 3, 8), 0);
  EXPECT_EQ(parse_device("cuda:5", 0, 0), 5);
  EXPECT_EQ(parse_device("cuda:auto", 11, 4), 3);  // rank 11 on a node of 4 GPUs
  EXPECT_EQ(parse_device("cuda:auto", 2, 8), 2);
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CUDA", "cuda:12345", ""}) {
    EXPECT_THROW(parse_device(bad, 0, 1), UsageError) << bad;
  }
  EXPECT_TRUE(is_cuda_spec("cuda:auto"));
  EXPECT_FALSE(is_cuda_spec("cpu"));
}

// Without a device the backend says why and refuses to start; with one, a device number past the
// last is refused the same way.
TEST(GpuDevice, RefusesClearlyWhenThereIsNoSuchDevice) {
  std::string why;
  const auto devices = cuda_devices(&why);
  auto m = model::Model::load(test::fixture("models/qwen2-f32"));
  const int bad = devices.empty() ? 0 : int(devices.size());
  if (devices.empty()) {
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(why.find("CUDA") != std::string::npos) << why;
  }
  try {
    GpuModels::create(bad, {m.get()}, model::Precision::Exact, 16, 5, {});
    ADD_FAILURE() << "no error";
  } catch (const DeviceError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(msg.find("CUDA") != std::string::npos || msg.find("cuda:") != std::string::npos) << msg;
  }
}

std::vector<float> gpu_logits(GpuModels& g, size_t m, const std::vector<float>& hidden, int64_t n, int64_t h,
                              int64_t vocab) {
  std::vector<float> out(size_t(n * vocab));
  for (int64_t t0 = 0; t0 < n; t0 += g.chunk_rows()) {
    const int64_t k = std::min(g.chunk_rows(), n - t0);
    g.lm_head(m, hidden.data() + t0 * h, k, out.data() + t0 * vocab);
  }
  return out;
}

class GpuFixture : public ::testing::TestWithParam<std::tuple<std::string, model::Precision>> {};

TEST_P(GpuFixture, LogitsMatchTransformersAndHiddenStatesTheCpu) {
  REQUIRE_CUDA_DEVICE();
  const auto& [name, precision] = GetParam();
  auto m = model::Model::load(test::fixture("models/" + name));
  const auto g = GpuModels::create(0, {m.get()}, precision, 512, 20, {});
  const Json seqs = load_json(test::fixture("expected/" + name + "/sequences.json"));
  const int64_t vocab = m->config().vocab_size, h = m->config().hidden_size;
  const bool bf16 = g->method(0).rfind("bf16", 0) == 0;
  double worst = 0.0, worst_lp = 0.0, sum_lp = 0.0;
  int64_t n_lp = 0;
  for (const Json& s : seqs.at("sequences")) {
    const std::string seq = s.at("name").get<std::string>();
    const auto ids = s.at("ids").get<std::vector<int32_t>>();
    const int64_t n = int64_t(ids.size());
    model::ForwardOptions fo;
    std::vector<float> layer0;
    fo.tap = [&](const std::string& tap, const float* d, int64_t rows, int64_t cols) {
      if (tap == "layer.0") layer0.assign(d, d + rows * cols);
    };
    const std::vector<float> hidden = g->forward_hidden(0, ids, fo);
    ASSERT_EQ(int64_t(hidden.size()), n * h);
    ASSERT_EQ(int64_t(layer0.size()), n * h) << "the tap sees layer 0";
    const std::vector<float> logits = gpu_logits(*g, 0, hidden, n, h, vocab);
    const std::string base = test::fixture("expected/" + name + "/" + seq);
    const io::NpyArray ref = io::read_npy_f32(base + ".logits.npy");
    ASSERT_EQ(ref.data.size(), logits.size());
    for (size_t i = 0; i < logits.size(); ++i) worst = std::max(worst, std::fabs(double(logits[i]) - double(ref.data[i])));
    for (int64_t t = 0; t + 1 < n; ++t) {  // log p of the next token, against transformers' fp32
      std::span<const float> a(logits.data() + t * vocab, size_t(vocab)), b(ref.data.data() + t * vocab, size_t(vocab));
      const double la = double(a[size_t(ids[size_t(t + 1)])]) - analysis::row_stats(a).logsumexp;
      const double lb = double(b[size_t(ids[size_t(t + 1)])]) - analysis::row_stats(b).logsumexp;
      worst_lp = std::max(worst_lp, std::fabs(la - lb));
      sum_lp += std::fabs(la - lb);
      ++n_lp;
    }
    // The hidden states against the CPU's fp32 pass.
    const std::vector<float> cpu = m->forward_hidden(ids, {});
    double worst_h = 0.0;
    for (size_t i = 0; i < cpu.size(); ++i) worst_h = std::max(worst_h, std::fabs(double(hidden[i]) - double(cpu[i])));
    EXPECT_LE(worst_h, bf16 ? 0.5 : 1e-4) << name << "/" << seq << ": final hidden states vs the CPU";
  }
  std::printf("  %s %s on %s: max |Δ logit| %.3g, |Δ logprob_next| max %.3g mean %.3g\n", name.c_str(),
              g->method(0).c_str(), g->device().describe().c_str(), worst, worst_lp, sum_lp / double(std::max<int64_t>(n_lp, 1)));
  if (bf16) {
    EXPECT_LE(worst_lp, 0.5);  // fixtures/README.md §5 bf16 bounds
    EXPECT_LE(sum_lp / double(std::max<int64_t>(n_lp, 1)), 0.05);
  } else {
    EXPECT_LE(worst, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GpuFixture,
                         ::testing::Combine(::testing::Values("qwen2-f32", "qwen2-bf16", "qwen2-f16", "qwen2-f32-sharded",
                                                              "qwen3-f32", "qwen3-bf16", "llama-f32"),
                                            ::testing::Values(model::Precision::Exact, model::Precision::BF16)),
                         [](const auto& param_info) {
                           std::string n = std::get<0>(param_info.param) + "_" +
                                           model::precision_name(std::get<1>(param_info.param));
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

// The device's row statistics and divergences equal the CPU's analysis functions applied to the
// same logits (copied back): rank, top-k ids exactly; values within what the two exps allow (the
// CPU's polynomial exp and log have relative errors < 5e-7, the device's expf/logf ~1e-7: log-
// partitions within ~5e-7, entropies within 4e-7 · max |l − max l|, divergences alike).
TEST(GpuMeasure, RowSummariesAndPairsEqualTheCpuOnTheSameLogits) {
  REQUIRE_CUDA_DEVICE();
  auto m = model::Model::load(test::fixture("models/qwen2-bf16"));  // 512 ids
  std::vector<analysis::KeywordFamily> fams(2);
  fams[0] = {"a", {11, 13, 200, 511}, false};
  fams[1] = {"b", {7}, false};
  const auto g = GpuModels::create(0, {m.get(), m.get()}, model::Precision::Exact, 300, 20, fams);
  std::vector<int32_t> ids(300);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7919 + 13) % 512);
  const int64_t h = m->config().hidden_size, vocab = m->config().vocab_size, n = 200;
  const std::vector<float> hidden = g->forward_hidden(0, ids, {});
  // Model 0 summarizes rows [0, n), model 1 rows [1, n + 1): different rows to compare.
  const size_t N = static_cast<size_t>(n);
  std::vector<analysis::RowSummary> ga(N), gb(N), ca(N), cb(N);
  const std::vector<float> la = gpu_logits(*g, 0, hidden, n, h, vocab);
  const std::vector<float> lb = gpu_logits(*g, 1, std::vector<float>(hidden.begin() + h, hidden.end()), n, h, vocab);
  g->summarize(0, hidden.data(), n, ids.data() + 1, 20, ga.data());
  g->summarize(1, hidden.data() + h, n, ids.data() + 2, 20, gb.data());
  analysis::summarize_rows(la.data(), n, vocab, ids.data() + 1, 20, fams, ca.data());
  analysis::summarize_rows(lb.data(), n, vocab, ids.data() + 2, 20, fams, cb.data());
  std::vector<const analysis::RowSummary*> pa, pb;
  for (int64_t i = 0; i < n; ++i) pa.push_back(&ga[size_t(i)]), pb.push_back(&gb[size_t(i)]);
  std::vector<analysis::PairSummary> gd(N);
  g->compare(0, 1, n, pa.data(), pb.data(), gd.data());
  for (int64_t i = 0; i < n; ++i) {
    const auto &x = ga[size_t(i)], &y = ca[size_t(i)];
    EXPECT_EQ(x.rank, y.rank) << i;
    EXPECT_EQ(x.top1, y.top1) << i;
    EXPECT_EQ(x.topk_ids, y.topk_ids) << i;
    EXPECT_NEAR(x.logprob, y.logprob, 2e-6) << i;
    EXPECT_NEAR(x.entropy_nats, y.entropy_nats, 1e-5) << i;
    EXPECT_NEAR(x.tail_mass, y.tail_mass, 2e-6) << i;
    for (size_t f = 0; f < fams.size(); ++f) {
      EXPECT_NEAR(double(x.propensity[f]), double(y.propensity[f]), 2e-6 * double(y.propensity[f]) + 1e-9) << i;
    }
    analysis::PairSummary c;
    analysis::compare_rows({la.data() + i * vocab, size_t(vocab)}, {lb.data() + i * vocab, size_t(vocab)}, ca[size_t(i)],
                           cb[size_t(i)], &c);
    EXPECT_NEAR(gd[size_t(i)].kl_ab, c.kl_ab, 1e-5 * (1 + c.kl_ab)) << i;
    EXPECT_NEAR(gd[size_t(i)].kl_ba, c.kl_ba, 1e-5 * (1 + c.kl_ba)) << i;
    EXPECT_NEAR(gd[size_t(i)].js_bits, c.js_bits, 1e-5) << i;
    EXPECT_NEAR(gd[size_t(i)].tv, c.tv, 1e-5) << i;
  }
  // Identical rows: exactly 0.
  g->summarize(1, hidden.data(), n, ids.data() + 1, 20, gb.data());
  g->compare(0, 1, n, pa.data(), pa.data(), gd.data());
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(gd[size_t(i)].kl_ab, 0.0) << i;
}

// Long texts: the attention's key tiles and the chunked prefill (4096 rows) against the CPU.
TEST(GpuForward, LongTextMatchesTheCpuPastThePrefillChunk) {
  REQUIRE_CUDA_DEVICE();
  auto m = model::Model::load(test::fixture("models/qwen2-f32"));
  std::vector<int32_t> ids(5000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 31 + 7) % 1000);
  const auto g = GpuModels::create(0, {m.get()}, model::Precision::FP32, 5000, 5, {});
  const std::vector<float> a = g->forward_hidden(0, ids, {});
  const std::vector<float> b = m->forward_hidden(ids, {});
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  EXPECT_LE(worst, 1e-3);
  std::printf("  5000 tokens: max |Δ hidden| GPU vs CPU %.3g\n", worst);
}

}  // namespace
}  // namespace lsc::gpu
