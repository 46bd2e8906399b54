#pragma once
// Launchers of the reduction kernels (reduce.cu), called by reduce.cpp. Plain data only
// (kernels.h); dtype codes are DTypeCode values the caller has already checked.
#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// Mirror of backend.h's ReduceOp, value for value (static_asserts in reduce.cpp).
enum ReduceCode : int { kSum, kProd, kMax, kMin, kArgmax, kArgmin, kReduceCount };

// out[i * out_stride] = op over k < R of x[i * row_stride + k * col_stride], for i < M; M, R > 0.
// x and (except argmax/argmin, which write i64) out of dtype `code`: f32 f64 i64 u8.
void launch_reduce(int op, int code, const void* x, std::int64_t M, std::int64_t R, std::int64_t row_stride,
                   std::int64_t col_stride, void* out, std::int64_t out_stride, cudaStream_t stream);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
