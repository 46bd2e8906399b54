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

// A channel's N*S elements are reduced in parts, one block each, so that even a few channels of
// many elements fill the GPU: parts of at least kNormMinPart elements, at most kNormMaxParts.
inline constexpr std::int64_t kNormMinPart = 4096;
inline constexpr std::int64_t kNormMaxParts = 64;
inline std::int64_t norm_parts(const NormPlan& p) {
  const std::int64_t parts = p.N * p.S / kNormMinPart;
  return parts < 1 ? 1 : (parts > kNormMaxParts ? kNormMaxParts : parts);
}
// f64 scratch the launchers need, in elements: per channel and part, 3 (forward) or 2 (backward)
// partial results, and for the backward the (C, 2) per-channel sums after them.
inline std::int64_t norm_forward_scratch(const NormPlan& p) { return p.C * norm_parts(p) * 3; }
inline std::int64_t norm_backward_scratch(const NormPlan& p) { return p.C * norm_parts(p) * 2 + p.C * 2; }

// All per-channel pointers are (C) of dt (f32 or f64); w and b may be null (1 and 0). In
// training mean and var are outputs (biased variance), otherwise inputs.
void batch_norm_forward(DTypeCode dt, const void* x, const void* w, const void* b, void* mean, void* var, void* y,
                        const NormPlan& p, bool training, double* scratch, cudaStream_t s);
// Backward of the training forward. gx, gw and gb may each be null.
void batch_norm_backward(DTypeCode dt, const void* gy, const void* x, const void* w, const void* mean, const void* var,
                         double* scratch, void* gx, void* gw, void* gb, const NormPlan& p, cudaStream_t s);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
