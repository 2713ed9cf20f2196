#include "pipeline/build_info.h"

#include <string>
#include <vector>

#include "gpu/gpu.h"
#include "kernels/cpu/kernels.h"
#include "lsc_commit.h"  // LSC_GIT_COMMIT (generated at build time: cmake/commit.cmake)

namespace lsc::pipeline {

std::string program_version() {
  const std::string commit = LSC_GIT_COMMIT;
  return commit == "unknown" ? LSC_PROGRAM_VERSION : std::string(LSC_PROGRAM_VERSION) + " (commit " + commit + ")";
}

std::string build_description() {
  std::string s = "logitscope " + program_version() + "\n";
  s += "built with " LSC_COMPILER ", " LSC_BUILD_TYPE " build\n";
  s += "CPU: " + cpu::cpu_model_name() + "\n";
  const std::string bf16 = cpu::bf16_isa();
  s += "fp32 kernels: " + std::string(cpu::cpu_kernels().isa) + "; bf16 products (oneDNN): " +
       (bf16 == "none" ? std::string("none, --precision bf16 runs fp32") : bf16) + "\n";
  s += std::string("exact precision: ") +
       (cpu::exact_splits() ? "split-bf16 products (3 parts)"
                            : cpu::cpu_kernels().avx512 ? "fp32 products, fast attention" : "fp32") +
       " for BF16 matrices\n";
  s += std::string("CUDA backend (--device cuda): ") + (gpu::built_with_cuda() ? "built" : "not built") + "\n";
  if (gpu::built_with_cuda()) {
    std::string why;
    const std::vector<gpu::DeviceInfo> devices = gpu::cuda_devices(&why);
    for (const gpu::DeviceInfo& d : devices) s += "  " + d.describe() + "\n";
    if (devices.empty()) s += "  " + why + "\n";
  }
  return s;
}

}  // namespace lsc::pipeline
