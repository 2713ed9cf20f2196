// The bf16 precision on every fixture: log p of the next token against the float32 expected
// values within fixtures/README.md §5's bf16 bounds (max |Δ logprob_next| ≤ 0.5, mean ≤ 0.05 per
// sequence), with the distance of transformers' own native-bf16 run (*.summary.bf16.json) printed
// beside ours for information (F32/F16 checkpoints too: their matrices rounded to bf16); bitwise
// determinism across thread counts on the bf16 path.
// Skips visibly ("skipped: no AMX or AVX512-BF16") on CPUs without bf16 hardware.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "analysis/token_metrics.h"
#include "io/json.h"
#include "io/paths.h"
#include "model/model.h"
#include "support/fixtures.h"
#include "support/model_logits.h"

namespace lsc::model {
namespace {

using io::Json;
using test::all_logits;
constexpr double kMaxBound = 0.5;    // fixtures/README.md §5: max |Δ logprob_next| vs float32
constexpr double kMeanBound = 0.05;  // fixtures/README.md §5: mean |Δ logprob_next| per sequence

bool have_bf16() { return std::strcmp(cpu::bf16_isa(), "none") != 0; }

Json load_json(const std::string& path) { return io::parse_json(io::read_text_file(path), path); }

// |Δ logprob_next| statistics of a run against a reference summary's positions.
struct Delta {
  double max = 0.0, sum = 0.0;
  int64_t n = 0, top1_agree = 0;
  void add(double d) {
    max = std::max(max, d);
    sum += d;
    ++n;
  }
  double mean() const { return n > 0 ? sum / double(n) : 0.0; }
};

Delta ours_vs(const std::vector<float>& logits, int64_t vocab, const Json& summary) {
  Delta d;
  for (const Json& p : summary.at("positions")) {
    if (!p.contains("next")) continue;
    const int64_t t = p.at("pos").get<int64_t>();
    std::span<const float> row(logits.data() + t * vocab, static_cast<size_t>(vocab));
    const auto s = analysis::row_stats(row);
    const int32_t next = p.at("next").get<int32_t>();
    d.add(std::fabs(double(row[size_t(next)]) - s.logsumexp - p.at("logprob_next").get<double>()));
    d.top1_agree += s.argmax == p.at("top5")[0][0].get<int32_t>() ? 1 : 0;
  }
  return d;
}

Delta summary_vs(const Json& a, const Json& b) {
  Delta d;
  const Json& pa = a.at("positions");
  const Json& pb = b.at("positions");
  for (size_t i = 0; i < pa.size() && i < pb.size(); ++i) {
    if (!pa[i].contains("next")) continue;
    d.add(
        std::fabs(pa[i].at("logprob_next").get<double>() - pb[i].at("logprob_next").get<double>()));
  }
  return d;
}

void check_sequence(const Model& m, const std::string& what, const std::vector<int32_t>& ids,
                    const std::string& base, Delta* total) {
  const int64_t vocab = m.config().vocab_size;
  const auto logits = all_logits(m, ids, Precision::BF16, 17);
  const Json ref = load_json(base + ".summary.json");
  const Delta d = ours_vs(logits, vocab, ref);
  if (d.n == 0) return;  // a one-token sequence predicts nothing
  EXPECT_LE(d.max, kMaxBound) << what << ": max |Δ logprob_next| vs float32";
  EXPECT_LE(d.mean(), kMeanBound) << what << ": mean |Δ logprob_next| vs float32";
  std::printf("  %-34s ours bf16 vs fp32: max %.4f mean %.4f top-1 %lld/%lld", what.c_str(), d.max,
              d.mean(), static_cast<long long>(d.top1_agree), static_cast<long long>(d.n));
  if (io::file_exists(base + ".summary.bf16.json")) {
    const Json hf = load_json(base + ".summary.bf16.json");
    const Delta h = summary_vs(hf, ref), o = ours_vs(logits, vocab, hf);
    std::printf(
        " | transformers bf16 vs fp32: max %.4f mean %.4f | ours vs transformers bf16: max %.4f",
        h.max, h.mean(), o.max);
  }
  std::printf("\n");
  total->max = std::max(total->max, d.max);
  total->sum += d.sum;
  total->n += d.n;
  total->top1_agree += d.top1_agree;
}

class Bf16Fixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Bf16Fixture, LogprobNextWithinBf16BoundsOfFloat32Expected) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const std::string name = GetParam();
  auto m = Model::load(test::fixture("models/" + name));
  const PrecisionUsed used = m->precision_used(Precision::BF16);
  std::printf("  %s: bf16 requested, runs %s on %s\n", name.c_str(), precision_name(used.precision),
              used.isa.c_str());
  Delta total;
  const Json seqs = load_json(test::fixture("expected/" + name + "/sequences.json"));
  for (const Json& s : seqs.at("sequences")) {
    const std::string seq = s.at("name").get<std::string>();
    check_sequence(*m, name + "/" + seq, s.at("ids").get<std::vector<int32_t>>(),
                   test::fixture("expected/" + name + "/" + seq), &total);
  }
  EXPECT_EQ(used.precision, Precision::BF16) << name << ": F32/F16 matrices run rounded to bf16";
  std::printf("  %-34s all positions: max %.4f mean %.4f top-1 %lld/%lld\n", name.c_str(),
              total.max, total.mean(), static_cast<long long>(total.top1_agree),
              static_cast<long long>(total.n));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Bf16Fixture,
                         ::testing::Values("qwen2-bf16", "qwen3-bf16", "qwen2-f32", "qwen2-f16",
                                           "qwen2-f32-sharded", "qwen3-f32", "llama-f32"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) c = c == '-' ? '_' : c;
                           return n;
                         });

TEST(Bf16EndToEnd, RealVocabularyModelWithinBf16Bounds) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  auto m = Model::load(test::fixture("models/qwen2-realvocab-bf16"));
  ASSERT_EQ(m->precision_used(Precision::BF16).precision, Precision::BF16);
  const Json texts = load_json(test::fixture("expected/qwen2-realvocab-bf16/texts.json"));
  Delta total;
  for (const Json& t : texts.at("texts")) {
    const std::string name = t.at("name").get<std::string>();
    check_sequence(*m, "realvocab/" + name, t.at("ids").get<std::vector<int32_t>>(),
                   test::fixture("expected/qwen2-realvocab-bf16/" + name), &total);
  }
  std::printf("  %-34s all positions: max %.4f mean %.4f top-1 %lld/%lld\n", "qwen2-realvocab-bf16",
              total.max, total.mean(), static_cast<long long>(total.top1_agree),
              static_cast<long long>(total.n));
}

// Both precisions on the bf16 kernel: bf16, and exact where it splits (LSC_EXACT=split forces it;
// else exact may be the fp32 path, checked by the fp32 tests).
const Precision kBf16KernelPrecisions[] = {Precision::BF16, Precision::Exact};

TEST(Bf16Forward, BitwiseIdenticalForAnyThreadCountAndChunkSize) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  for (const Precision prec : kBf16KernelPrecisions)
  for (const char* name : {"qwen2-bf16", "qwen3-bf16", "qwen2-realvocab-bf16"}) {
    auto m = Model::load(test::fixture(std::string("models/") + name));
    const int vocab = m->config().vocab_size;
    std::vector<int32_t> ids;
    for (int i = 0; i < 600; ++i) ids.push_back((i * 7919 + 13) % vocab);  // 600 > one 512-row tile
    omp_set_num_threads(1);
    const std::string what = std::string(name) + " " + m->precision_used(prec).method();
    const auto one = all_logits(*m, ids, prec, 64);
    omp_set_num_threads(2);
    const auto two = all_logits(*m, ids, prec, 64);
    omp_set_num_threads(3);  // more threads than cores: a different assignment again
    const auto three = all_logits(*m, ids, prec, 5);
    omp_set_num_threads(omp_get_num_procs());
    ASSERT_EQ(one.size(), two.size());
    EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * 4)) << what << ": 1 vs 2 threads";
    EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * 4))
        << what << ": 1 vs 3 threads, chunk 5";
  }
}

// Packing the weights (LSC_BF16_PACK) is a matter of memory and speed only: a model that
// packed its matrices (and fuses gate/up/SwiGLU) and one that reads them in place give bitwise
// the same logits.
TEST(Bf16Forward, PackedAndInPlaceWeightsGiveIdenticalLogits) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const char* saved = std::getenv("LSC_BF16_PACK");
  const std::string restore = saved != nullptr ? saved : "";
  for (const Precision prec : kBf16KernelPrecisions)
  for (const char* name : {"qwen2-bf16", "qwen3-bf16", "qwen2-realvocab-bf16"}) {
    std::vector<float> logits[2];
    size_t packed_bytes[2] = {0, 0};
    for (int pack = 0; pack < 2; ++pack) {
      ::setenv("LSC_BF16_PACK", pack ? "1" : "0", 1);
      auto m = Model::load(test::fixture(std::string("models/") + name));
      const int vocab = m->config().vocab_size;
      std::vector<int32_t> ids;
      for (int i = 0; i < 530; ++i) ids.push_back((i * 7919 + 13) % vocab);  // a row tail too
      logits[pack] = all_logits(*m, ids, prec, 64);
      packed_bytes[pack] = m->packed_bytes();
    }
    if (prec == Precision::Exact && !cpu::exact_splits()) continue;  // the fp32 path packs nothing
    EXPECT_EQ(packed_bytes[0], 0u) << name;
    EXPECT_GT(packed_bytes[1], 0u) << name;
    ASSERT_EQ(logits[0].size(), logits[1].size());
    EXPECT_EQ(0, std::memcmp(logits[0].data(), logits[1].data(), logits[0].size() * 4))
        << name << " " << precision_name(prec);
  }
  if (saved != nullptr) {
    ::setenv("LSC_BF16_PACK", restore.c_str(), 1);
  } else {
    ::unsetenv("LSC_BF16_PACK");
  }
}

// release_packed() frees the copies and the next pass packs again: the same logits throughout,
// the LM head alone read in place in between.
TEST(Bf16Forward, ReleasedAndRepackedWeightsGiveIdenticalLogits) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const char* saved = std::getenv("LSC_BF16_PACK");
  const std::string restore = saved != nullptr ? saved : "";
  ::setenv("LSC_BF16_PACK", "1", 1);
  for (const Precision prec : kBf16KernelPrecisions) {
    auto m = Model::load(test::fixture("models/qwen3-bf16"));
    if (m->precision_used(prec).precision == Precision::FP32) continue;
    const int vocab = m->config().vocab_size;
    std::vector<int32_t> ids;
    for (int i = 0; i < 130; ++i) ids.push_back((i * 7919 + 13) % vocab);
    const auto first = all_logits(*m, ids, prec, 64);
    const size_t packed = m->packed_bytes();
    EXPECT_GT(packed, 0u);
    EXPECT_GE(static_cast<int64_t>(packed), m->pack_bytes_needed(prec));
    ForwardOptions opt;
    opt.precision = prec;
    const auto hidden = m->forward_hidden(ids, opt);
    m->release_packed();
    EXPECT_EQ(m->packed_bytes(), 0u);
    std::vector<float> in_place(ids.size() * size_t(vocab));
    m->lm_head(hidden.data(), static_cast<int64_t>(ids.size()), in_place.data(), prec);
    EXPECT_EQ(m->packed_bytes(), 0u) << "the LM head alone must not pack";
    EXPECT_EQ(0, std::memcmp(in_place.data(), first.data(), first.size() * 4)) << precision_name(prec) << ": LM head in place";
    const auto again = all_logits(*m, ids, prec, 64);
    EXPECT_EQ(m->packed_bytes(), packed);
    EXPECT_EQ(0, std::memcmp(again.data(), first.data(), first.size() * 4)) << precision_name(prec) << ": repacked";
  }
  if (saved != nullptr) {
    ::setenv("LSC_BF16_PACK", restore.c_str(), 1);
  } else {
    ::unsetenv("LSC_BF16_PACK");
  }
}

// Batching: texts stacked in one pass give each text's forward_hidden bitwise, on the fp32
// path (every fixture architecture) and the bf16 path (packed and in place). Lengths 300 + 250 +
// 7 put the 512-row tile boundary inside the second text.
TEST(Batch, ForwardHiddenBatchEqualsOneTextAtATime) {
  const char* saved = std::getenv("LSC_BF16_PACK");
  const std::string restore = saved != nullptr ? saved : "";
  struct Case {
    const char* model;
    Precision precision;
    const char* pack;
  };
  const Case cases[] = {{"qwen2-f32", Precision::FP32, "1"},  {"qwen3-f32", Precision::FP32, "1"},
                        {"llama-f32", Precision::FP32, "1"},  {"qwen2-bf16", Precision::BF16, "1"},
                        {"qwen2-bf16", Precision::BF16, "0"}, {"qwen3-bf16", Precision::BF16, "1"},
                        {"qwen2-bf16", Precision::Exact, "1"}, {"qwen2-bf16", Precision::Exact, "0"},
                        {"qwen3-bf16", Precision::Exact, "1"}};
  for (const Case& c : cases) {
    if (c.precision != Precision::FP32 && !have_bf16()) continue;
    ::setenv("LSC_BF16_PACK", c.pack, 1);
    auto m = Model::load(test::fixture(std::string("models/") + c.model));
    const int vocab = m->config().vocab_size;
    std::vector<std::vector<int32_t>> texts;
    for (int len : {300, 250, 7, 1}) {
      std::vector<int32_t> ids;
      for (int i = 0; i < len; ++i) ids.push_back((i * 7919 + 13 * len) % vocab);
      texts.push_back(ids);
    }
    ForwardOptions opt;
    opt.precision = c.precision;
    const auto batched = m->forward_hidden_batch({texts[0], texts[1], texts[2], texts[3]}, opt);
    ASSERT_EQ(batched.size(), texts.size());
    // Chunked prefill with chunks that cut through texts (64: the bf16 tile; 37: not a multiple).
    ForwardOptions small = opt;
    small.prefill_chunk_rows = 64;
    const auto batched64 = m->forward_hidden_batch({texts[0], texts[1], texts[2], texts[3]}, small);
    small.prefill_chunk_rows = 37;
    const auto batched37 = m->forward_hidden_batch({texts[0], texts[1], texts[2], texts[3]}, small);
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto alone = m->forward_hidden(texts[i], opt);
      ASSERT_EQ(alone.size(), batched[i].size());
      EXPECT_EQ(0, std::memcmp(alone.data(), batched[i].data(), alone.size() * 4))
          << c.model << " " << precision_name(c.precision) << " pack=" << c.pack << ": text " << i;
      EXPECT_EQ(0, std::memcmp(alone.data(), batched64[i].data(), alone.size() * 4))
          << c.model << " " << precision_name(c.precision) << " pack=" << c.pack << ": text " << i << ", chunk 64";
      EXPECT_EQ(0, std::memcmp(alone.data(), batched37[i].data(), alone.size() * 4))
          << c.model << " " << precision_name(c.precision) << " pack=" << c.pack << ": text " << i << ", chunk 37";
    }
  }
  if (saved != nullptr) {
    ::setenv("LSC_BF16_PACK", restore.c_str(), 1);
  } else {
    ::unsetenv("LSC_BF16_PACK");
  }
}

}  // namespace
}  // namespace lsc::model
