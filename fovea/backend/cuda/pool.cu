// Max and average pooling kernels on contiguous NCHW planes, one thread per output element,
// with cpu/pool.cpp's semantics: row-major window scans, first maximum wins, NaN wins.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/pool_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

// x: (planes,H,W) -> y: (planes,OH,OW)
template <typename T>
__global__ void pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t* __restrict__ ind,
                                    PoolPlan p) {
  const std::int64_t per_plane = p.OH * p.OW, n = p.planes * per_plane;
  for (std::int64_t o = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; o < n;
       o += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t pl = o / per_plane, r = o % per_plane;
    const PoolWindow w = pool_window(p, r / p.OW, r % p.OW);
    const T* src = x + pl * p.H * p.W;
    if (p.max) {
      T best = -static_cast<T>(INFINITY);
      std::int64_t at = w.h0 * p.W + w.w0;
      for (std::int64_t h = w.h0; h < w.h1; ++h)
        for (std::int64_t c = w.w0; c < w.w1; ++c) {
          const T v = src[h * p.W + c];
          if (v > best || v != v) {  // NaN wins, as in PyTorch
            best = v;
            at = h * p.W + c;
          }
        }
      y[o] = best;
      if (ind) ind[o] = at;
    } else {
      T s = 0;  // summed in T in the CPU's order
      for (std::int64_t h = w.h0; h < w.h1; ++h)
        for (std::int64_t c = w.w0; c < w.w1; ++c) s += src[h * p.W + c];
      y[o] = s / static_cast<T>(w.divisor);
    }
  }
}

// gy: (planes,OH,OW) -> gx: (planes,H,W), zeroed by the caller; windows may overlap, hence atomics
template <typename T>
__global__ void pool_backward_kernel(const T* __restrict__ gy, const std::int64_t* __restrict__ ind, T* gx,
                                     PoolPlan p) {
  const std::int64_t per_plane = p.OH * p.OW, n = p.planes * per_plane;
  for (std::int64_t o = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; o < n;
       o += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t pl = o / per_plane, r = o % per_plane;
    T* dst = gx + pl * p.H * p.W;
    if (p.max) {
      atomicAdd(dst + ind[o], gy[o]);
      continue;
    }
    const PoolWindow w = pool_window(p, r / p.OW, r % p.OW);
    const T share = gy[o] / static_cast<T>(w.divisor);
    for (std::int64_t h = w.h0; h < w.h1; ++h)
      for (std::int64_t c = w.w0; c < w.w1; ++c) atomicAdd(dst + h * p.W + c, share);
  }
}

}  // namespace

void pool2d_forward(DTypeCode dt, const void* x, void* y, std::int64_t* ind, const PoolPlan& p, cudaStream_t s) {
  const std::int64_t n = p.planes * p.OH * p.OW;
  if (n == 0) return;
  if (dt == kF64)
    launch(pool_forward_kernel<double>, blocks_for(n), kThreads, s, static_cast<const double*>(x),
           static_cast<double*>(y), ind, p);
  else
    launch(pool_forward_kernel<float>, blocks_for(n), kThreads, s, static_cast<const float*>(x), static_cast<float*>(y),
           ind, p);
}

void pool2d_backward(DTypeCode dt, const void* gy, const std::int64_t* ind, void* gx, const PoolPlan& p,
                     cudaStream_t s) {
  const std::int64_t n = p.planes * p.OH * p.OW;
  if (n == 0) return;
  if (dt == kF64)
    launch(pool_backward_kernel<double>, blocks_for(n), kThreads, s, static_cast<const double*>(gy), ind,
           static_cast<double*>(gx), p);
  else
    launch(pool_backward_kernel<float>, blocks_for(n), kThreads, s, static_cast<const float*>(gy), ind,
           static_cast<float*>(gx), p);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
