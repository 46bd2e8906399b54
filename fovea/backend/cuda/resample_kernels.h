#pragma once
// Plain-data interface of the resampling kernels (resample.cu) for resample.cpp. The source
// taps come from the host (fovea/backend/interpolation.h), so both backends use the same indices
// and weights: row taps first, then column taps, each as idx [i0, i1] and wts [l0, l1].
#include <cstdint>

#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// x: (planes,H,W) <-> y: (planes,OH,OW)
struct ResamplePlan {
  bool bilinear = false;
  std::int64_t planes = 0, H = 0, W = 0, OH = 0, OW = 0;
};

// idx: (OH+OW, 2) i64, wts: (OH+OW, 2) of dt (f32 or f64)
void resample2d_forward(DTypeCode dt, const void* x, void* y, const std::int64_t* idx, const void* wts,
                        const ResamplePlan& p, cudaStream_t s);
// gy -> gx, which the caller has zeroed: each output's gradient goes back to its taps
void resample2d_backward(DTypeCode dt, const void* gy, void* gx, const std::int64_t* idx, const void* wts,
                         const ResamplePlan& p, cudaStream_t s);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
