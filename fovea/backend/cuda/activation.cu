// Activation kernels: one thread per element with the formulas of backend/activation_math.h,
// which the CPU's scalar loops share; the activation is a template argument, so each kernel
// evaluates one formula with no branch on the kind.
#include <cuda_runtime.h>

#include <cstdint>

#include "fovea/backend/activation_math.h"
#include "fovea/backend/cuda/activation_kernels.h"
#include "fovea/backend/cuda/device_util.cuh"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

template <Act A, class T>
struct ActForward {
  T alpha, beta;
  __device__ T operator()(T x) const { return activation_math::value_slope<A>(x, alpha, beta).f; }
};
template <Act A, class T>
struct ActBackward {
  T alpha, beta;
  __device__ T operator()(T x, T g) const { return g * activation_math::value_slope<A>(x, alpha, beta).df; }
};

}  // namespace

void launch_activation_forward(Act act, double alpha, double beta, int code, const void* x, Strided xs, void* y,
                               Strided ys, std::int64_t n, cudaStream_t stream) {
  dispatch_float(code, [&](auto t) {
    using T = decltype(t);
    dispatch_code<0, kActCount>(static_cast<int>(act), [&](auto c) {
      map1<T, T>(ActForward<static_cast<Act>(decltype(c)::value), T>{static_cast<T>(alpha), static_cast<T>(beta)}, n, y,
                 ys, x, xs, stream);
    });
  });
}

void launch_activation_backward(Act act, double alpha, double beta, int code, const void* x, Strided xs, const void* gy,
                                Strided gs, void* gx, Strided gxs, std::int64_t n, cudaStream_t stream) {
  dispatch_float(code, [&](auto t) {
    using T = decltype(t);
    dispatch_code<0, kActCount>(static_cast<int>(act), [&](auto c) {
      map2<T, T, T>(ActBackward<static_cast<Act>(decltype(c)::value), T>{static_cast<T>(alpha), static_cast<T>(beta)},
                    n, gx, gxs, x, xs, gy, gs, stream);
    });
  });
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
