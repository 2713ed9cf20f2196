// pipeline::run() called directly: the results do not depend on how the work is split — thread
// count, groups of texts kept between the steps, texts stacked per forward pass — nor on an
// interruption and resume. Every table is compared, reals bit for bit.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli/fixture_records.h"
#include "cli/run_cli.h"
#include "io/error.h"
#include "kernels/cpu/kernels.h"
#include "model/model.h"
#include "model/synth.h"
#include "pipeline/run.h"

namespace lsc::test {
namespace {

namespace fs = std::filesystem;

class Pipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lsc_pipeline_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(p("data.jsonl"), std::ios::binary) << many_records(5);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    omp_set_num_threads(omp_get_num_procs());
  }
  std::string p(const std::string& f) const { return (dir_ / f).string(); }
  // Two models (the same checkpoint under two names: pairs are computed too), with the logit
  // lens at every layer and answer row (its tables are compared like the others).
  pipeline::RunOptions options(const std::string& out) const {
    pipeline::RunOptions o;
    o.models = {{"a", kModel}, {"b", kModel}};
    o.lens_spec = "all";
    o.lens_at = "answer";
    o.data_path = p("data.jsonl");
    o.out_dir = p(out);
    o.quiet = true;
    return o;
  }
  std::map<std::string, std::string> tables(const std::string& out) const { return dump_tables(p(out + "/results.sqlite")); }
  fs::path dir_;
};

TEST_F(Pipeline, ResultsDoNotDependOnThreadCount) {
  auto o = options("t1");
  o.threads = 1;
  ASSERT_EQ(pipeline::run(o), kExitOk);
  o = options("t2");
  o.threads = 2;
  ASSERT_EQ(pipeline::run(o), kExitOk);
  EXPECT_EQ(tables("t1"), tables("t2"));
  io::Db db(p("t2/results.sqlite"), false);
  EXPECT_GT(db.query_int("SELECT count(*) FROM lens"), 100);
  // The same checkpoint twice: CKA 1 at every layer and scope.
  EXPECT_GT(db.query_int("SELECT count(*) FROM layer_similarity WHERE scope = 'answer'"), 0);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM layer_similarity WHERE cka IS NOT NULL AND abs(cka - 1) > 1e-9"), 0);
}

TEST_F(Pipeline, ResultsDoNotDependOnGroupingOrBatching) {
  ASSERT_EQ(pipeline::run(options("default")), kExitOk);
  const auto reference = tables("default");
  struct Split {
    const char* name;
    int64_t group_bytes, batch_tokens;
  };
  for (const Split s : {Split{"per_text_groups", 1, 512}, Split{"one_text_per_pass", int64_t{1} << 30, 1},
                        Split{"passes_of_100_rows", int64_t{1} << 30, 100}}) {
    auto o = options(s.name);
    o.group_bytes = s.group_bytes;
    o.batch_tokens = s.batch_tokens;
    ASSERT_EQ(pipeline::run(o), kExitOk) << s.name;
    EXPECT_EQ(tables(s.name), reference) << s.name;
  }
}

// The lens rows made from the measuring step's own chunks of final rows (each site's final
// row found in the chunk that holds it) equal those of lens_of_model, which computes the final
// rows of the sites again (the GPU path, checked against the fixtures in lens_test.cpp); at the
// keywords (sites scattered over prompt and answer) and at every answer row.
TEST_F(Pipeline, LensRowsFromTheMeasuringChunksEqualRecomputedOnes) {
  for (const char* at : {"keywords", "answer"}) {
    auto o = options(std::string("chunks_") + at);
    o.lens_at = at;
    ASSERT_EQ(pipeline::run(o), kExitOk) << at;
    o = options(std::string("recomputed_") + at);
    o.lens_at = at;
    o.lens_recompute_final = true;
    ASSERT_EQ(pipeline::run(o), kExitOk) << at;
    const auto chunks = tables(std::string("chunks_") + at), recomputed = tables(std::string("recomputed_") + at);
    EXPECT_EQ(chunks, recomputed) << at;
    io::Db db(p(std::string("chunks_") + at + "/results.sqlite"), false);
    EXPECT_GT(db.query_int("SELECT count(*) FROM lens WHERE layer = 0 AND kl_final > 0"), 50) << at;
  }
}

// Models on the bf16 kernel keep their packed copies together or one at a time (each model
// packing again for each text's group): the same tables. Both precisions that pack. Without the
// lens (two thirds of each run's time here): the measuring step's LM-head rows, which read the
// released models' weights in place, are the run's own rows.
TEST_F(Pipeline, ResultsDoNotDependOnWhichModelsStayPacked) {
  if (std::strcmp(cpu::bf16_isa(), "none") == 0) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  for (const model::Precision prec : {model::Precision::BF16, model::Precision::Exact}) {
    const std::string name = model::precision_name(prec);
    std::map<std::string, std::string> t[2];
    for (int one = 0; one < 2; ++one) {
      auto o = options(name + (one ? "_one" : "_all"));
      o.precision = prec;
      o.lens_spec = "none";
      o.group_bytes = 1;  // a group per text
      o.pack_residency = one ? pipeline::RunOptions::PackResidency::OneModel : pipeline::RunOptions::PackResidency::AllModels;
      ASSERT_EQ(pipeline::run(o), kExitOk) << name;
      t[one] = tables(name + (one ? "_one" : "_all"));
    }
    EXPECT_EQ(t[0], t[1]) << name;
  }
}

// A stop while texts are measured: the group under way (a text each here) is committed, no other
// starts; the same run again completes the tables of an uninterrupted run.
TEST_F(Pipeline, AnInterruptedRunResumesToTheTablesOfAnUninterruptedOne) {
  ASSERT_EQ(pipeline::run(options("whole")), kExitOk);
  std::atomic<bool> stop{false};
  auto o = options("resumed");
  o.interrupt = &stop;
  o.batch_tokens = 1;
  o.group_bytes = 1;  // a group per text
  o.on_text_committed = [&](int64_t n) {
    if (n == 2) stop.store(true);
  };
  ASSERT_EQ(pipeline::run(o), kExitInterrupted);
  {
    io::Db db(p("resumed/results.sqlite"), false);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM done"), 2);
  }
  stop.store(false);
  o.on_text_committed = nullptr;
  ASSERT_EQ(pipeline::run(o), kExitOk);
  // The argument hash ignores how the work was split, so both runs are the same run.
  EXPECT_EQ(tables("resumed"), tables("whole"));
}

// A stop during the second model's fourth pass (a text per pass, one group): that pass stops at
// its next layer, and the three texts both models have run are measured and committed, not lost
// with the group; the resume completes the tables of an uninterrupted run.
TEST_F(Pipeline, AStopDuringThePassesSavesTheTextsEveryModelHasRun) {
  ASSERT_EQ(pipeline::run(options("whole")), kExitOk);
  std::atomic<bool> stop{false};
  auto o = options("stopped");
  o.interrupt = &stop;
  o.batch_tokens = 1;
  int layers_seen = 0, last_layers = 0;
  o.on_layer = [&](size_t model, int layers) {
    if (model != 1) return;
    last_layers = layers;
    if (++layers_seen == 3 * model::Model::load(kModel)->config().num_hidden_layers + 1) stop.store(true);
  };
  ASSERT_EQ(pipeline::run(o), kExitInterrupted);
  EXPECT_EQ(last_layers, 1) << "the fourth pass went on after the stop";
  {
    io::Db db(p("stopped/results.sqlite"), false);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM done"), 3);
    EXPECT_GT(db.query_int("SELECT count(*) FROM texts"), 4);
  }
  stop.store(false);
  o.on_layer = nullptr;
  ASSERT_EQ(pipeline::run(o), kExitOk);
  EXPECT_EQ(tables("stopped"), tables("whole"));
}

// Models of different depth in one run: each gets its lens rows at its own layers; the similarity
// table holds only the pair of equal shape, and the manifest names the pairs left out.
TEST_F(Pipeline, LensOfModelsOfDifferentDepthAndTheSimilarityPairsLeftOut) {
  model::ModelConfig cfg = model::Model::load(kModel)->config();
  cfg.num_hidden_layers += 1;
  const std::string deep = p("deep");
  model::write_checkpoint(deep, cfg, model::synth_tensors(cfg, 7, io::DType::BF16));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(fs::path(kModel) / f, fs::path(deep) / f);
  auto o = options("mixed");
  o.models.push_back({"deep", deep});
  ASSERT_EQ(pipeline::run(o), kExitOk);
  io::Db db(p("mixed/results.sqlite"), false);
  const int64_t L = cfg.num_hidden_layers;
  EXPECT_EQ(db.query_int("SELECT count(DISTINCT layer) FROM lens WHERE model_idx = 2"), L);
  EXPECT_EQ(db.query_int("SELECT count(DISTINCT layer) FROM lens WHERE model_idx = 0"), L - 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM layer_similarity WHERE model_b = 2"), 0);
  EXPECT_GT(db.query_int("SELECT count(*) FROM layer_similarity WHERE model_a = 0 AND model_b = 1"), 0);
  io::Stmt s(db, "SELECT value FROM meta WHERE key = 'similarity_left_out'");
  ASSERT_TRUE(s.step());
  const std::string left = s.col_text(0);
  EXPECT_NE(left.find("'a' vs 'deep': different shapes"), std::string::npos) << left;
  EXPECT_NE(left.find("'b' vs 'deep'"), std::string::npos) << left;
}

TEST_F(Pipeline, BadInputIsAnErrorBeforeAnyResultsExist) {
  auto o = options("bad");
  o.models = {{"a", p("no_such_model")}};
  EXPECT_THROW(pipeline::run(o), InputError);
  EXPECT_FALSE(fs::exists(p("bad/results.sqlite")));
}

}  // namespace
}  // namespace lsc::test
