#pragma once
// Launchers of the softmax kernels (softmax.cu), called by softmax.cpp. Plain data only
// (kernels.h); dtype codes are f32 or f64, checked by the caller.
#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// Contiguous tensors viewed as (outer, n, inner), softmax over n; outer * n * inner > 0.
void launch_softmax_forward(int code, const void* x, void* y, std::int64_t outer, std::int64_t n, std::int64_t inner,
                            bool log, cudaStream_t stream);
void launch_softmax_backward(int code, const void* y, const void* gy, void* gx, std::int64_t outer, std::int64_t n,
                             std::int64_t inner, bool log, cudaStream_t stream);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
