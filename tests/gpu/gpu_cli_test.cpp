// `--device cuda` at the level a user sees. Without a device: a clear error (exit 5) naming why.
// With one (label cuda): the demo on the GPU finds the same occurrences and pairs as on the CPU,
// with values within tolerance, and a run whose texts were partly lost resumes to the same tables.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "cli/run_cli.h"
#include "gpu/gpu.h"
#include "io/sqlite.h"

namespace lsc::test {
namespace {

namespace fs = std::filesystem;

bool have_device() {
  std::string why;
  return !gpu::cuda_devices(&why).empty();
}

TEST(GpuDeviceCli, DeviceCudaWithoutADeviceIsAClearError) {
  if (have_device()) GTEST_SKIP() << "a CUDA device is present";
  const auto r = run_cli("logits --model " + fixture("models/qwen2-f32") + " --ids 1,2,3 --device cuda");
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_TRUE(r.err.find("no CUDA device") != std::string::npos ||
              r.err.find("without the CUDA backend") != std::string::npos)
      << r.err;
  const auto bad = run_cli("logits --model " + fixture("models/qwen2-f32") + " --ids 1,2,3 --device gpu0");
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--device 'gpu0'"), std::string::npos) << bad.err;
  // The demo says so before it writes its checkpoints (it wrote 39 MB first).
  const fs::path out = fs::temp_directory_path() / ("lsc_gpu_nodevice_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const auto demo = run_cli("demo --out " + out.string() + " --device cuda:1 --quiet");
  EXPECT_EQ(demo.code, 5) << demo.err;
  EXPECT_NE(demo.err.find("logitscope: device error: --device cuda:1: "), std::string::npos) << demo.err;
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(out);
}

double max_abs_diff(io::Db& a, io::Db& b, const std::string& sql) {
  io::Stmt x(a, sql), y(b, sql);
  double worst = 0.0;
  while (x.step()) {
    if (!y.step()) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::fabs(x.col_double(0) - y.col_double(0)));
  }
  return y.step() ? std::numeric_limits<double>::infinity() : worst;
}

TEST(GpuCli, DemoOnTheGpuMatchesTheCpuAndResumes) {
  if (!have_device()) GTEST_SKIP() << "skipped: no CUDA device";
  const fs::path base = fs::temp_directory_path() / ("lsc_gpu_demo_" + std::to_string(::getpid()));
  fs::remove_all(base);
  const std::string cpu = (base / "cpu").string(), gpu = (base / "gpu").string();
  auto r = run_cli("demo --quiet --out " + cpu);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli("demo --quiet --device cuda --out " + gpu);
  ASSERT_EQ(r.code, 0) << r.err;
  {
    io::Db a(cpu + "/results.sqlite", false), b(gpu + "/results.sqlite", false);
    for (const char* t : {"occurrences", "pairs", "positions", "lens", "windows"}) {
      EXPECT_EQ(a.query_int(std::string("SELECT count(*) FROM ") + t), b.query_int(std::string("SELECT count(*) FROM ") + t)) << t;
    }
    EXPECT_LE(max_abs_diff(a, b, "SELECT logprob_word FROM occurrences ORDER BY occ_idx"), 1e-3);
    EXPECT_LE(max_abs_diff(a, b, "SELECT logprob FROM positions WHERE logprob IS NOT NULL ORDER BY text_idx, model_idx, pos"), 1e-3);
    EXPECT_LE(max_abs_diff(a, b, "SELECT kl_ab FROM pairs ORDER BY text_idx, model_a, model_b, answer_idx"), 1e-3);
    io::Stmt isa(b, "SELECT isa FROM models WHERE model_idx = 0");
    ASSERT_TRUE(isa.step());
    EXPECT_NE(isa.col_text(0).find("cuda:0"), std::string::npos) << isa.col_text(0);
  }
  // Lose half of the texts (as an interrupted run would not have them) and run again: it redoes
  // them, to the same tables.
  const auto before = dump_tables(gpu + "/results.sqlite");
  {
    io::Db b(gpu + "/results.sqlite", true);
    b.exec("DELETE FROM done WHERE text_idx % 2 = 0");
  }
  r = run_cli("demo --quiet --device cuda --out " + gpu);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto after = dump_tables(gpu + "/results.sqlite");
  for (const auto& [table, rows] : before) EXPECT_TRUE(after.at(table) == rows) << table;
  fs::remove_all(base);
}

}  // namespace
}  // namespace lsc::test
