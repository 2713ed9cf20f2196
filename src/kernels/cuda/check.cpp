#include "kernels/cuda/check.h"

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <string>

namespace lsc::cuda {

namespace {
thread_local int g_device = -1;

std::string where() { return g_device >= 0 ? " on cuda:" + std::to_string(g_device) : std::string(); }

std::string short_call(const char* call) {
  std::string s(call);
  const size_t p = s.find('(');
  return p == std::string::npos ? s : s.substr(0, p);
}
}  // namespace

void set_current_device_for_messages(int device) { g_device = device; }

void check_cuda(int code, const char* call, const char* file, int line) {
  if (code == 0) return;
  const auto e = static_cast<cudaError_t>(code);
  std::string msg = short_call(call) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) + where();
  switch (e) {
    case cudaErrorMemoryAllocation:
      msg += " (out of device memory: run fewer or smaller models per GPU, a shorter --max-tokens, or --device cpu)";
      break;
    case cudaErrorNoDevice:
    case cudaErrorInvalidDevice:
      msg += " (no such CUDA device: check nvidia-smi and CUDA_VISIBLE_DEVICES, or use --device cpu)";
      break;
    case cudaErrorInsufficientDriver:
      msg += " (the NVIDIA driver is older than this build's CUDA runtime: update the driver)";
      break;
    default:
      msg += " (at " + std::string(file) + ":" + std::to_string(line) + ")";
  }
  // Clear a sticky-free error so later calls report their own.
  (void)cudaGetLastError();
  throw DeviceError(msg);
}

void check_cublas(int status, const char* call, const char* file, int line) {
  if (status == 0) return;
  const auto s = static_cast<cublasStatus_t>(status);
  std::string msg = short_call(call) + ": cuBLAS status " + std::to_string(status);
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: msg += " (not initialized)"; break;
    case CUBLAS_STATUS_ALLOC_FAILED: msg += " (allocation failed: out of device memory)"; break;
    case CUBLAS_STATUS_INVALID_VALUE: msg += " (invalid value)"; break;
    case CUBLAS_STATUS_ARCH_MISMATCH: msg += " (not supported on this GPU's architecture)"; break;
    case CUBLAS_STATUS_EXECUTION_FAILED: msg += " (execution failed)"; break;
    case CUBLAS_STATUS_NOT_SUPPORTED: msg += " (not supported: no algorithm for this shape and type)"; break;
    default: break;
  }
  throw DeviceError(msg + where() + " (at " + file + ":" + std::to_string(line) + ")");
}

}  // namespace lsc::cuda
