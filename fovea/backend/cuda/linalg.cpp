// Batched matrix products on CUDA: the operand layouts for cuBLAS (library.h). Transposed
// views need no copy, a broadcast operand has batch stride 0, and a bias is written into every
// row first and accumulated into.
#include <algorithm>

#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/library.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

// One operand of a row-major product as cuBLAS (column-major) sees it: rows x cols of `t`'s
// last two dims, either as stored (the column-major matrix is t's transpose) or transposed.
struct Operand {
  Tensor t;        // possibly a contiguous copy
  bool transpose;  // applied to the column-major view
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
  const std::int64_t ld = rows ? std::max(t.strides()[1], t.size(2)) : std::max(t.strides()[2], t.size(1));
  return {t, !rows, static_cast<int>(ld), t.size(0) == 1 ? 0 : static_cast<long long>(t.strides()[0])};
}

}  // namespace

// a: (B|1, M, K), b: (B|1, K, N), bias: (N) or null -> out: (B, M, N) contiguous.
// Row-major out = a b is column-major out^T = b^T a^T: cuBLAS computes (N x M) from b then a.
void CudaBackend::matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) {
  require_dtype(a, {DType::f32, DType::f64, DType::bf16}, "matmul");
  const std::int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  if (out.numel() == 0) return;
  double beta = 0;
  if (bias) {  // out starts as the bias in every row, then accumulates the product
    device_copy(make_view(*bias, out.shape(), {0, 0, bias->strides()[0]}, bias->offset()), out);
    beta = 1;
  } else if (K == 0) {
    fill(out, 0);
    return;
  }
  if (K == 0) return;
  const Operand ob = operand(b), oa = operand(a);
  library_gemm(out, {.transpose_a = ob.transpose,
                     .transpose_b = oa.transpose,
                     .m = static_cast<int>(N),
                     .n = static_cast<int>(M),
                     .k = static_cast<int>(K),
                     .a = ptr(ob.t),
                     .lda = ob.ld,
                     .stride_a = ob.batch_stride,
                     .b = ptr(oa.t),
                     .ldb = oa.ld,
                     .stride_b = oa.batch_stride,
                     .c = ptr(out),
                     .ldc = static_cast<int>(N),
                     .stride_c = M * N,
                     .batch = static_cast<int>(B),
                     .beta = beta,
                     .dtype = code(a.dtype()),
                     .tf32 = cuda_math().matmul_tf32});
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
