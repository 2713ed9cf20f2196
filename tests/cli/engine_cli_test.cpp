// The inspect and logits commands as a user runs them: real fixture checkpoints, broken inputs,
// exit codes (0 ok, 2 usage, 3 bad input, 4 cannot write) and messages naming file and problem.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <regex>

#include "cli/run_cli.h"
#include "io/json.h"
#include "io/npy.h"

namespace lsc::test {
namespace {

std::string tmp(const std::string& name) { return "/tmp/lsc_engine_cli_" + std::to_string(::getpid()) + "_" + name; }

std::string seq_ids(const std::string& fixture_name, size_t i_seq) {
  const auto j = io::parse_json(slurp(fixture("expected/" + fixture_name + "/sequences.json")), "sequences.json");
  std::string ids;
  for (const auto& id : j.at("sequences").at(i_seq).at("ids")) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(id.get<int>());
  }
  return ids;
}

// --version: the version and the commit built (where the tree was a git checkout), the compiler,
// the CPU and the kernels it runs, the CUDA devices where that backend is built; `version` says
// the same.
TEST(VersionCli, NamesTheBuildAndTheKernelsThisCpuRuns) {
  const CliResult r = run_cli("--version");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("^logitscope [0-9]+\\.[0-9]+\\.[0-9]+( \\(commit [0-9a-f]{7,}(-dirty)?\\))?\n"
                                                  "built with [^\n]+ build\nCPU: [^\n]+\nfp32 kernels: (avx512|avx2|scalar); "
                                                  "bf16 products \\(oneDNN\\): [^\n]+\nexact precision: [^\n]+\n"
                                                  "CUDA backend \\(--device cuda\\): (built|not built)\n(  [^\n]+\n)*"
                                                  "MPI \\(mpirun ranks as shards\\): (built|not built)\n$")))
      << r.out;
  EXPECT_EQ(run_cli("version").out, r.out);
}

TEST(InspectCli, DescribesAShardedCheckpoint) {
  const auto r = run_cli("inspect " + fixture("models/qwen2-f32-sharded"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture qwen2 / Qwen2ForCausalLM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 shard(s), 27 tensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4 heads, 2 kv heads, head_dim 16, q/k/v bias"), std::string::npos);
  EXPECT_NE(r.out.find("memory"), std::string::npos);
  // Small sizes in MiB and the parameter count in its own scale (they read "0.000 GiB", "0.000 B").
  EXPECT_NE(r.out.find(" MiB weights (memory-mapped"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" K)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("positions (max_position_embeddings: run's default --max-tokens)"), std::string::npos) << r.out;
}

TEST(InspectCli, JsonCountsParametersAndBytes) {
  const auto r = run_cli("inspect --json " + fixture("models/qwen3-bf16"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = io::parse_json(r.out, "stdout");
  EXPECT_EQ(j.at("model_type"), "qwen3");
  EXPECT_EQ(j.at("head_dim"), 16);
  EXPECT_EQ(j.at("parameters"), j.at("parameters_stored"));
  EXPECT_EQ(j.at("weight_bytes_by_dtype").at("BF16").get<int64_t>(), 2 * j.at("parameters").get<int64_t>());
}

// An F32 checkpoint at --precision bf16 reads bf16 copies of its matrices: inspect states both
// figures (where the CPU has bf16 products; elsewhere bf16 falls back to fp32 and they agree).
TEST(InspectCli, F32CheckpointsStateTheirMemoryAtBf16) {
  const auto r = run_cli("inspect --json " + fixture("models/llama-f32"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = io::parse_json(r.out, "stdout");
  const int64_t stored = j.at("memory_weights_mmapped_bytes").get<int64_t>();
  const int64_t bf16 = j.at("memory_bf16_weights_bytes").get<int64_t>();
  const int64_t h = j.at("hidden_size").get<int64_t>(), inter = j.at("intermediate_size").get<int64_t>();
  const int64_t q = j.at("num_attention_heads").get<int64_t>() * j.at("head_dim").get<int64_t>();
  const int64_t kv = j.at("num_key_value_heads").get<int64_t>() * j.at("head_dim").get<int64_t>();
  const int64_t matrices = j.at("num_hidden_layers").get<int64_t>() * (h * (2 * q + 2 * kv) + 3 * h * inter) +
                           j.at("vocab_size").get<int64_t>() * h;  // untied: the LM head too
  const auto text = run_cli("inspect " + fixture("models/llama-f32"));
  ASSERT_EQ(text.code, 0) << text.err;
  if (bf16 == stored) {
    EXPECT_EQ(text.out.find("memory bf16"), std::string::npos) << text.out;
    GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU (bf16 runs fp32)";
  }
  EXPECT_EQ(stored - bf16, 2 * matrices);
  EXPECT_EQ(j.at("memory_bf16_total_bytes").get<int64_t>() - bf16, j.at("memory_activations_bytes").get<int64_t>());
  EXPECT_NE(text.out.find("with --precision bf16"), std::string::npos) << text.out;
  const auto bf16_ckpt = run_cli("inspect " + fixture("models/qwen2-bf16"));
  EXPECT_EQ(bf16_ckpt.out.find("memory bf16"), std::string::npos) << "BF16 checkpoints: one figure";
}

TEST(InspectCli, BadFolderIsExitCode3NamingTheFile) {
  const auto r = run_cli("inspect /nonexistent/model");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("logitscope: error: /nonexistent/model: expected a checkpoint folder"), std::string::npos) << r.err;
}

TEST(LogitsCli, NpyAndSummaryMatchTheReference) {
  const std::string npy = tmp("l.npy"), sum = tmp("s.json");
  const auto r = run_cli("logits --model " + fixture("models/llama-f32") + " --ids " + seq_ids("llama-f32", 1) +
                         " --npy " + npy + " --summary " + sum + " --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto got = io::read_npy_f32(npy), ref = io::read_npy_f32(fixture("expected/llama-f32/len64.logits.npy"));
  ASSERT_EQ(got.shape, ref.shape);
  double worst = 0;
  for (size_t i = 0; i < got.data.size(); ++i) worst = std::max(worst, std::fabs(double(got.data[i]) - double(ref.data[i])));
  EXPECT_LE(worst, 1e-4);  // fixtures/README.md §5
  const auto s = io::parse_json(slurp(sum), sum);
  const auto rs = io::parse_json(slurp(fixture("expected/llama-f32/len64.summary.json")), "ref");
  ASSERT_EQ(s.at("positions").size(), 63u);  // positions 1..63
  for (size_t t = 1; t < 64; ++t) {
    const auto& p = s.at("positions")[t - 1];
    const auto& q = rs.at("positions")[t - 1];  // reference row t-1 describes token t
    EXPECT_EQ(p.at("pos"), t);
    EXPECT_EQ(p.at("token"), q.at("next"));
    EXPECT_NEAR(p.at("logprob").get<double>(), q.at("logprob_next").get<double>(), 1e-4);
    EXPECT_NEAR(p.at("entropy_nats").get<double>(), q.at("entropy").get<double>(), 1e-4);
    if (q.at("rank_margin").get<double>() > 1e-4) {
      EXPECT_EQ(p.at("rank"), q.at("rank_next"));
    }
  }
  std::remove(npy.c_str());
  std::remove(sum.c_str());
}

TEST(LogitsCli, IdsFileAndStdoutSummary) {
  const std::string ids = tmp("ids.txt");
  {
    std::ofstream f(ids);
    f << "5 6\n7,8\n";
  }
  const auto r = run_cli("logits --model " + fixture("models/qwen2-f16") + " --ids-file " + ids);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = io::parse_json(r.out, "stdout");
  EXPECT_EQ(j.at("ids"), (std::vector<int>{5, 6, 7, 8}));
  EXPECT_EQ(j.at("positions").size(), 3u);
  std::remove(ids.c_str());
}

TEST(LogitsCli, BadInputsGiveExitCodesAndMessages) {
  const std::string m = fixture("models/qwen2-f32");
  auto r = run_cli("logits --model " + m + " --ids 1,2,1000");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--ids: token id at position 2: expected an id in [0, 1000), found 1000"), std::string::npos)
      << r.err;
  r = run_cli("logits --model " + m + " --ids ,");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("expected at least one id, found an empty list"), std::string::npos) << r.err;
  r = run_cli("logits --model " + m + " --ids 1,x");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--ids: token id at position 1: expected an integer, found \"x\""), std::string::npos) << r.err;
  r = run_cli("logits --model " + m + " --ids-file /nonexistent/ids.txt");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("/nonexistent/ids.txt"), std::string::npos) << r.err;
  r = run_cli("logits --model " + m + " --ids 1,2 --npy /nonexistent-dir/out.npy");
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("/nonexistent-dir/out.npy: cannot open for writing"), std::string::npos) << r.err;
  r = run_cli("logits --model " + m + " --ids 1 --frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown option --frobnicate"), std::string::npos) << r.err;
  r = run_cli("logits --ids 1");
  EXPECT_EQ(r.code, 2);
  r = run_cli("nosuchcommand");
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace lsc::test
