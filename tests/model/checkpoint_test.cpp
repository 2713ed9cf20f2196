// Checkpoint folders: the loader accepts valid layouts and refuses every broken one with a message
// that names the file, the tensor or key, what was expected and what was found. Each case writes
// its own crafted checkpoint (synthetic weights from the tensor table).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/synth.h"
#include "model/tensor_table.h"

namespace lsc::model {
namespace {

namespace fs = std::filesystem;

ModelConfig tiny(Arch arch = Arch::Qwen2) {
  ModelConfig c;
  c.arch = arch;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.vocab_size = 50;
  c.max_position_embeddings = 128;
  c.attention_bias = arch == Arch::Qwen2;
  c.qk_norm = arch == Arch::Qwen3;
  return c;
}

class CheckpointDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lsc_ckpt_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& f = "") const { return f.empty() ? dir_.string() : (dir_ / f).string(); }
  std::string error_of_open() const {
    try {
      Checkpoint::open(path());
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(CheckpointDir, OpensEveryArchitectureInEveryDtypeAndShardLayout) {
  for (Arch a : {Arch::Qwen2, Arch::Qwen3, Arch::Llama}) {
    for (io::DType dt : {io::DType::F32, io::DType::BF16, io::DType::F16}) {
      for (int shards : {1, 3}) {
        fs::remove_all(dir_);
        const ModelConfig c = tiny(a);
        write_checkpoint(path(), c, synth_tensors(c, 7, dt), shards);
        auto ck = Checkpoint::open(path());
        EXPECT_EQ(ck->shards().size(), size_t(shards));
        EXPECT_TRUE(ck->unused_tensors().empty());
        auto m = Model::load(path());
        const std::vector<int32_t> ids = {1, 2, 3, 49};
        int rows = 0;
        m->forward(ids, [&](const LogitsChunk& ch) { rows += int(ch.n_rows); });
        EXPECT_EQ(rows, 4);
      }
    }
  }
}

TEST_F(CheckpointDir, MissingConfigJson) {
  const std::string e = error_of_open();
  EXPECT_NE(e.find("config.json: expected a config.json in the checkpoint folder, found no such file"), std::string::npos) << e;
}

TEST_F(CheckpointDir, MissingFolder) {
  try {
    Checkpoint::open(path("nope"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nope: expected a checkpoint folder"), std::string::npos);
  }
}

TEST_F(CheckpointDir, MissingWeightsFile) {
  io::write_file_atomic(path("config.json"), config_json(tiny()));
  EXPECT_NE(error_of_open().find("expected model.safetensors or model.safetensors.index.json, found neither"),
            std::string::npos);
}

TEST_F(CheckpointDir, IndexNamingAMissingShard) {
  const ModelConfig c = tiny();
  write_checkpoint(path(), c, synth_tensors(c, 1, io::DType::F32), 2);
  fs::remove(path("model-00002-of-00002.safetensors"));
  const std::string e = error_of_open();
  EXPECT_NE(e.find("model.safetensors.index.json"), std::string::npos) << e;
  EXPECT_NE(e.find("shard 'model-00002-of-00002.safetensors' to exist"), std::string::npos) << e;
}

TEST_F(CheckpointDir, IndexListingATensorTheShardLacks) {
  const ModelConfig c = tiny();
  write_checkpoint(path(), c, synth_tensors(c, 1, io::DType::F32), 2);
  io::Json idx = io::parse_json(io::read_text_file(path("model.safetensors.index.json")), "idx");
  idx["weight_map"]["model.layers.9.extra.weight"] = "model-00001-of-00002.safetensors";
  io::write_file_atomic(path("model.safetensors.index.json"), idx.dump());
  EXPECT_NE(error_of_open().find("tensor 'model.layers.9.extra.weight': expected to be present (the index lists it)"),
            std::string::npos);
}

TEST_F(CheckpointDir, TruncatedShard) {
  const ModelConfig c = tiny();
  write_checkpoint(path(), c, synth_tensors(c, 1, io::DType::BF16));
  const auto size = fs::file_size(path("model.safetensors"));
  fs::resize_file(path("model.safetensors"), size - 100);  // cut in the middle of the last tensor
  const std::string e = error_of_open();
  EXPECT_NE(e.find("model.safetensors: tensor '"), std::string::npos) << e;
  EXPECT_NE(e.find("data_offsets: expected 0 <= begin <= end <="), std::string::npos) << e;
}

TEST_F(CheckpointDir, MissingTensor) {
  const ModelConfig c = tiny();
  auto t = synth_tensors(c, 1, io::DType::F32);
  std::erase_if(t, [](const io::TensorData& x) { return x.name == "model.layers.1.mlp.up_proj.weight"; });
  write_checkpoint(path(), c, t);
  EXPECT_NE(error_of_open().find("tensor 'model.layers.1.mlp.up_proj.weight': expected present with shape [24, 16], "
                                 "found no such tensor in 1 shard(s)"),
            std::string::npos);
}

TEST_F(CheckpointDir, WrongShape) {
  const ModelConfig c = tiny();
  auto t = synth_tensors(c, 1, io::DType::F32);
  for (auto& x : t) {
    if (x.name == "model.layers.0.self_attn.k_proj.weight") x.shape = {16, 8};
  }
  write_checkpoint(path(), c, t);
  const std::string e = error_of_open();
  EXPECT_NE(e.find("model.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight': expected shape [8, 16], "
                   "found [16, 8]"),
            std::string::npos)
      << e;
}

TEST_F(CheckpointDir, UnsupportedTensorDtype) {
  const ModelConfig c = tiny();
  auto t = synth_tensors(c, 1, io::DType::F32);
  for (auto& x : t) {
    if (x.name == "model.norm.weight") x.dtype = io::DType::I32;  // same byte size as F32
  }
  write_checkpoint(path(), c, t);
  EXPECT_NE(error_of_open().find("tensor 'model.norm.weight': expected dtype F32, BF16 or F16, found I32"),
            std::string::npos);
}

TEST_F(CheckpointDir, ExtraAndTiedHeadTensorsAreReportedUnused) {
  ModelConfig c = tiny();
  c.tie_word_embeddings = true;
  auto t = synth_tensors(c, 1, io::DType::F32);
  t.push_back({"lm_head.weight", io::DType::F32, {50, 16}, std::vector<uint8_t>(50 * 16 * 4)});
  t.push_back({"model.rotary_emb.inv_freq", io::DType::F32, {2}, std::vector<uint8_t>(8)});
  write_checkpoint(path(), c, t);
  auto ck = Checkpoint::open(path());
  EXPECT_EQ(ck->unused_tensors(), (std::vector<std::string>{"lm_head.weight", "model.rotary_emb.inv_freq"}));
}

TEST_F(CheckpointDir, TokenIdsOutOfVocabularyAndEmptyListAreRejected) {
  const ModelConfig c = tiny();
  write_checkpoint(path(), c, synth_tensors(c, 1, io::DType::F32));
  auto m = Model::load(path());
  const std::vector<int32_t> bad = {1, 50};
  try {
    m->validate_ids(bad, "ids.txt");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "ids.txt: token id at position 1: expected an id in [0, 50), found 50");
  }
  EXPECT_THROW(m->validate_ids({}, "ids.txt"), InputError);
}

TEST_F(CheckpointDir, TensorTableListsEveryRequiredTensorOnce) {
  for (Arch a : {Arch::Qwen2, Arch::Qwen3, Arch::Llama}) {
    std::set<std::string> names;
    int n = 0;
    for_each_tensor(tiny(a), [&](const TensorSpec& s) {
      names.insert(s.name);
      ++n;
    });
    EXPECT_EQ(names.size(), size_t(n));
    // embed + norm + lm_head + per layer (9 base + 3 bias for qwen2 / 2 norms for qwen3)
    const int per_layer = 9 + (a == Arch::Qwen2 ? 3 : 0) + (a == Arch::Qwen3 ? 2 : 0);
    EXPECT_EQ(n, 3 + 2 * per_layer) << arch_name(a);
  }
}

}  // namespace
}  // namespace lsc::model
