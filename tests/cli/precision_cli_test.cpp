// `logits --precision` and LSC_PRECISION: the summary records what was asked for and what ran,
// exact is the default, and a bad value is a usage error (exit 2) naming the flag.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli/run_cli.h"
#include "io/json.h"
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
  EXPECT_EQ(summary_of(f32_weights)["precision"], "fp32");  // F32 weights run fp32
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

}  // namespace
}  // namespace lsc::test
