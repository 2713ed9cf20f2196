// Chooses the kernels once per process from the CPU's features. Compiled with no ISA flags, so
// detection itself cannot execute an unsupported instruction. LSC_ISA=scalar|avx512 forces one.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "io/error.h"
#include "kernels/cpu/kernels.h"

namespace lsc::cpu {
namespace scalar {
void matmul(const MatmulArgs& args);
}
namespace avx512 {
void matmul(const MatmulArgs& args);
}

namespace {

constexpr CpuKernels kScalar{"scalar", scalar::matmul};
constexpr CpuKernels kAvx512{"avx512", avx512::matmul};

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
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
  return cpu_has_avx512() ? kAvx512 : kScalar;
}

}  // namespace

const CpuKernels* cpu_kernels_for(const char* isa) {
  if (std::strcmp(isa, "scalar") == 0) return &kScalar;
  if (std::strcmp(isa, "avx512") == 0) return cpu_has_avx512() ? &kAvx512 : nullptr;
  return nullptr;
}

const CpuKernels& cpu_kernels() {
  static const CpuKernels& k = choose();
  return k;
}

}  // namespace lsc::cpu
