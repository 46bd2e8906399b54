// Batch normalisation kernels (Ioffe and Szegedy 2015, https://arxiv.org/abs/1502.03167):
// per-channel reductions with one block per channel, accumulated in double; elementwise
// normalisation and input gradient over all elements.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/norm_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

// Offset of the k-th element (k < N*S) of channel c in x: (N,C,S)
__device__ std::int64_t channel_elem(const NormPlan& p, std::int64_t c, std::int64_t k) {
  return (k / p.S) * p.C * p.S + c * p.S + k % p.S;
}

// Channel of element i of x: (N,C,S)
__device__ std::int64_t channel_of(const NormPlan& p, std::int64_t i) { return (i / p.S) % p.C; }

__device__ float inv_std(float var, double eps) { return 1.0f / sqrtf(var + static_cast<float>(eps)); }
__device__ double inv_std(double var, double eps) { return 1.0 / sqrt(var + eps); }

// Sum of v over the block (blockDim.x == kThreads, a power of two); every thread gets it.
__device__ double block_sum(double v, double* smem) {
  smem[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) smem[threadIdx.x] += smem[threadIdx.x + s];
    __syncthreads();
  }
  const double r = smem[0];
  __syncthreads();  // smem is reused by the next call
  return r;
}

// Block c: mean[c] and the biased var[c] of channel c, two passes for accuracy
template <typename T>
__global__ void stats_kernel(const T* __restrict__ x, T* __restrict__ mean, T* __restrict__ var, NormPlan p) {
  __shared__ double smem[kThreads];
  const std::int64_t c = blockIdx.x, n = p.N * p.S;
  double s = 0;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) s += static_cast<double>(x[channel_elem(p, c, k)]);
  const double m = block_sum(s, smem) / static_cast<double>(n);
  double q = 0;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const double d = static_cast<double>(x[channel_elem(p, c, k)]) - m;
    q += d * d;
  }
  const double v = block_sum(q, smem) / static_cast<double>(n);
  if (threadIdx.x == 0) {
    mean[c] = static_cast<T>(m);
    var[c] = static_cast<T>(v);
  }
}

// y = (x - mean) / sqrt(var + eps) * w + b
template <typename T>
__global__ void apply_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                             const T* __restrict__ mean, const T* __restrict__ var, T* __restrict__ y, NormPlan p) {
  const std::int64_t n = p.N * p.C * p.S;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = channel_of(p, i);
    const T scale = inv_std(var[c], p.eps) * (w ? w[c] : T(1));
    y[i] = (x[i] - mean[c]) * scale + (b ? b[c] : T(0));
  }
}

// Block c: sums[c] = (sum of gy, sum of gy * xhat) over channel c, xhat = (x - mean) / sqrt(var + eps);
// they are gb[c] and gw[c]
template <typename T>
__global__ void backward_reduce_kernel(const T* __restrict__ gy, const T* __restrict__ x, const T* __restrict__ mean,
                                       const T* __restrict__ var, double* __restrict__ sums, T* __restrict__ gw,
                                       T* __restrict__ gb, NormPlan p) {
  __shared__ double smem[kThreads];
  const std::int64_t c = blockIdx.x, n = p.N * p.S;
  const double m = static_cast<double>(mean[c]);
  double sg = 0, sgx = 0;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const std::int64_t e = channel_elem(p, c, k);
    const double g = static_cast<double>(gy[e]);
    sg += g;
    sgx += g * (static_cast<double>(x[e]) - m);
  }
  const double sum_g = block_sum(sg, smem);
  const double sum_gxhat = block_sum(sgx, smem) * inv_std(static_cast<double>(var[c]), p.eps);
  if (threadIdx.x == 0) {
    sums[2 * c] = sum_g;
    sums[2 * c + 1] = sum_gxhat;
    if (gb) gb[c] = static_cast<T>(sum_g);
    if (gw) gw[c] = static_cast<T>(sum_gxhat);
  }
}

// gx = w / sqrt(var + eps) * (gy - sum(gy) / n - xhat * sum(gy xhat) / n), n = N*S (oneDNN's
// batch normalisation backward with batch statistics)
template <typename T>
__global__ void backward_data_kernel(const T* __restrict__ gy, const T* __restrict__ x, const T* __restrict__ w,
                                     const T* __restrict__ mean, const T* __restrict__ var,
                                     const double* __restrict__ sums, T* __restrict__ gx, NormPlan p) {
  const std::int64_t total = p.N * p.C * p.S;
  const double n = static_cast<double>(p.N * p.S);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = channel_of(p, i);
    const T inv = inv_std(var[c], p.eps);
    const T xhat = (x[i] - mean[c]) * inv;
    const T mean_g = static_cast<T>(sums[2 * c] / n), mean_gxhat = static_cast<T>(sums[2 * c + 1] / n);
    gx[i] = (w ? w[c] : T(1)) * inv * (gy[i] - mean_g - xhat * mean_gxhat);
  }
}

template <typename T>
void forward(const void* x, const void* w, const void* b, void* mean, void* var, void* y, const NormPlan& p,
             bool training, cudaStream_t s) {
  const auto* px = static_cast<const T*>(x);
  if (training)
    launch(stats_kernel<T>, static_cast<unsigned>(p.C), kThreads, s, px, static_cast<T*>(mean), static_cast<T*>(var), p);
  const std::int64_t n = p.N * p.C * p.S;
  if (n == 0) return;
  launch(apply_kernel<T>, blocks_for(n), kThreads, s, px, static_cast<const T*>(w), static_cast<const T*>(b),
                                                     static_cast<const T*>(mean), static_cast<const T*>(var),
                                                     static_cast<T*>(y), p);
}

template <typename T>
void backward(const void* gy, const void* x, const void* w, const void* mean, const void* var, double* sums, void* gx,
              void* gw, void* gb, const NormPlan& p, cudaStream_t s) {
  const auto *pg = static_cast<const T*>(gy), *px = static_cast<const T*>(x);
  const auto *pm = static_cast<const T*>(mean), *pv = static_cast<const T*>(var);
  launch(backward_reduce_kernel<T>, static_cast<unsigned>(p.C), kThreads, s, pg, px, pm, pv, sums, static_cast<T*>(gw),
                                                                            static_cast<T*>(gb), p);
  const std::int64_t n = p.N * p.C * p.S;
  if (!gx || n == 0) return;
  launch(backward_data_kernel<T>, blocks_for(n), kThreads, s, pg, px, static_cast<const T*>(w), pm, pv, sums,
                                                             static_cast<T*>(gx), p);
}

}  // namespace

void batch_norm_forward(DTypeCode dt, const void* x, const void* w, const void* b, void* mean, void* var, void* y,
                        const NormPlan& p, bool training, cudaStream_t s) {
  if (p.C == 0) return;
  if (dt == kF64) forward<double>(x, w, b, mean, var, y, p, training, s);
  else forward<float>(x, w, b, mean, var, y, p, training, s);
}

void batch_norm_backward(DTypeCode dt, const void* gy, const void* x, const void* w, const void* mean,
                         const void* var, double* sums, void* gx, void* gw, void* gb, const NormPlan& p,
                         cudaStream_t s) {
  if (p.C == 0) return;
  if (dt == kF64) backward<double>(gy, x, w, mean, var, sums, gx, gw, gb, p, s);
  else backward<float>(gy, x, w, mean, var, sums, gx, gw, gb, p, s);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
