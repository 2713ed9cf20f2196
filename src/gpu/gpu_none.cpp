// The GPU backend of a build without the CUDA toolkit: no devices, and --device cuda says why.
#include "gpu/gpu.h"
#include "io/error.h"

namespace lsc::gpu {

namespace {
const char* kWhy =
    "this logitscope was built without the CUDA backend (no CUDA compiler at configure time): install the CUDA "
    "toolkit (nvcc, cuBLASLt) and configure with -DLSC_CUDA=ON, or use --device cpu";
}

bool built_with_cuda() { return false; }

std::vector<DeviceInfo> cuda_devices(std::string* why) {
  if (why != nullptr) *why = kWhy;
  return {};
}

double gemm_seconds(int, int64_t, int64_t, int64_t, bool, int) { throw DeviceError(kWhy); }

std::unique_ptr<GpuModels> GpuModels::create(int, const std::vector<const model::Model*>&, model::Precision, int64_t,
                                             int, const std::vector<analysis::KeywordFamily>&) {
  throw DeviceError(kWhy);
}

}  // namespace lsc::gpu
