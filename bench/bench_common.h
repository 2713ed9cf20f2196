// Shared by the benchmarks: timing with warm-up and repetitions (median, p10, p90), the facts each
// JSON result line carries (commit, compiler, flags, CPU model, threads), peak RSS, and the oneDNN
// bf16 GEMM ceiling measured on given shapes (STYLE.md §8).
#pragma once

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "io/json.h"
#include "kernels/cpu/kernels.h"
#include "lsc_commit.h"  // LSC_GIT_COMMIT (generated at build time: cmake/commit.cmake)

namespace lsc::bench {

struct Timing {
  double median_s = 0, p10_s = 0, p90_s = 0;
  int reps = 0;
};

// Median and p10/p90 of measured seconds, by nearest rank.
inline Timing timing_of(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  auto q = [&](double p) {
    return t[std::min(t.size() - 1, static_cast<size_t>(p * double(t.size() - 1) + 0.5))];
  };
  return {q(0.5), q(0.1), q(0.9), static_cast<int>(t.size())};
}

// Runs f `warmup` times untimed, then `reps` times.
inline Timing time_it(const std::function<void()>& f, int reps, int warmup = 1) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  return timing_of(std::move(t));
}

inline double peak_rss_gib() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return double(r.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is KiB on Linux
}

// Current resident set (VmRSS), GiB: peak RSS never goes down, this does.
inline double rss_gib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / (1024.0 * 1024.0);
  }
  return 0.0;
}

// The facts every result line carries.
inline io::Json base_line(const std::string& name) {
  io::Json j;
  j["name"] = name;
  j["commit"] = LSC_GIT_COMMIT;
  j["compiler"] = std::string("gcc ") + __VERSION__;
  j["flags"] = LSC_BENCH_FLAGS;
  j["cpu"] = lsc::cpu::cpu_model_name();
  j["threads"] = omp_get_max_threads();
  return j;
}

inline void put_timing(io::Json& j, const Timing& t) {
  j["reps"] = t.reps;
  j["median_s"] = t.median_s;
  j["p10_s"] = t.p10_s;
  j["p90_s"] = t.p90_s;
}

inline void emit(const io::Json& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

// oneDNN bf16 × bf16 → f32 matmul [m, k] · [k, n] with oneDNN's own threading and partition:
// the ceiling. packed = weights reordered once to the layout oneDNN prefers (format any),
// plain = W[n, k] row-major read in place ("ba"), as the checkpoint stores it.
class DnnlGemm {
 public:
  // f32: an fp32 × fp32 product (the ceiling on CPUs without bf16 matrix support), else bf16 × bf16.
  DnnlGemm(int64_t m, int64_t n, int64_t k, bool packed, bool f32 = false)
      : eng_(dnnl::engine::kind::cpu, 0), s_(eng_), f32_(f32) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dt in = f32 ? dt::f32 : dt::bf16;
    const dnnl::memory::desc a({m, k}, in, tag::ab), c({m, n}, dt::f32, tag::ab);
    const dnnl::memory::desc b_plain({k, n}, in, tag::ba);
    const dnnl::memory::desc b_any({k, n}, in, packed ? tag::any : tag::ba);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b_any, c), eng_);
    prim_ = dnnl::matmul(pd);
    impl_ = pd.impl_info_str();
    a_ = dnnl::memory(a, eng_);
    c_ = dnnl::memory(c, eng_);
    dnnl::memory w(b_plain, eng_);
    fill(w, k * n, 0x1234);
    fill(a_, m * k, 0x4321);
    if (pd.weights_desc() != b_plain) {
      b_ = dnnl::memory(pd.weights_desc(), eng_);
      dnnl::reorder(w, b_).execute(s_, w, b_);
      s_.wait();
    } else {
      b_ = w;
    }
  }
  void run() {
    prim_.execute(s_, {{DNNL_ARG_SRC, a_}, {DNNL_ARG_WEIGHTS, b_}, {DNNL_ARG_DST, c_}});
    s_.wait();
  }
  const std::string& impl() const { return impl_; }
  const float* out() const { return static_cast<const float*>(c_.get_data_handle()); }

 private:
  void fill(dnnl::memory& mem, int64_t n, uint32_t seed) const {
    uint32_t x = seed;
    if (f32_) {
      auto* p = static_cast<float*>(mem.get_data_handle());
      for (int64_t i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        p[i] = float(int32_t(x >> 16) - 32768) * 0x1p-15f;
      }
      return;
    }
    auto* p = static_cast<uint16_t*>(mem.get_data_handle());
    for (int64_t i = 0; i < n; ++i) {
      x = x * 1664525u + 1013904223u;
      p[i] = static_cast<uint16_t>(0x3c00u + ((x >> 16) & 0x3ffu)) ^
             static_cast<uint16_t>((x >> 8) & 0x8000u);
    }
  }
  dnnl::engine eng_;
  dnnl::stream s_;
  bool f32_ = false;
  dnnl::matmul prim_;
  dnnl::memory a_, b_, c_;
  std::string impl_;
};

}  // namespace lsc::bench
