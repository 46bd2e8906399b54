// Batched matrix products on CUDA through cuBLAS (strided batched GEMM; TF32 when
// cuda_math().matmul_tf32; bf16 inputs under autocast, accumulated in f32).
#include <cublas_v2.h>

#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"

namespace fovea::backend {

namespace {

using cuda::ptr;

void check(cublasStatus_t s, const char* op) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(op, "cuBLAS error: {}", cublasGetStatusString(s));
}

cublasHandle_t handle(const Tensor& t) {
  return cuda::per_device<cublasHandle_t>(t, [](cudaStream_t st) {
    cublasHandle_t h = nullptr;
    check(cublasCreate(&h), "matmul");
    check(cublasSetStream(h, st), "matmul");
    return h;
  });
}

// One operand of a row-major product as cuBLAS (column-major) sees it: rows x cols of `t`'s
// last two dims, either as stored (op N: the column-major matrix is t's transpose) or
// transposed (op T).
struct Operand {
  Tensor t;              // possibly a contiguous copy
  cublasOperation_t op;  // applied to the column-major view
  int ld;
  long long batch_stride;
};

// t: (B|1, R, C) row-major view -> the column-major operand for t^T (C x R)
Operand operand(const Tensor& t0) {
  Tensor t = t0;
  auto fits = [](const Tensor& v, bool rows_contiguous) {
    const std::int64_t r = v.size(1), c = v.size(2), sr = v.strides()[1], sc = v.strides()[2];
    return rows_contiguous ? (sc == 1 || c == 1) && sr >= std::max<std::int64_t>(c, 1)
                           : (sr == 1 || r == 1) && sc >= std::max<std::int64_t>(r, 1);
  };
  if (!fits(t, true) && !fits(t, false)) t = t.contiguous();
  const bool rows = fits(t, true);
  // row-major (R,C) with unit column stride is column-major (C,R) with ld = row stride: t^T as is
  Operand o{t, rows ? CUBLAS_OP_N : CUBLAS_OP_T,
            static_cast<int>(rows ? std::max<std::int64_t>(t.strides()[1], t.size(2)) : std::max<std::int64_t>(t.strides()[2], t.size(1))),
            t.size(0) == 1 ? 0 : static_cast<long long>(t.strides()[0])};
  return o;
}

}  // namespace

// a: (B|1, M, K), b: (B|1, K, N), bias: (N) or null -> out: (B, M, N) contiguous.
// Row-major out = a b is column-major out^T = b^T a^T: cuBLAS computes (N x M) from b then a.
void CudaBackend::matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) {
  cuda::require_dtype(a, {DType::f32, DType::f64, DType::bf16}, "matmul");
  const std::int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  if (out.numel() == 0) return;
  float beta = 0;
  if (bias) {  // out starts as the bias in every row, then accumulates the product
    cuda::device_copy(make_view(*bias, out.shape(), {0, 0, bias->strides()[0]}, bias->offset()), out);
    beta = 1;
  } else if (K == 0) {
    fill(out, 0);
    return;
  }
  if (K == 0) return;
  const Operand ob = operand(b), oa = operand(a);
  cublasHandle_t h = handle(out);
  const long long out_stride = M * N;
  if (a.dtype() != DType::f64) {  // f32 (TF32 when asked), or bf16 with f32 accumulation (autocast)
    const float alpha = 1;
    const bool bf16 = a.dtype() == DType::bf16;
    const cudaDataType_t dt = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    const cublasComputeType_t compute =
        !bf16 && cuda_math().matmul_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    check(cublasGemmStridedBatchedEx(h, ob.op, oa.op, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &alpha,
                                     ptr(ob.t), dt, ob.ld, ob.batch_stride, ptr(oa.t), dt, oa.ld, oa.batch_stride, &beta,
                                     ptr(out), dt, static_cast<int>(N), out_stride, static_cast<int>(B), compute,
                                     CUBLAS_GEMM_DEFAULT),
          "matmul");
    return;
  }
  const double alpha = 1, beta64 = beta;
  check(cublasDgemmStridedBatched(h, ob.op, oa.op, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &alpha,
                                  static_cast<const double*>(ptr(ob.t)), ob.ld, ob.batch_stride,
                                  static_cast<const double*>(ptr(oa.t)), oa.ld, oa.batch_stride, &beta64,
                                  static_cast<double*>(ptr(out)), static_cast<int>(N), out_stride, static_cast<int>(B)),
        "matmul");
}

}  // namespace fovea::backend
