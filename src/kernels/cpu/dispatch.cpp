// Chooses the kernels once per process from the CPU's features. Compiled with no ISA flags, so
// detection itself cannot execute an unsupported instruction. LSC_ISA=scalar|avx2|avx512 forces one.
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <string>

#include "io/error.h"
#include "kernels/cpu/kernels.h"

namespace lsc::cpu {
namespace scalar {
void matmul(const MatmulArgs& args);
}
namespace avx2 {
void matmul(const MatmulArgs& args);
void attention_causal_exact_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                 int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out);
void swiglu_exact(const float* gate, const float* up, int64_t n, float* out);
}
namespace avx512 {
void matmul(const MatmulArgs& args);
void attention_causal_fast_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out);
void swiglu_fast(const float* gate, const float* up, int64_t n, float* out);
void attention_causal_exact_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                 int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out);
void swiglu_exact(const float* gate, const float* up, int64_t n, float* out);
}

namespace {

// Without AVX-512 the bf16 path's attention and SwiGLU are the reference ones; the fp32 attention
// and SwiGLU of every ISA are the reference's arithmetic (scalar: the reference itself).
constexpr CpuKernels kScalar{"scalar", false, scalar::matmul, attention_causal_rows, swiglu, attention_causal_rows,
                             swiglu};
constexpr CpuKernels kAvx2{"avx2", false, avx2::matmul, avx2::attention_causal_exact_rows, avx2::swiglu_exact,
                           attention_causal_rows, swiglu};
constexpr CpuKernels kAvx512{"avx512", true, avx512::matmul, avx512::attention_causal_exact_rows,
                             avx512::swiglu_exact, avx512::attention_causal_fast_rows, avx512::swiglu_fast};

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

// CPUID leaf 1: ECX bit 29 F16C. Leaf 7: EDX bit 22 AMX-BF16, bit 24 AMX-TILE; leaf 7 subleaf 1: EAX bit 5 AVX512-BF16.
bool cpuid_bit(unsigned leaf, unsigned sub, int reg, unsigned bit) {
  unsigned r[4] = {0, 0, 0, 0};
  if (__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]) == 0) return false;
  return (r[reg] >> bit) & 1u;
}

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuid_bit(1, 0, 2, 29);  // F16C
}

const CpuKernels& choose() {
  const char* forced = std::getenv("LSC_ISA");
  if (forced != nullptr && *forced != '\0') {
    const CpuKernels* k = cpu_kernels_for(forced);
    if (k == nullptr) {
      std::fprintf(stderr, "logitscope: LSC_ISA=%s is not available on this CPU; using auto-detection\n",
                   forced);
    } else {
      return *k;
    }
  }
  return cpu_has_avx512() ? kAvx512 : cpu_has_avx2() ? kAvx2 : kScalar;
}

// AMX needs arch_prctl(ARCH_REQ_XCOMP_PERM) first; without it the first tile instruction raises
// SIGILL (Linux ≥ 5.16 enables the large tile state per process, on request). Fall back to
// avx512_bf16 if the request fails.
bool request_amx_permission() {
  constexpr int kArchReqXcompPerm = 0x1023;  // ARCH_REQ_XCOMP_PERM (asm/prctl.h)
  constexpr int kXfeatureXtiledata = 18;     // XFEATURE_XTILEDATA
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

const char* detect_bf16_isa() {
  if (!cpu_has_avx512()) return "none";  // oneDNN's bf16 kernels all need AVX-512 as well
  // The bf16 path's own vector code (the attention's softmax) uses AVX512-BF16 instructions, so
  // AMX counts only next to it (every AMX CPU so far has both).
  const bool avx512_bf16 = cpuid_bit(7, 1, 0, 5);
  const bool amx = avx512_bf16 && cpuid_bit(7, 0, 3, 22) && cpuid_bit(7, 0, 3, 24);
  if (amx) {
    if (request_amx_permission()) return "amx";
    if (verbose()) std::fprintf(stderr, "logitscope: AMX present but arch_prctl(ARCH_REQ_XCOMP_PERM) failed\n");
  }
  return avx512_bf16 ? "avx512_bf16" : "none";
}

}  // namespace

bool cpu_has_avx512_internal() {
  static const bool has = cpu_has_avx512();
  return has;
}

void attention_causal_fast_rows(const float* q, const float* k, const float* v, int64_t n_q, int64_t q_first,
                                int64_t n_heads, int64_t n_heads_kv, int64_t head_dim, float scale, float* out) {
  cpu_kernels().attention_fast(q, k, v, n_q, q_first, n_heads, n_heads_kv, head_dim, scale, out);
}

void swiglu_fast(const float* gate, const float* up, int64_t n, float* out) { cpu_kernels().swiglu_fast(gate, up, n, out); }

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      return line.substr(line.find_first_not_of(" \t", line.find(':') + 1));
    }
  }
  return "unknown";
}

bool verbose() {
  static const bool v = [] {
    const char* e = std::getenv("LSC_VERBOSE");
    return e != nullptr && *e != '\0' && std::strcmp(e, "0") != 0;
  }();
  return v;
}

const char* bf16_isa() {
  static const char* isa = [] {
    const char* r = detect_bf16_isa();
    if (verbose()) {
      std::fprintf(stderr, "logitscope: bf16 matmul: %s\n",
                   std::strcmp(r, "none") == 0 ? "unavailable (no AVX512-BF16 or AMX): bf16 precision runs fp32"
                                               : r);
    }
    return r;
  }();
  return isa;
}

bool exact_splits() {
  static const bool split = [] {
    const bool hardware = std::strcmp(bf16_isa(), "none") != 0;
    bool r = std::strcmp(bf16_isa(), "amx") == 0;
    const char* forced = std::getenv("LSC_EXACT");
    if (forced != nullptr && *forced != '\0') {
      if (std::strcmp(forced, "split") == 0 && hardware) {
        r = true;
      } else if (std::strcmp(forced, "fp32") == 0) {
        r = false;
      } else {
        std::fprintf(stderr, "logitscope: LSC_EXACT=%s: expected split (needs bf16 hardware) or fp32; using %s\n",
                     forced, r ? "split" : "fp32");
      }
    }
    if (verbose()) {
      std::fprintf(stderr, "logitscope: exact precision: %s\n",
                   r                       ? "split-bf16"
                   : cpu_kernels().avx512 ? "fp32 kernels' products, the fast attention and SwiGLU"
                                          : "fp32 kernels");
    }
    return r;
  }();
  return split;
}

void check_kernel_environment() {
  const auto check = [](const char* name, std::initializer_list<const char*> choices, const char* expected) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return;
    for (const char* c : choices) {
      if (std::strcmp(value, c) == 0) return;
    }
    throw InputError(name, "value", expected, "\"" + std::string(value) + "\"");
  };
  check("LSC_ISA", {"scalar", "avx2", "avx512"}, "scalar, avx2 or avx512");
  check("LSC_EXACT", {"split", "fp32"}, "split or fp32");
}

const CpuKernels* cpu_kernels_for(const char* isa) {
  if (std::strcmp(isa, "scalar") == 0) return &kScalar;
  if (std::strcmp(isa, "avx2") == 0) return cpu_has_avx2() ? &kAvx2 : nullptr;
  if (std::strcmp(isa, "avx512") == 0) return cpu_has_avx512() ? &kAvx512 : nullptr;
  return nullptr;
}

const CpuKernels& cpu_kernels() {
  static const CpuKernels& k = [&]() -> const CpuKernels& {
    const CpuKernels& c = choose();
    if (verbose()) std::fprintf(stderr, "logitscope: fp32 matmul: %s\n", c.isa);
    return c;
  }();
  return k;
}

}  // namespace lsc::cpu
