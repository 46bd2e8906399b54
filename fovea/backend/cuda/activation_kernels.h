#pragma once
// Launchers of the activation kernels (activation.cu), called by activation.cpp. Plain data only
// (kernels.h, and the Act codes of backend/activation_math.h); every Strided of one call has the
// output's sizes and n > 0 elements; dtype codes are f32 or f64, checked by the caller.
#include "fovea/backend/activation_math.h"
#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// y = f(x), gx = gy * f'(x); alpha, beta as in ActParams
void launch_activation_forward(Act act, double alpha, double beta, int code, const void* x, Strided xs, void* y,
                               Strided ys, std::int64_t n, cudaStream_t stream);
void launch_activation_backward(Act act, double alpha, double beta, int code, const void* x, Strided xs, const void* gy,
                                Strided gs, void* gx, Strided gxs, std::int64_t n, cudaStream_t stream);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
