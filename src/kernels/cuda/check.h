// Checked CUDA and cuBLAS calls: a failure throws DeviceError naming the call, the device and
// what to do (exit code kExitDevice). Host code only.
#pragma once

#include <string>

#include "io/error.h"

namespace lsc::cuda {

// The device calls of this thread go to (for messages).
void set_current_device_for_messages(int device);
// Throws DeviceError for a failed CUDA runtime call (code ≠ 0): "<call>: <error name>: <text> on
// cuda:<N>", plus what to do for the common causes (out of memory, no device, driver too old).
void check_cuda(int code, const char* call, const char* file, int line);
void check_cublas(int status, const char* call, const char* file, int line);

}  // namespace lsc::cuda

#define LSC_CUDA_CHECK(call) ::lsc::cuda::check_cuda(static_cast<int>(call), #call, __FILE__, __LINE__)
#define LSC_CUBLAS_CHECK(call) ::lsc::cuda::check_cublas(static_cast<int>(call), #call, __FILE__, __LINE__)
