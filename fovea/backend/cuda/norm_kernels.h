#pragma once
// Plain-data interface of the batch normalisation kernels (norm.cu) for norm.cpp.
#include <cstdint>

#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// x: (N,C,S) contiguous (S: the product of the dims after C, 1 for (N,C))
struct NormPlan {
  std::int64_t N = 0, C = 0, S = 0;
  double eps = 0;
};

// All per-channel pointers are (C) of dt (f32 or f64); w and b may be null (1 and 0). In
// training mean and var are outputs (biased variance), otherwise inputs.
void batch_norm_forward(DTypeCode dt, const void* x, const void* w, const void* b, void* mean, void* var, void* y,
                        const NormPlan& p, bool training, cudaStream_t s);
// Backward of the training forward; sums: (C, 2) f64 scratch. gx, gw and gb may each be null.
void batch_norm_backward(DTypeCode dt, const void* gy, const void* x, const void* w, const void* mean,
                         const void* var, double* sums, void* gx, void* gw, void* gb, const NormPlan& p,
                         cudaStream_t s);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
