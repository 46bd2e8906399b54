#pragma once
// Launchers of the elementwise kernels (elementwise.cu), called by elementwise.cpp. Plain data
// only (kernels.h). Every Strided of one call has the same sizes (the output's); n is their
// element count, n > 0. Dtype codes are DTypeCode values the caller has already checked.
#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// Mirrors of backend.h's enums, value for value (static_asserts in elementwise.cpp).
enum UnaryCode : int {
  kNeg,
  kExp,
  kLog,
  kLog1p,
  kSqrt,
  kRsqrt,
  kAbs,
  kSign,
  kSquare,
  kReciprocal,
  kSin,
  kCos,
  kErf,
  kFloor,
  kCeil,
  kRound,
  kNot,
  kUnaryCount
};
enum BinaryCode : int { kAdd, kSub, kMul, kDiv, kPow, kMaximum, kMinimum, kEq, kNe, kLt, kLe, kGt, kGe, kBinaryCount };

// dst = src converted (any of the six dtypes; f16/bf16 through f32, rounding to nearest even)
void launch_copy(int src_code, const void* src, Strided ss, int dst_code, void* dst, Strided ds, std::int64_t n,
                 cudaStream_t stream);
// dst = v converted to dst's dtype (any of the six)
void launch_fill(int code, void* dst, Strided ds, double v, std::int64_t n, cudaStream_t stream);
// out = op(x); f32 f64 i64 u8
void launch_unary(int op, int code, const void* x, Strided xs, void* out, Strided os, std::int64_t n,
                  cudaStream_t stream);
// out = op(a, b); a, b of dtype `code` (f32 f64 i64 u8); out of that dtype, or u8 for comparisons
void launch_binary(int op, int code, const void* a, Strided as, const void* b, Strided bs, void* out, Strided os,
                   std::int64_t n, cudaStream_t stream);
// Records kDivisionByZero in *error when an element of b (i64, u8) is zero.
void launch_check_nonzero(int code, const void* b, Strided bs, std::int64_t n, KernelError* error, cudaStream_t stream);
// out = cond ? a : b; cond u8, a, b, out of dtype `code` (f32 f64 i64 u8)
void launch_where(int code, const void* cond, Strided cs, const void* a, Strided as, const void* b, Strided bs,
                  void* out, Strided os, std::int64_t n, cudaStream_t stream);

// A 2-D operand: base pointer and element strides of its two dimensions.
struct Matrix {
  const void* data = nullptr;
  std::int64_t rows_stride = 0;
  std::int64_t cols_stride = 0;
};
// Indices outside [0, K) are skipped and recorded in *error (kGatherIndex, kScatterIndex).
// out[i, j] = x[i, index[i, j]]; x (M, K), index (M, J) i64, out (M, J); f32 f64 i64 u8
void launch_gather_rows(int code, Matrix x, Matrix index, void* out, std::int64_t out_rows_stride,
                        std::int64_t out_cols_stride, std::int64_t M, std::int64_t K, std::int64_t J,
                        KernelError* error, cudaStream_t stream);
// out[i, index[i, j]] += src[i, j] (atomically); src (M, J), index (M, J) i64, out (M, K); f32 f64 i64
void launch_scatter_add_rows(int code, Matrix src, Matrix index, void* out, std::int64_t out_rows_stride,
                             std::int64_t out_cols_stride, std::int64_t M, std::int64_t K, std::int64_t J,
                             KernelError* error, cudaStream_t stream);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
