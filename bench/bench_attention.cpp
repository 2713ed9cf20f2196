// bench_attention: causal grouped-query attention of the bf16 path on the head layouts of
// Qwen2-0.5B (14/2 heads, d 64) and Qwen2-7B (28/4 heads, d 128): the bf16 tiles' kernel
// (cpu::attention_causal_bf16_rows, oneDNN, where the CPU has bf16 hardware) and the fp32 one it
// replaced on that path (cpu::attention_causal_fast, AVX-512 fp32 arithmetic; also the split-bf16
// exact path's), and the fp32 precision's (`exact`: cpu_kernels().attention, the reference's
// roundings in vectors of the dispatched ISA, LSC_ISA to choose), printed as GFLOP/s
// next to the fp32 FMA peak measured in the same run (a loop of independent register FMAs on
// every thread; bf16 hardware does 2x (AVX512-BF16) or more (AMX) that many products). FLOP
// counted: 2·d per query-key product for the scores and again for the weighted sum of V, over the
// causal triangle only.
// Built with -mavx512f: runs on AVX-512 CPUs only.
// usage: bench_attention [--tokens T] [--threads N] [--reps R] [--shape 0.5b|7b|all]
//                        [--kernel bf16|fp32|exact|all]
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "kernels/cpu/kernels.h"

using namespace lsc;

namespace {

// fp32 FMA GFLOP/s of this machine: 12 independent zmm chains per thread (enough to cover the
// FMA latency on both pipes), 2 FLOP per lane. Returns the median of `reps` timings.
double fma_peak_gflops(int reps) {
  constexpr int64_t kIters = 20'000'000;
  double flop = 0.0;
  const bench::Timing t = bench::time_it(
      [&] {
        int n_threads = 1;
        float sink = 0.0f;
#pragma omp parallel reduction(+ : sink)
        {
#pragma omp single
          n_threads = omp_get_num_threads();
          const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
          __m512 a0 = _mm512_set1_ps(0.1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
                 a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
          for (int64_t i = 0; i < kIters; ++i) {
#define LSC_FMA12(f) f(a0) f(a1) f(a2) f(a3) f(a4) f(a5) f(a6) f(a7) f(a8) f(a9) f(a10) f(a11)
#define LSC_STEP(v) v = _mm512_fmadd_ps(v, x, y);
#define LSC_KEEP(v) __asm__ volatile("" : "+v"(v));
            LSC_FMA12(LSC_STEP)
            LSC_FMA12(LSC_KEEP)
          }
          const __m512 s = _mm512_add_ps(
              _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                            _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
              _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
#undef LSC_KEEP
#undef LSC_STEP
#undef LSC_FMA12
          float lanes[16];
          _mm512_storeu_ps(lanes, s);
          for (float lane : lanes) sink += lane;
        }
        flop = double(kIters) * 12 * 16 * 2 * n_threads;
        if (sink == 12345.0f) std::printf("#\n");  // keeps the loop
      },
      reps);
  return flop / t.median_s * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t tokens = 512;
  int threads = 0, reps = 5;
  std::string shape = "all", kernel = "all";
  const char* usage =
      "usage: bench_attention [--tokens T] [--threads N] [--reps R] [--shape 0.5b|7b|all] [--kernel bf16|fp32|exact|all]\n";
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) {  // an option without its value (--help included)
      std::fputs(usage, stderr);
      return 2;
    }
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--tokens")
      tokens = std::atoll(v.c_str());
    else if (a == "--threads")
      threads = std::atoi(v.c_str());
    else if (a == "--reps")
      reps = std::atoi(v.c_str());
    else if (a == "--kernel")
      kernel = v;
    else if (a == "--shape")
      shape = v;
    else {
      std::fputs(usage, stderr);
      return 2;
    }
  }
  if (threads > 0) omp_set_num_threads(threads);
  struct Shape {
    const char* name;
    int64_t heads, kv_heads, d;
  };
  const Shape shapes[] = {{"0.5b", 14, 2, 64}, {"7b", 28, 4, 128}};
  for (const Shape& s : shapes) {
    if (shape != "all" && shape != s.name) continue;
    std::mt19937 g(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> q(size_t(tokens * s.heads * s.d)), k(size_t(tokens * s.kv_heads * s.d)),
        v(k.size()), out(q.size());
    for (auto* a : {&q, &k, &v}) {
      for (float& x : *a) x = nd(g);
    }
    const float scale = 1.0f / std::sqrt(float(s.d));
    for (const std::string kern : {"bf16", "fp32", "exact"}) {
    if (kernel != "all" && kernel != kern) continue;
    if (kern == "bf16" && std::string(cpu::bf16_isa()) == "none") {
      std::fprintf(stderr, "attention: the bf16 kernel needs AVX512-BF16 or AMX; skipped\n");
      continue;
    }
    const double peak_before = fma_peak_gflops(3);
    const bench::Timing t = bench::time_it(
        [&] {
          if (kern == "bf16") {
            cpu::attention_causal_bf16_rows(q.data(), k.data(), v.data(), tokens, 0, s.heads, s.kv_heads, s.d,
                                            scale, out.data());
          } else if (kern == "fp32") {
            cpu::attention_causal_fast(q.data(), k.data(), v.data(), tokens, s.heads, s.kv_heads, s.d,
                                       scale, out.data());
          } else {
            cpu::cpu_kernels().attention(q.data(), k.data(), v.data(), tokens, 0, s.heads, s.kv_heads, s.d, scale,
                                         out.data());
          }
        },
        reps);
    const double peak = 0.5 * (peak_before + fma_peak_gflops(3));
    const double pairs = double(tokens) * double(tokens + 1) / 2.0;
    const double flop = 4.0 * double(s.d) * pairs * double(s.heads);
    io::Json j = bench::base_line("attention");
    j["shape"] = std::string("qwen2-") + s.name;
    j["tokens"] = tokens;
    j["heads"] = s.heads;
    j["kv_heads"] = s.kv_heads;
    j["head_dim"] = s.d;
    j["kernel"] = kern;
    j["bf16_isa"] = cpu::bf16_isa();
    bench::put_timing(j, t);
    j["gflops"] = flop / t.median_s * 1e-9;
    j["fma_peak_gflops"] = peak;
    j["frac_of_fma_peak"] = flop / t.median_s * 1e-9 / peak;
    bench::emit(j);
    std::fprintf(stderr, "attention qwen2-%s T=%lld threads=%d %s: %.2f ms, %.0f GFLOP/s = %.0f%% of the fp32 FMA peak (%.0f GFLOP/s)\n",
                 s.name, static_cast<long long>(tokens), omp_get_max_threads(), kern.c_str(), t.median_s * 1e3,
                 flop / t.median_s * 1e-9, 100.0 * flop / t.median_s * 1e-9 / peak, peak);
    }
  }
  return 0;
}
