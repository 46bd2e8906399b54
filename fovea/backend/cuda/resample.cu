// Nearest and bilinear resampling kernels on contiguous NCHW planes, one thread per output
// element, evaluating cpu/resample.cpp's expressions in the same order on the host's taps.
#include <cuda_runtime.h>

#include <cstdint>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/resample_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

template <typename T>
struct Tap {
  std::int64_t i0, i1;
  T l0, l1;
};

// Tap k of the (OH+OW) host taps: rows 0..OH-1, then columns
template <typename T>
__device__ Tap<T> tap(const std::int64_t* idx, const T* wts, std::int64_t k) {
  return {idx[2 * k], idx[2 * k + 1], wts[2 * k], wts[2 * k + 1]};
}

// x: (planes,H,W) -> y: (planes,OH,OW)
template <typename T>
__global__ void resample_forward_kernel(const T* __restrict__ x, T* __restrict__ y, const std::int64_t* idx,
                                        const T* wts, ResamplePlan p) {
  const std::int64_t per_plane = p.OH * p.OW, n = p.planes * per_plane;
  for (std::int64_t o = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; o < n;
       o += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t pl = o / per_plane, r = o % per_plane, oh = r / p.OW, ow = r % p.OW;
    const Tap<T> a = tap(idx, wts, oh), b = tap(idx, wts, p.OH + ow);
    const T* r0 = x + pl * p.H * p.W + a.i0 * p.W;
    if (!p.bilinear) {
      y[o] = r0[b.i0];
      continue;
    }
    const T* r1 = x + pl * p.H * p.W + a.i1 * p.W;
    y[o] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) + a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
  }
}

// gy: (planes,OH,OW) -> gx: (planes,H,W), zeroed by the caller; taps are shared, hence atomics
template <typename T>
__global__ void resample_backward_kernel(const T* __restrict__ gy, T* gx, const std::int64_t* idx, const T* wts,
                                         ResamplePlan p) {
  const std::int64_t per_plane = p.OH * p.OW, n = p.planes * per_plane;
  for (std::int64_t o = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; o < n;
       o += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t pl = o / per_plane, r = o % per_plane, oh = r / p.OW, ow = r % p.OW;
    const Tap<T> a = tap(idx, wts, oh), b = tap(idx, wts, p.OH + ow);
    const T v = gy[o];
    T* r0 = gx + pl * p.H * p.W + a.i0 * p.W;
    if (!p.bilinear) {
      atomicAdd(r0 + b.i0, v);
      continue;
    }
    T* r1 = gx + pl * p.H * p.W + a.i1 * p.W;
    atomicAdd(r0 + b.i0, a.l0 * b.l0 * v);
    atomicAdd(r0 + b.i1, a.l0 * b.l1 * v);
    atomicAdd(r1 + b.i0, a.l1 * b.l0 * v);
    atomicAdd(r1 + b.i1, a.l1 * b.l1 * v);
  }
}

}  // namespace

void resample2d_forward(DTypeCode dt, const void* x, void* y, const std::int64_t* idx, const void* wts,
                        const ResamplePlan& p, cudaStream_t s) {
  const std::int64_t n = p.planes * p.OH * p.OW;
  if (n == 0) return;
  if (dt == kF64)
    launch(resample_forward_kernel<double>, blocks_for(n), kThreads, s, static_cast<const double*>(x),
           static_cast<double*>(y), idx, static_cast<const double*>(wts), p);
  else
    launch(resample_forward_kernel<float>, blocks_for(n), kThreads, s, static_cast<const float*>(x),
           static_cast<float*>(y), idx, static_cast<const float*>(wts), p);
}

void resample2d_backward(DTypeCode dt, const void* gy, void* gx, const std::int64_t* idx, const void* wts,
                         const ResamplePlan& p, cudaStream_t s) {
  const std::int64_t n = p.planes * p.OH * p.OW;
  if (n == 0) return;
  if (dt == kF64)
    launch(resample_backward_kernel<double>, blocks_for(n), kThreads, s, static_cast<const double*>(gy),
           static_cast<double*>(gx), idx, static_cast<const double*>(wts), p);
  else
    launch(resample_backward_kernel<float>, blocks_for(n), kThreads, s, static_cast<const float*>(gy),
           static_cast<float*>(gx), idx, static_cast<const float*>(wts), p);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
