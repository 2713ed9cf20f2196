// The bf16 precision on F32/F16 checkpoints: their matrices rounded to bf16 (to nearest even) in
// the packed copy the bf16 kernel reads, embeddings, norms and biases as stored. Checked bit for
// bit against checkpoints that store the rounded matrices as BF16 (whose bf16 path is checked
// against transformers' in bf16_test.cpp): a BF16 fixture widened to F32 gives the fixture's own
// logits, and an F32/F16 fixture gives those of its copy with BF16 matrices. Also: what a run
// counts as the weights' memory, and the LM head's copy kept through release_packed().
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "io/json.h"
#include "io/paths.h"
#include "io/safetensors_writer.h"
#include "model/model.h"
#include "support/fixtures.h"
#include "support/model_logits.h"

namespace lsc::model {
namespace {

namespace fs = std::filesystem;
using test::all_logits;
using test::some_ids;

bool have_bf16() { return std::strcmp(cpu::bf16_isa(), "none") != 0; }

// LSC_BF16_PACK set for the test's lifetime.
class PackEnv {
 public:
  explicit PackEnv(const char* value) {
    const char* saved = std::getenv("LSC_BF16_PACK");
    had_ = saved != nullptr;
    if (had_) saved_ = saved;
    ::setenv("LSC_BF16_PACK", value, 1);
  }
  ~PackEnv() { had_ ? (void)::setenv("LSC_BF16_PACK", saved_.c_str(), 1) : (void)::unsetenv("LSC_BF16_PACK"); }

 private:
  bool had_ = false;
  std::string saved_;
};

bool is_matrix(const std::string& name) {
  return name == "lm_head.weight" || (name.size() > 12 && name.compare(name.size() - 12, 12, "_proj.weight") == 0);
}

// Writes dir/config.json and dir/model.safetensors: every tensor of the checkpoint at `src`
// stored as dtype_of(name) (values widened exactly, or rounded to nearest even to BF16). With
// `untie`, a tied checkpoint gets its LM head as a tensor of its own, lm_head.weight (the
// embedding stays as stored).
void write_copy(const std::string& src, const std::string& dir,
                const std::function<io::DType(const std::string&, io::DType)>& dtype_of, bool untie) {
  auto m = Model::load(src);
  io::Json cfg = io::parse_json(io::read_text_file(src + "/config.json"), "config.json");
  std::vector<io::TensorData> out;
  auto add = [&](const std::string& name, const TensorView& t) {
    io::TensorData d;
    d.name = name;
    d.dtype = dtype_of(name, t.dtype);
    d.shape = t.shape;
    int64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    const cpu::WeightMatrix flat{t.data, t.dtype == io::DType::BF16 ? cpu::WType::BF16
                                         : t.dtype == io::DType::F16 ? cpu::WType::F16
                                                                     : cpu::WType::F32, 1, n};
    std::vector<float> v(static_cast<size_t>(n));
    cpu::convert_row(flat, 0, v.data());
    if (d.dtype == io::DType::F32) {
      d.bytes.resize(v.size() * 4);
      std::memcpy(d.bytes.data(), v.data(), d.bytes.size());
    } else {
      ASSERT_TRUE(d.dtype == io::DType::BF16) << name;
      d.bytes.resize(v.size() * 2);
      for (size_t i = 0; i < v.size(); ++i) {
        const uint16_t b = cpu::f32_to_bf16(v[i]);
        std::memcpy(d.bytes.data() + 2 * i, &b, 2);
      }
    }
    out.push_back(std::move(d));
  };
  for (const auto& [name, t] : m->checkpoint().tensors()) add(name, t);
  const bool tied = !m->checkpoint().tensors().count("lm_head.weight");
  if (untie && tied) {
    add("lm_head.weight", m->checkpoint().get("model.embed_tokens.weight"));
    cfg["tie_word_embeddings"] = false;
  }
  fs::create_directories(dir);
  io::write_safetensors(dir + "/model.safetensors", out);
  io::write_file_atomic(dir + "/config.json", cfg.dump());
}

class Rounded : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lsc_bf16_rounded_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(Rounded, BF16CheckpointsWidenedToF32GiveTheirOwnBf16Logits) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  for (const char* name : {"qwen2-bf16", "qwen3-bf16"}) {
    const std::string src = test::fixture(std::string("models/") + name), wide = dir(std::string(name) + "-f32");
    write_copy(src, wide, [](const std::string&, io::DType) { return io::DType::F32; }, false);
    for (const char* pack : {"1", "0"}) {  // the BF16 original packed and in place: the same bits
      PackEnv env(pack);
      auto a = Model::load(src), b = Model::load(wide);
      EXPECT_EQ(b->precision_used(Precision::BF16).method(), "bf16 (F32 weights rounded to bf16)");
      const auto ids = some_ids(150, a->config().vocab_size);
      const auto want = all_logits(*a, ids, Precision::BF16), got = all_logits(*b, ids, Precision::BF16);
      ASSERT_EQ(want.size(), got.size());
      EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * 4)) << name << ", LSC_BF16_PACK=" << pack;
      EXPECT_GT(b->packed_bytes(), 0u) << "F32 matrices are packed whatever LSC_BF16_PACK says";
    }
  }
}

TEST_F(Rounded, F32AndF16CheckpointsGiveTheLogitsOfTheirCopyWithBF16Matrices) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  PackEnv env("1");
  for (const char* name : {"qwen2-f32", "qwen2-f16", "qwen3-f32", "llama-f32", "qwen2-f32-sharded"}) {
    const std::string src = test::fixture(std::string("models/") + name), copy = dir(std::string(name) + "-bf16mat");
    write_copy(src, copy, [](const std::string& t, io::DType stored) { return is_matrix(t) ? io::DType::BF16 : stored == io::DType::F16 ? io::DType::F32 : stored; },
               true);
    auto a = Model::load(src), b = Model::load(copy);
    EXPECT_EQ(b->precision_used(Precision::BF16).method(), "bf16") << "every matrix of the copy is BF16";
    EXPECT_NE(a->precision_used(Precision::BF16).method().find("weights rounded to bf16"), std::string::npos);
    const auto ids = some_ids(130, a->config().vocab_size);
    const auto want = all_logits(*b, ids, Precision::BF16), got = all_logits(*a, ids, Precision::BF16);
    ASSERT_EQ(want.size(), got.size());
    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * 4)) << name;
    // fp32 and exact keep the stored values (the fp32 kernels)
    EXPECT_EQ(a->precision_used(Precision::Exact).precision, Precision::FP32) << name;
    const auto fp32 = all_logits(*a, ids, Precision::FP32);
    EXPECT_NE(0, std::memcmp(fp32.data(), got.data(), got.size() * 4)) << name << ": bf16 must differ from fp32";
  }
}

// The LM head's bf16 copy outlives release_packed() (the measuring step of a run that keeps one
// model's copies at a time reads it), and the weights count at their bf16 size.
TEST_F(Rounded, ReleaseKeepsTheLmHeadCopyAndWeightsCountAsBf16) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  PackEnv env("auto");
  auto m = Model::load(test::fixture("models/qwen2-f16"));  // untied: an LM head of its own
  const int vocab = m->config().vocab_size, h = m->config().hidden_size;
  const auto ids = some_ids(90, vocab);
  const auto first = all_logits(*m, ids, Precision::BF16);
  const size_t all = m->packed_bytes();
  ForwardOptions opt;
  opt.precision = Precision::BF16;
  const auto hidden = m->forward_hidden(ids, opt);
  m->release_packed();
  const size_t kept = m->packed_bytes();
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, all);
  EXPECT_GE(static_cast<int64_t>(kept), m->lm_head_copy_bytes(Precision::BF16));
  EXPECT_EQ(m->lm_head_copy_bytes(Precision::BF16), int64_t{vocab} * h * 2);
  EXPECT_EQ(m->lm_head_copy_bytes(Precision::FP32), 0);
  std::vector<float> again(ids.size() * size_t(vocab));
  m->lm_head(hidden.data(), static_cast<int64_t>(ids.size()), again.data(), Precision::BF16);
  EXPECT_EQ(0, std::memcmp(again.data(), first.data(), first.size() * 4)) << "LM head after release";
  EXPECT_EQ(m->packed_bytes(), kept) << "the LM head alone packs nothing more";
  const auto repacked = all_logits(*m, ids, Precision::BF16);
  EXPECT_EQ(0, std::memcmp(repacked.data(), first.data(), first.size() * 4)) << "after packing again";
  EXPECT_EQ(m->packed_bytes(), all);

  // F16 matrices are stored in 2 bytes already: the same bytes either way. F32 ones halve.
  EXPECT_EQ(m->weight_bytes(Precision::BF16), m->weight_bytes(Precision::FP32));
  auto f32 = Model::load(test::fixture("models/llama-f32"));  // untied
  const ModelConfig& c = f32->config();
  const int64_t kv = int64_t{c.num_key_value_heads} * c.head_dim, q = int64_t{c.num_attention_heads} * c.head_dim;
  const int64_t matrix_elems = int64_t{c.num_hidden_layers} * (c.hidden_size * (2 * q + 2 * kv) +
                                                               3 * int64_t{c.hidden_size} * c.intermediate_size) +
                               int64_t{c.vocab_size} * c.hidden_size;
  EXPECT_EQ(f32->weight_bytes(Precision::FP32) - f32->weight_bytes(Precision::BF16), 2 * matrix_elems);
  EXPECT_EQ(f32->pack_bytes_needed(Precision::BF16), 2 * matrix_elems);
  EXPECT_EQ(f32->pack_bytes_needed(Precision::Exact), 0);
  // A tied F32 LM head is the embedding, which stays mapped: its bf16 copy comes on top.
  auto tied = Model::load(test::fixture("models/qwen2-f32"));
  const ModelConfig& t = tied->config();
  const int64_t head = int64_t{t.vocab_size} * t.hidden_size;
  EXPECT_EQ(tied->weight_bytes(Precision::FP32) - tied->weight_bytes(Precision::BF16),
            tied->pack_bytes_needed(Precision::BF16) - 4 * head)
      << "projections: 4 bytes stored become 2; the LM head adds its 2 next to the embedding's 4";
}

}  // namespace
}  // namespace lsc::model
