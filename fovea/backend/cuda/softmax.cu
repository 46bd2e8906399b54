// Softmax kernels along one axis of a contiguous tensor seen as (outer, n, inner): one block per
// line with shared-memory reductions where the lines are contiguous (inner == 1), one thread per
// line otherwise. The per-element formulas are backend/activation_math.h's, which the CPU's
// loops share.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "fovea/backend/activation_math.h"
#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/softmax_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

namespace math = activation_math;

// inner == 1: one block per row of n contiguous elements.
template <class T>
__global__ void softmax_rows_kernel(const T* x, T* y, std::int64_t rows, std::int64_t n, bool log_softmax) {
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* r = x + row * n;
    T* w = y + row * n;
    T m = -INFINITY;
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) m = fmax(m, r[k]);
    m = block_reduce(m, Max{});
    T sum = 0;
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) sum += exp(r[k] - m);
    sum = block_reduce(sum, Add{});
    const T log_sum = log(sum);
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x)
      w[k] = math::softmax_value(r[k], m, sum, log_sum, log_softmax);
  }
}
template <class T>
__global__ void softmax_rows_backward_kernel(const T* y, const T* gy, T* gx, std::int64_t rows, std::int64_t n,
                                             bool log_softmax) {
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const std::int64_t b = row * n;
    T dot = 0;
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x)
      dot += math::softmax_dot_term(y[b + k], gy[b + k], log_softmax);
    dot = block_reduce(dot, Add{});
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x)
      gx[b + k] = math::softmax_grad(y[b + k], gy[b + k], dot, log_softmax);
  }
}

// inner > 1: one thread per (outer, inner) line, its n elements `inner` apart.
template <class T>
__global__ void softmax_lines_kernel(const T* x, T* y, std::int64_t outer, std::int64_t n, std::int64_t inner,
                                     bool log_softmax) {
  FOVEA_GRID_LOOP(t, outer * inner) {
    const std::int64_t b = (t / inner) * n * inner + t % inner;
    T m = -INFINITY;
    for (std::int64_t k = 0; k < n; ++k) m = fmax(m, x[b + k * inner]);
    T sum = 0;
    for (std::int64_t k = 0; k < n; ++k) sum += exp(x[b + k * inner] - m);
    const T log_sum = log(sum);
    for (std::int64_t k = 0; k < n; ++k)
      y[b + k * inner] = math::softmax_value(x[b + k * inner], m, sum, log_sum, log_softmax);
  }
}
template <class T>
__global__ void softmax_lines_backward_kernel(const T* y, const T* gy, T* gx, std::int64_t outer, std::int64_t n,
                                              std::int64_t inner, bool log_softmax) {
  FOVEA_GRID_LOOP(t, outer * inner) {
    const std::int64_t b = (t / inner) * n * inner + t % inner;
    T dot = 0;
    for (std::int64_t k = 0; k < n; ++k)
      dot += math::softmax_dot_term(y[b + k * inner], gy[b + k * inner], log_softmax);
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int64_t i = b + k * inner;
      gx[i] = math::softmax_grad(y[i], gy[i], dot, log_softmax);
    }
  }
}

}  // namespace

void launch_softmax_forward(int code, const void* x, void* y, std::int64_t outer, std::int64_t n, std::int64_t inner,
                            bool log, cudaStream_t stream) {
  dispatch_float(code, [&](auto t) {
    using T = decltype(t);
    const T* px = static_cast<const T*>(x);
    T* py = static_cast<T*>(y);
    if (inner == 1) launch(softmax_rows_kernel<T>, row_blocks(outer), threads_for(n), stream, px, py, outer, n, log);
    else launch(softmax_lines_kernel<T>, blocks_for(outer * inner), kThreads, stream, px, py, outer, n, inner, log);
  });
}

void launch_softmax_backward(int code, const void* y, const void* gy, void* gx, std::int64_t outer, std::int64_t n,
                             std::int64_t inner, bool log, cudaStream_t stream) {
  dispatch_float(code, [&](auto t) {
    using T = decltype(t);
    const T* py = static_cast<const T*>(y);
    const T* pg = static_cast<const T*>(gy);
    T* px = static_cast<T*>(gx);
    if (inner == 1)
      launch(softmax_rows_backward_kernel<T>, row_blocks(outer), threads_for(n), stream, py, pg, px, outer, n, log);
    else
      launch(softmax_lines_backward_kernel<T>, blocks_for(outer * inner), kThreads, stream, py, pg, px, outer, n, inner,
             log);
  });
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
