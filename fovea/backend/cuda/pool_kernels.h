#pragma once
// Plain-data interface of the pooling kernels (pool.cu) for pool.cpp; the window rule is
// backend/pool_window.h's, shared with the CPU backend.
#include <cstdint>

#include "fovea/backend/cuda/kernels.h"
#include "fovea/backend/pool_window.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

using backend::pool_window;
using backend::PoolPlan;
using backend::PoolWindow;

// x -> y (f32 or f64 by dt); ind (max only, may be null): flat h*W+w of each maximum within its plane
void pool2d_forward(DTypeCode dt, const void* x, void* y, std::int64_t* ind, const PoolPlan& p, cudaStream_t s);
// gy -> gx, which the caller has zeroed: max routes gy to ind, avg spreads gy / divisor over the window
void pool2d_backward(DTypeCode dt, const void* gy, const std::int64_t* ind, void* gx, const PoolPlan& p,
                     cudaStream_t s);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
