// cuBLAS matrix products (library.h): strided batched GEMM in f32 (TF32 when asked), f64, and
// bf16 with f32 accumulation (autocast).
#include <cublas_v2.h>

#include <memory>
#include <vector>

#include "fovea/backend/cuda/allocator.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/library.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

void check(cublasStatus_t s, const char* op) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(op, "cuBLAS error: {}", cublasGetStatusString(s));
}

// A workspace of the backend's own per handle (PyTorch's size on Hopper): cuBLAS then allocates
// nothing by itself, which keeps its calls capturable into CUDA graphs (graph.h).
constexpr std::size_t kWorkspace = std::size_t{32} << 20;

cublasHandle_t handle(const Tensor& t) {
  return cuda::per_device<cublasHandle_t>(t, [&](cudaStream_t st) {
    static std::vector<std::shared_ptr<std::byte>> workspaces;  // live as long as the handles: the process
    cublasHandle_t h = nullptr;
    check(cublasCreate(&h), "matmul");
    check(cublasSetStream(h, st), "matmul");
    workspaces.push_back(allocator().allocate(t.device().index, kWorkspace));
    check(cublasSetWorkspace(h, workspaces.back().get(), kWorkspace), "matmul");
    return h;
  });
}

}  // namespace

void library_gemm(const Tensor& like, const Gemm& g) {
  cublasHandle_t h = handle(like);
  const cublasOperation_t ta = g.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                          tb = g.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (g.dtype == kF64) {
    const double alpha = 1, beta = g.beta;
    check(cublasDgemmStridedBatched(h, ta, tb, g.m, g.n, g.k, &alpha, static_cast<const double*>(g.a), g.lda,
                                    g.stride_a, static_cast<const double*>(g.b), g.ldb, g.stride_b, &beta,
                                    static_cast<double*>(g.c), g.ldc, g.stride_c, g.batch),
          "matmul");
    return;
  }
  const float alpha = 1, beta = static_cast<float>(g.beta);
  const cudaDataType_t dt = g.dtype == kBF16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute = g.dtype == kF32 && g.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  check(
      cublasGemmStridedBatchedEx(h, ta, tb, g.m, g.n, g.k, &alpha, g.a, dt, g.lda, g.stride_a, g.b, dt, g.ldb,
                                 g.stride_b, &beta, g.c, dt, g.ldc, g.stride_c, g.batch, compute, CUBLAS_GEMM_DEFAULT),
      "matmul");
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
