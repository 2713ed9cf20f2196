// The GPU backend's matrix products through cuBLASLt (kernels_cuda.h: Gemm). Row-major
// C[n, m] = X[n, k] · W[m, k]ᵀ is, column-major, Cᵀ[m, n] = op_T(W as k × m) · Xᵀ (k × n), so W is
// matrix A with TRANSA = T and X is matrix B as stored.
#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#include <tuple>

#include "kernels/cuda/kernels_cuda.h"

namespace lsc::cuda {

namespace {
constexpr size_t kWorkspaceBytes = size_t{32} << 20;

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};
}  // namespace

struct Gemm::Impl {
  int device = 0;
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  std::mutex mu;
  std::map<std::tuple<bool, int64_t, int64_t, int64_t, bool>, Plan> plans;

  const Plan& plan(bool bf16, int64_t n, int64_t k, int64_t m, bool accumulate) {
    const auto key = std::make_tuple(bf16, n, k, m, accumulate);
    if (auto it = plans.find(key); it != plans.end()) return it->second;
    Plan p;
    const cudaDataType_t in = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    // fp32 inputs: CUBLAS_COMPUTE_32F (never TF32); bf16 inputs: fp32 accumulation on tensor cores.
    LSC_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    LSC_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LSC_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    LSC_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, in, uint64_t(k), uint64_t(m), k));
    LSC_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, in, uint64_t(k), uint64_t(n), k));
    LSC_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, uint64_t(m), uint64_t(n), m));
    cublasLtMatmulPreference_t pref = nullptr;
    LSC_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const size_t ws = kWorkspaceBytes;
    LSC_CUBLAS_CHECK(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    cublasLtMatmulHeuristicResult_t res{};
    int n_res = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &res, &n_res);
    cublasLtMatmulPreferenceDestroy(pref);
    LSC_CUBLAS_CHECK(st);
    if (n_res < 1) {
      throw DeviceError("cublasLtMatmulAlgoGetHeuristic: no algorithm for a " + std::string(bf16 ? "bf16" : "fp32") +
                        " product of " + std::to_string(n) + " x " + std::to_string(k) + " by " + std::to_string(k) +
                        " x " + std::to_string(m) + " on cuda:" + std::to_string(device));
    }
    p.algo = res.algo;
    (void)accumulate;
    return plans.emplace(key, p).first->second;
  }
};

Gemm::Gemm(int device) : impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  LSC_CUDA_CHECK(cudaSetDevice(device));
  LSC_CUBLAS_CHECK(cublasLtCreate(&impl_->handle));
  LSC_CUDA_CHECK(cudaMalloc(&impl_->workspace, kWorkspaceBytes));
}

Gemm::~Gemm() {
  for (auto& [key, p] : impl_->plans) {
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.desc);
  }
  if (impl_->workspace != nullptr) cudaFree(impl_->workspace);
  if (impl_->handle != nullptr) cublasLtDestroy(impl_->handle);
}

void Gemm::run(const void* x, const void* w, bool bf16, int64_t n, int64_t k, int64_t m, float* c, bool accumulate,
               cudaStream_t st) {
  if (n <= 0) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Plan& p = impl_->plan(bf16, n, k, m, accumulate);
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  LSC_CUBLAS_CHECK(cublasLtMatmul(impl_->handle, p.desc, &alpha, w, p.a, x, p.b, &beta, c, p.c, c, p.c, &p.algo,
                                  impl_->workspace, kWorkspaceBytes, st));
}

}  // namespace lsc::cuda
