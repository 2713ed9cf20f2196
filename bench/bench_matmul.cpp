// bench_matmul: bf16 matrix multiply on the projection shapes of Qwen2-0.5B and Qwen2-7B.
// For each shape: oneDNN with its own threading, weights plain (row-major W read in place) and
// packed (reordered once) — the GEMM ceiling; logitscope's deterministic blocked bf16 matmul
// (plain weights, as forward() runs it); and optionally the fp32 AVX-512 path.
// --determinism: instead of timing, checks whether oneDNN's own threading gives bitwise equal
// results for 1, 2 and 3 threads on each shape (it decides our design: see matmul_dnnl.cpp).
// usage: bench_matmul [--m 512] [--reps 5] [--model 0.5b|7b|all] [--fp32] [--lm-m 64]
// [--determinism]
#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "kernels/cpu/kernels.h"

using namespace lsc;

namespace {

struct Shape {
  const char* model;
  const char* name;
  int64_t n, k;
};

const Shape kShapes[] = {
    {"0.5b", "q_proj", 896, 896},   {"0.5b", "kv_proj", 128, 896}, {"0.5b", "o_proj", 896, 896},
    {"0.5b", "gate_up", 4864, 896}, {"0.5b", "down", 896, 4864},   {"0.5b", "lm_head", 151936, 896},
    {"7b", "q_proj", 3584, 3584},   {"7b", "kv_proj", 512, 3584},  {"7b", "o_proj", 3584, 3584},
    {"7b", "gate_up", 18944, 3584}, {"7b", "down", 3584, 18944},   {"7b", "lm_head", 152064, 3584},
};

}  // namespace

int main(int argc, char** argv) {
  int64_t m = 512, lm_m = 64;
  int reps = 5;
  std::string which = "all";
  bool fp32 = false, determinism = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_matmul: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--m")
      m = std::atoll(next());
    else if (a == "--lm-m")
      lm_m = std::atoll(next());
    else if (a == "--reps")
      reps = std::atoi(next());
    else if (a == "--model")
      which = next();
    else if (a == "--fp32")
      fp32 = true;
    else if (a == "--determinism")
      determinism = true;
    else {
      std::fprintf(
          stderr,
          "usage: bench_matmul [--m 512] [--lm-m 64] [--reps 5] [--model 0.5b|7b|all] [--fp32]\n");
      return 2;
    }
  }
  const char* bf16_isa = cpu::bf16_isa();
  std::mt19937 g(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const Shape& s : kShapes) {
    if (which != "all" && which != s.model) continue;
    const int64_t rows = std::strcmp(s.name, "lm_head") == 0 ? lm_m : m;
    const double flop = 2.0 * double(rows) * double(s.n) * double(s.k);
    auto line = [&](const char* variant, const bench::Timing& t, const std::string& impl,
                    const char* dtype) {
      io::Json j = bench::base_line("matmul");
      j["model"] = s.model;
      j["proj"] = s.name;
      j["m"] = rows;
      j["n"] = s.n;
      j["k"] = s.k;
      j["variant"] = variant;
      j["dtype"] = dtype;
      j["isa"] = std::strcmp(dtype, "bf16") == 0 ? bf16_isa : cpu::cpu_kernels().isa;
      j["impl"] = impl;
      bench::put_timing(j, t);
      j["gflops"] = flop / t.median_s * 1e-9;
      bench::emit(j);
    };
    if (determinism) {
      for (bool packed : {false, true}) {
        std::vector<std::vector<float>> outs;
        std::string impls;
        for (int th : {1, 2, 3}) {
          omp_set_num_threads(th);
          bench::DnnlGemm gemm(rows, s.n, s.k, packed);  // same seeds: same inputs
          gemm.run();
          outs.emplace_back(gemm.out(), gemm.out() + rows * s.n);
          impls += (impls.empty() ? "" : ",") + gemm.impl();
        }
        io::Json j = bench::base_line("onednn_thread_determinism");
        j["model"] = s.model;
        j["proj"] = s.name;
        j["m"] = rows;
        j["n"] = s.n;
        j["k"] = s.k;
        j["variant"] = packed ? "onednn_packed" : "onednn_plain";
        j["impls_1_2_3_threads"] = impls;
        j["bitwise_equal_1_2"] = outs[0] == outs[1];
        j["bitwise_equal_1_3"] = outs[0] == outs[2];
        bench::emit(j);
      }
      continue;
    }
    if (std::strcmp(bf16_isa, "none") != 0) {
      for (bool packed : {false, true}) {
        bench::DnnlGemm gemm(rows, s.n, s.k, packed);
        const bench::Timing t = bench::time_it([&] { gemm.run(); }, reps);
        line(packed ? "onednn_packed" : "onednn_plain", t, gemm.impl(), "bf16");
      }
    }
    std::vector<float> x(static_cast<size_t>(rows * s.k)), out(static_cast<size_t>(rows * s.n));
    for (float& v : x) v = nd(g);
    std::vector<uint16_t> w(static_cast<size_t>(s.n * s.k));
    for (uint16_t& v : w) v = cpu::f32_to_bf16(0.05f * nd(g));
    cpu::MatmulArgs a;
    a.x = x.data();
    a.n_rows = rows;
    a.w = cpu::WeightMatrix{w.data(), cpu::WType::BF16, s.n, s.k};
    a.out = out.data();
    if (std::strcmp(bf16_isa, "none") != 0) {
      const bench::Timing t_plain = bench::time_it([&] { cpu::matmul_bf16(a); }, reps);
      line("logitscope_blocked", t_plain, cpu::bf16_impl(), "bf16");
      // The same tiles on weights packed once (as a model packs them for the bf16 precision).
      const auto pk = cpu::pack_bf16(a.w);
      cpu::MatmulArgs ap = a;
      ap.w.packed = pk.get();
      const bench::Timing t_packed = bench::time_it([&] { cpu::matmul_bf16(ap); }, reps);
      line("logitscope_packed", t_packed, cpu::bf16_impl(), "bf16");
    }
    if (fp32) {  // fp32 arithmetic on the same bf16 weights (widened per block), as --precision
                 // fp32
      line("logitscope_fp32",
           bench::time_it([&] { cpu::cpu_kernels().matmul(a); }, std::max(1, reps / 2)),
           cpu::cpu_kernels().isa, "fp32");
    }
  }
  return 0;
}
