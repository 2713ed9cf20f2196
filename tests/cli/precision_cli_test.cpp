// `logits --precision` and LSC_PRECISION: the summary records what was asked for and what ran,
// exact is the default, and a bad value is a usage error (exit 2) naming the flag. `run` at bf16
// over an F32 checkpoint: the results of its BF16 original, recorded as rounded.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/run_cli.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "io/sqlite.h"
#include "kernels/cpu/kernels.h"

namespace lsc::test {
namespace {

io::Json summary_of(const CliResult& r) { return io::parse_json(r.out, "stdout"); }

TEST(PrecisionCli, DefaultIsExactAndWhatRanIsRecorded) {
  const std::string model = fixture("models/qwen2-bf16");
  const auto exact = run_cli("logits --model " + model + " --ids 1,2,3,4");
  ASSERT_EQ(exact.code, 0) << exact.err;
  EXPECT_EQ(summary_of(exact)["precision_requested"], "exact");
  // split-bf16 where it is the faster exact method (AMX), else the fp32 kernels' products, with the
  // fast attention and SwiGLU on AVX-512.
  const std::string fp32_method = cpu::cpu_kernels().avx512 ? "exact (fp32, fast attention)" : "fp32";
  EXPECT_EQ(summary_of(exact)["precision"], cpu::exact_splits() ? "exact (split-bf16 x3)" : fp32_method);
  ::setenv("LSC_EXACT", "split", 1);
  const auto split = run_cli("logits --model " + model + " --ids 1,2,3,4");
  ::unsetenv("LSC_EXACT");
  ASSERT_EQ(split.code, 0) << split.err;
  EXPECT_EQ(summary_of(split)["precision"], std::strcmp(cpu::bf16_isa(), "none") != 0 ? "exact (split-bf16 x3)" : fp32_method);
  const auto fp32 = run_cli("logits --model " + model + " --ids 1,2,3,4 --precision fp32");
  ASSERT_EQ(fp32.code, 0) << fp32.err;
  EXPECT_EQ(summary_of(fp32)["precision"], "fp32");
  EXPECT_EQ(summary_of(fp32)["precision_requested"], "fp32");

  const auto bf16 = run_cli("logits --model " + model + " --ids 1,2,3,4 --precision bf16");
  ASSERT_EQ(bf16.code, 0) << bf16.err;
  const io::Json j = summary_of(bf16);
  EXPECT_EQ(j["precision_requested"], "bf16");
  // bf16 where the CPU has AVX512-BF16 or AMX, else the fp32 fallback — either way recorded.
  const std::string isa = j["isa"].get<std::string>();
  if (j["precision"] == "bf16") {
    EXPECT_TRUE(isa == "amx" || isa == "avx512_bf16") << isa;
  } else {
    std::printf("  bf16 fell back to fp32 on this CPU (isa %s)\n", isa.c_str());
  }

  ::setenv("LSC_PRECISION", "bf16", 1);
  const auto f32_weights =
      run_cli("logits --model " + fixture("models/qwen2-f32") + " --ids 1,2,3");
  ::unsetenv("LSC_PRECISION");
  ASSERT_EQ(f32_weights.code, 0) << f32_weights.err;
  EXPECT_EQ(summary_of(f32_weights)["precision_requested"], "bf16");
  // F32 matrices rounded to bf16 where the CPU has bf16 products, else the fp32 fallback
  EXPECT_EQ(summary_of(f32_weights)["precision"], std::strcmp(cpu::bf16_isa(), "none") != 0
                                                      ? "bf16 (F32 weights rounded to bf16)" : "fp32");
}

TEST(PrecisionCli, BadValuesAreUsageOrInputErrors) {
  const std::string model = fixture("models/qwen2-bf16");
  const auto flag = run_cli("logits --model " + model + " --ids 1,2 --precision fp16");
  EXPECT_EQ(flag.code, 2);
  EXPECT_NE(flag.err.find("--precision"), std::string::npos) << flag.err;
  ::setenv("LSC_PRECISION", "half", 1);
  const auto env = run_cli("logits --model " + model + " --ids 1,2");
  ::unsetenv("LSC_PRECISION");
  EXPECT_EQ(env.code, 3);
  EXPECT_NE(env.err.find("LSC_PRECISION"), std::string::npos) << env.err;
}

// The real-vocabulary BF16 model and its copy with every tensor widened to F32 (exactly), as two
// models of one run at bf16: the F32 one runs its matrices rounded back to the same bf16 values,
// so every stored number is its original's, and the pair's divergences are 0. At exact the F32
// copy runs the fp32 kernels, and the run's memory plan counts its F32 bytes.
TEST(PrecisionCli, AnF32CheckpointAtBf16GivesTheResultsOfItsBF16Original) {
  if (std::strcmp(cpu::bf16_isa(), "none") == 0) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lsc_precision_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "f32");
  const std::string src = fixture("models/qwen2-realvocab-bf16");
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) {
    if (fs::exists(src + "/" + f)) fs::create_symlink(src + "/" + f, dir / "f32" / f);
  }
  const std::string bytes = slurp(src + "/model.safetensors");
  const auto* file = reinterpret_cast<const std::byte*>(bytes.data());
  const io::SafetensorsHeader h = io::parse_safetensors_header({file, bytes.size()}, "model.safetensors");
  std::vector<io::TensorData> wide;
  for (const io::TensorInfo& t : h.tensors) {
    ASSERT_EQ(t.dtype, io::DType::BF16) << t.name;
    io::TensorData d{t.name, io::DType::F32, t.shape, std::vector<uint8_t>(static_cast<size_t>(t.n_elements()) * 4)};
    for (int64_t i = 0; i < t.n_elements(); ++i) {
      uint16_t b;
      std::memcpy(&b, bytes.data() + h.data_start + t.begin + 2 * i, 2);
      const float f = cpu::bf16_to_f32(b);
      std::memcpy(d.bytes.data() + 4 * i, &f, 4);
    }
    wide.push_back(std::move(d));
  }
  io::write_safetensors((dir / "f32/model.safetensors").string(), wide);
  {
    std::FILE* data = std::fopen((dir / "data.jsonl").c_str(), "w");
    ASSERT_NE(data, nullptr);
    std::fputs("{\"query\": \"What is 2+3?\", \"answer\": \"Wait, let me check: 2+3 = 5. So the answer is 5.\", \"level\": 1, \"is_correct\": true}\n"
               "{\"query\": \"Is 7 prime?\", \"answer\": \"Hmm, 7 has no divisor but 1 and 7. Therefore yes, actually it is.\", \"level\": 2, \"is_correct\": false}\n",
               data);
    std::fclose(data);
  }
  auto run = [&](const std::string& precision) {
    return run_cli("run --model bf16=" + src + " --model f32=" + (dir / "f32").string() + " --data " +
                   (dir / "data.jsonl").string() + " --out " + (dir / precision).string() +
                   " --template '{query}{answer}' --progress-interval 1000 --precision " + precision);
  };
  const auto r = run("bf16");
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db((dir / "bf16/results.sqlite").string(), false);
  EXPECT_EQ(db.query_int("SELECT precision = 'bf16 (F32 weights rounded to bf16)' FROM models WHERE name = 'f32'"), 1);
  EXPECT_EQ(db.query_int("SELECT precision = 'bf16' FROM models WHERE name = 'bf16'"), 1);
  // Before the passes the run says what computes, each model's method where they differ.
  const std::string isa = std::string(" (") + cpu::bf16_isa() + ")";
  EXPECT_NE(r.err.find(" threads; products: model 'bf16' bf16" + isa + ", model 'f32' bf16 (F32 weights rounded to bf16)" + isa + "\n"),
            std::string::npos) << r.err;
  const std::string cols = "text_idx, pos, logprob, rank, entropy, top1_id, topk_ids, topk_logprobs";
  const int64_t n = db.query_int("SELECT count(*) FROM positions WHERE model_idx = 0");
  ASSERT_GT(n, 20);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM (SELECT " + cols + " FROM positions WHERE model_idx = 0 INTERSECT "
                         "SELECT " + cols + " FROM positions WHERE model_idx = 1)"), n)
      << "every position of the F32 copy equals its original's";
  EXPECT_GT(db.query_int("SELECT count(*) FROM pairs"), 20);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM pairs WHERE kl_ab != 0 OR js_bits != 0 OR tv != 0"), 0);
  const auto e = run("exact");
  ASSERT_EQ(e.code, 0) << e.err;
  io::Db dbe((dir / "exact/results.sqlite").string(), false);
  EXPECT_EQ(dbe.query_int("SELECT precision LIKE 'exact%' FROM models WHERE name = 'f32'"), 1);
  // The memory line's weights: at exact the F32 tensors as stored; at bf16 the projections as
  // their bf16 copies, the (tied) embedding mapped as F32 and its bf16 copy as the LM head.
  double stored = 0, at_bf16 = 0;
  for (const io::TensorInfo& t : h.tensors) {
    const bool proj = t.name.find("_proj.weight") != std::string::npos;
    stored += 4.0 * double(t.n_elements());
    at_bf16 += (proj ? 2.0 : 4.0) * double(t.n_elements()) + (t.name == "model.embed_tokens.weight" ? 2.0 * double(t.n_elements()) : 0.0);
  }
  const auto weights_mib = [](const std::string& err) {
    const size_t at = err.find("memory: ");
    return at == std::string::npos ? -1.0 : std::atof(err.c_str() + at + 8);
  };
  EXPECT_NEAR(weights_mib(e.err), stored / double(1 << 20), 0.051) << e.err;
  EXPECT_NEAR(weights_mib(r.err), at_bf16 / double(1 << 20), 0.051) << r.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lsc::test
