// Batch normalisation kernels (Ioffe and Szegedy 2015, https://arxiv.org/abs/1502.03167):
// per-channel reductions over parts of each channel, one block a part (norm_parts), accumulated
// in double and combined per channel; elementwise normalisation and input gradient over all
// elements, walking channels without a division per element.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/norm_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

// Walks the elements of x: (N,C,S) from linear index `start` in steps of `step`, keeping the
// channel and the position in the plane without a division per element.
struct Walker {
  std::int64_t S, C, s, c, ds, dc;
  __device__ Walker(const NormPlan& p, std::int64_t start, std::int64_t step)
      : S(p.S), C(p.C), s(start % p.S), c((start / p.S) % p.C), ds(step % p.S), dc((step / p.S) % p.C) {}
  __device__ void next() {
    s += ds;
    c += dc;
    if (s >= S) {
      s -= S;
      ++c;
    }
    if (c >= C) c -= C;
  }
};

// Calls f(offset) for channel c's elements k in [begin, end) (k < N*S, k = i*S + s) that this
// thread takes: begin + threadIdx.x, then every blockDim.x.
template <typename F>
__device__ void for_channel_part(const NormPlan& p, std::int64_t c, std::int64_t begin, std::int64_t end, F f) {
  std::int64_t k = begin + threadIdx.x;
  if (k >= end) return;
  std::int64_t i = k / p.S, s = k % p.S;
  const std::int64_t di = blockDim.x / p.S, ds = blockDim.x % p.S;
  for (; k < end; k += blockDim.x) {
    f((i * p.C + c) * p.S + s);
    i += di;
    s += ds;
    if (s >= p.S) {
      s -= p.S;
      ++i;
    }
  }
}

// Block b takes part b % P of channel b / P: its elements [begin, end) of the channel's N*S.
struct Part {
  std::int64_t c, begin, end;
};
__device__ Part part_of(const NormPlan& p, std::int64_t parts) {
  const std::int64_t b = blockIdx.x, n = p.N * p.S, k = b % parts;
  return {b / parts, n * k / parts, n * (k + 1) / parts};
}

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

// Block (c, part): the part's count, mean and sum of squared deviations (two passes over it, in
// double) into partial[3 * blockIdx.x ...]
template <typename T>
__global__ void stats_partial_kernel(const T* __restrict__ x, double* __restrict__ partial, NormPlan p,
                                     std::int64_t parts) {
  __shared__ double smem[kThreads];
  const Part q = part_of(p, parts);
  const double count = static_cast<double>(q.end - q.begin);
  double s = 0;
  for_channel_part(p, q.c, q.begin, q.end, [&](std::int64_t e) { s += static_cast<double>(x[e]); });
  const double sum = block_sum(s, smem);
  const double m = count > 0 ? sum / count : 0;
  double d2 = 0;
  for_channel_part(p, q.c, q.begin, q.end, [&](std::int64_t e) {
    const double d = static_cast<double>(x[e]) - m;
    d2 += d * d;
  });
  const double m2 = block_sum(d2, smem);
  if (threadIdx.x == 0) {
    partial[3 * blockIdx.x] = count;
    partial[3 * blockIdx.x + 1] = m;
    partial[3 * blockIdx.x + 2] = m2;
  }
}

// One thread per channel: the parts combined (Chan, Golub and LeVeque's pairwise update) into
// the mean and the biased variance.
template <typename T>
__global__ void stats_combine_kernel(const double* __restrict__ partial, T* __restrict__ mean, T* __restrict__ var,
                                     NormPlan p, std::int64_t parts) {
  FOVEA_GRID_LOOP(c, p.C) {
    double n = 0, m = 0, m2 = 0;
    for (std::int64_t k = 0; k < parts; ++k) {
      const double* q = partial + 3 * (c * parts + k);
      if (q[0] == 0) continue;
      const double total = n + q[0], delta = q[1] - m;
      m += delta * q[0] / total;
      m2 += q[2] + delta * delta * n * q[0] / total;
      n = total;
    }
    mean[c] = static_cast<T>(m);
    var[c] = static_cast<T>(m2 / n);
  }
}

// y = (x - mean) / sqrt(var + eps) * w + b
template <typename T>
__global__ void apply_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                             const T* __restrict__ mean, const T* __restrict__ var, T* __restrict__ y, NormPlan p) {
  const std::int64_t n = p.N * p.C * p.S, step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  for (Walker at(p, i, step); i < n; i += step, at.next()) {
    const T scale = inv_std(var[at.c], p.eps) * (w ? w[at.c] : T(1));
    y[i] = (x[i] - mean[at.c]) * scale + (b ? b[at.c] : T(0));
  }
}

// Block (c, part): the part's sums of gy and of gy * (x - mean) into partial[2 * blockIdx.x ...]
template <typename T>
__global__ void backward_partial_kernel(const T* __restrict__ gy, const T* __restrict__ x, const T* __restrict__ mean,
                                        double* __restrict__ partial, NormPlan p, std::int64_t parts) {
  __shared__ double smem[kThreads];
  const Part q = part_of(p, parts);
  const double m = static_cast<double>(mean[q.c]);
  double sg = 0, sgx = 0;
  for_channel_part(p, q.c, q.begin, q.end, [&](std::int64_t e) {
    const double g = static_cast<double>(gy[e]);
    sg += g;
    sgx += g * (static_cast<double>(x[e]) - m);
  });
  const double sum_g = block_sum(sg, smem), sum_gx = block_sum(sgx, smem);
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = sum_g;
    partial[2 * blockIdx.x + 1] = sum_gx;
  }
}

// One thread per channel: sums[c] = (sum of gy, sum of gy * xhat) over the channel, xhat =
// (x - mean) / sqrt(var + eps); they are gb[c] and gw[c]
template <typename T>
__global__ void backward_combine_kernel(const double* __restrict__ partial, const T* __restrict__ var,
                                        double* __restrict__ sums, T* __restrict__ gw, T* __restrict__ gb, NormPlan p,
                                        std::int64_t parts) {
  FOVEA_GRID_LOOP(c, p.C) {
    double sum_g = 0, sum_gx = 0;
    for (std::int64_t k = 0; k < parts; ++k) {
      sum_g += partial[2 * (c * parts + k)];
      sum_gx += partial[2 * (c * parts + k) + 1];
    }
    const double sum_gxhat = sum_gx * inv_std(static_cast<double>(var[c]), p.eps);
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
  const std::int64_t total = p.N * p.C * p.S, step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const double n = static_cast<double>(p.N * p.S);
  std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  for (Walker at(p, i, step); i < total; i += step, at.next()) {
    const std::int64_t c = at.c;
    const T inv = inv_std(var[c], p.eps);
    const T xhat = (x[i] - mean[c]) * inv;
    const T mean_g = static_cast<T>(sums[2 * c] / n), mean_gxhat = static_cast<T>(sums[2 * c + 1] / n);
    gx[i] = (w ? w[c] : T(1)) * inv * (gy[i] - mean_g - xhat * mean_gxhat);
  }
}

template <typename T>
void forward(const void* x, const void* w, const void* b, void* mean, void* var, void* y, const NormPlan& p,
             bool training, double* scratch, cudaStream_t s) {
  const auto* px = static_cast<const T*>(x);
  if (training) {
    const std::int64_t parts = norm_parts(p);
    launch(stats_partial_kernel<T>, static_cast<unsigned>(p.C * parts), kThreads, s, px, scratch, p, parts);
    launch(stats_combine_kernel<T>, blocks_for(p.C), kThreads, s, scratch, static_cast<T*>(mean), static_cast<T*>(var),
           p, parts);
  }
  const std::int64_t n = p.N * p.C * p.S;
  if (n == 0) return;
  launch(apply_kernel<T>, blocks_for(n), kThreads, s, px, static_cast<const T*>(w), static_cast<const T*>(b),
         static_cast<const T*>(mean), static_cast<const T*>(var), static_cast<T*>(y), p);
}

template <typename T>
void backward(const void* gy, const void* x, const void* w, const void* mean, const void* var, double* scratch,
              void* gx, void* gw, void* gb, const NormPlan& p, cudaStream_t s) {
  const auto *pg = static_cast<const T*>(gy), *px = static_cast<const T*>(x);
  const auto *pm = static_cast<const T*>(mean), *pv = static_cast<const T*>(var);
  const std::int64_t parts = norm_parts(p);
  double* sums = scratch + p.C * parts * 2;
  launch(backward_partial_kernel<T>, static_cast<unsigned>(p.C * parts), kThreads, s, pg, px, pm, scratch, p, parts);
  launch(backward_combine_kernel<T>, blocks_for(p.C), kThreads, s, scratch, pv, sums, static_cast<T*>(gw),
         static_cast<T*>(gb), p, parts);
  const std::int64_t n = p.N * p.C * p.S;
  if (!gx || n == 0) return;
  launch(backward_data_kernel<T>, blocks_for(n), kThreads, s, pg, px, static_cast<const T*>(w), pm, pv, sums,
         static_cast<T*>(gx), p);
}

}  // namespace

void batch_norm_forward(DTypeCode dt, const void* x, const void* w, const void* b, void* mean, void* var, void* y,
                        const NormPlan& p, bool training, double* scratch, cudaStream_t s) {
  if (p.C == 0) return;
  if (dt == kF64) forward<double>(x, w, b, mean, var, y, p, training, scratch, s);
  else forward<float>(x, w, b, mean, var, y, p, training, scratch, s);
}

void batch_norm_backward(DTypeCode dt, const void* gy, const void* x, const void* w, const void* mean, const void* var,
                         double* scratch, void* gx, void* gw, void* gb, const NormPlan& p, cudaStream_t s) {
  if (p.C == 0) return;
  if (dt == kF64) backward<double>(gy, x, w, mean, var, scratch, gx, gw, gb, p, s);
  else backward<float>(gy, x, w, mean, var, scratch, gx, gw, gb, p, s);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
