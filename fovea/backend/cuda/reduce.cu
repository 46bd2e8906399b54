// Row reductions and softmax: one block per row with a shared-memory tree, or one thread per
// column where the reduced axis is strided. Semantics mirror cpu/reduce.cpp and
// cpu/activation.cpp: sums and products accumulate in double (i64 for integers), NaN
// propagates through max/min, and ties and NaNs resolve to the first index.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/reduce_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

// Power-of-two block size for rows of length R: enough threads to cover R, at most kThreads.
unsigned threads_for(std::int64_t R) {
  unsigned t = 32;
  while (t < kThreads && t < R) t *= 2;
  return t;
}
unsigned row_blocks(std::int64_t rows) { return static_cast<unsigned>(rows < 65535 * 8 ? rows : 65535 * 8); }

// Combines every thread's v with f; all threads get the result. blockDim.x: a power of two <= kThreads.
template <class T, class F>
__device__ T block_reduce(T v, F f) {
  __shared__ T buf[kThreads];
  const unsigned t = threadIdx.x;
  buf[t] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
    if (t < s) buf[t] = f(buf[t], buf[t + s]);
    __syncthreads();
  }
  const T r = buf[0];
  __syncthreads();  // buf is free for the next call
  return r;
}

struct Add {
  template <class A>
  __device__ A operator()(A a, A b) const {
    return a + b;
  }
};
struct Mul {
  template <class A>
  __device__ A operator()(A a, A b) const {
    return a * b;
  }
};
struct Max {
  template <class A>
  __device__ A operator()(A a, A b) const {
    return fmax(a, b);
  }
};

template <class T>
struct AccOf {
  using type = std::int64_t;
};
template <>
struct AccOf<float> {
  using type = double;
};
template <>
struct AccOf<double> {
  using type = double;
};

// A candidate extremum and its index (i < 0: none yet).
template <class T>
struct Best {
  T v;
  std::int64_t i;
};
// The CPU's sequential scan as an associative choice: the first NaN if any, else the first index
// of the largest (smallest) value.
template <bool Largest>
struct Pick {
  template <class T>
  __device__ Best<T> operator()(Best<T> a, Best<T> b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool an = a.v != a.v, bn = b.v != b.v;
    if (an || bn) return an && bn ? (a.i < b.i ? a : b) : (an ? a : b);
    if (Largest ? b.v > a.v : b.v < a.v) return b;
    if (Largest ? a.v > b.v : a.v < b.v) return a;
    return a.i < b.i ? a : b;
  }
};

template <int Op, class T>
__global__ void reduce_kernel(const T* x, std::int64_t M, std::int64_t R, std::int64_t rs, std::int64_t cs, void* out,
                              std::int64_t os) {
  for (std::int64_t row = blockIdx.x; row < M; row += gridDim.x) {
    const T* r = x + row * rs;
    if constexpr (Op == kSum || Op == kProd) {
      using A = typename AccOf<T>::type;
      A a = Op == kSum ? A(0) : A(1);
      for (std::int64_t k = threadIdx.x; k < R; k += blockDim.x)
        a = Op == kSum ? a + static_cast<A>(r[k * cs]) : a * static_cast<A>(r[k * cs]);
      if constexpr (Op == kSum) a = block_reduce(a, Add{});
      else a = block_reduce(a, Mul{});
      if (threadIdx.x == 0) static_cast<T*>(out)[row * os] = static_cast<T>(a);
    } else {
      constexpr bool kLargest = Op == kMax || Op == kArgmax;
      Best<T> b{T(0), -1};
      for (std::int64_t k = threadIdx.x; k < R; k += blockDim.x) b = Pick<kLargest>{}(b, Best<T>{r[k * cs], k});
      b = block_reduce(b, Pick<kLargest>{});
      if (threadIdx.x == 0) {
        if constexpr (Op == kArgmax || Op == kArgmin) static_cast<std::int64_t*>(out)[row * os] = b.i;
        else static_cast<T*>(out)[row * os] = b.v;
      }
    }
  }
}

// Softmax of one element given its line's max m and sum of exp(x - m) (log_sum = log(sum)).
template <class T>
__device__ T softmax_value(T x, T m, T sum, T log_sum, bool log_softmax) {
  return log_softmax ? x - m - log_sum : exp(x - m) / sum;
}
// Backward: dot is the line's sum of dot_term(y, g).
template <class T>
__device__ T dot_term(T y, T g, bool log_softmax) {
  return log_softmax ? g : g * y;
}
template <class T>
__device__ T softmax_grad(T y, T g, T dot, bool log_softmax) {
  return log_softmax ? g - exp(y) * dot : y * (g - dot);
}

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
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) w[k] = softmax_value(r[k], m, sum, log_sum, log_softmax);
  }
}
template <class T>
__global__ void softmax_rows_backward_kernel(const T* y, const T* gy, T* gx, std::int64_t rows, std::int64_t n,
                                             bool log_softmax) {
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const std::int64_t b = row * n;
    T dot = 0;
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) dot += dot_term(y[b + k], gy[b + k], log_softmax);
    dot = block_reduce(dot, Add{});
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x)
      gx[b + k] = softmax_grad(y[b + k], gy[b + k], dot, log_softmax);
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
    for (std::int64_t k = 0; k < n; ++k) y[b + k * inner] = softmax_value(x[b + k * inner], m, sum, log_sum, log_softmax);
  }
}
template <class T>
__global__ void softmax_lines_backward_kernel(const T* y, const T* gy, T* gx, std::int64_t outer, std::int64_t n,
                                              std::int64_t inner, bool log_softmax) {
  FOVEA_GRID_LOOP(t, outer * inner) {
    const std::int64_t b = (t / inner) * n * inner + t % inner;
    T dot = 0;
    for (std::int64_t k = 0; k < n; ++k) dot += dot_term(y[b + k * inner], gy[b + k * inner], log_softmax);
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int64_t i = b + k * inner;
      gx[i] = softmax_grad(y[i], gy[i], dot, log_softmax);
    }
  }
}


template <int Op, class T>
void reduce_typed(const T* x, std::int64_t M, std::int64_t R, std::int64_t rs, std::int64_t cs, void* out,
                  std::int64_t os, cudaStream_t st) {
  launch(reduce_kernel<Op, T>, row_blocks(M), threads_for(R), st, x, M, R, rs, cs, out, os);
}

}  // namespace

void launch_reduce(int op, int code, const void* x, std::int64_t M, std::int64_t R, std::int64_t row_stride,
                   std::int64_t col_stride, void* out, std::int64_t out_stride, cudaStream_t stream) {
  dispatch_arith(code, [&](auto t) {
    using T = decltype(t);
    const T* px = static_cast<const T*>(x);
    switch (op) {
      case kSum: return reduce_typed<kSum>(px, M, R, row_stride, col_stride, out, out_stride, stream);
      case kProd: return reduce_typed<kProd>(px, M, R, row_stride, col_stride, out, out_stride, stream);
      case kMax: return reduce_typed<kMax>(px, M, R, row_stride, col_stride, out, out_stride, stream);
      case kMin: return reduce_typed<kMin>(px, M, R, row_stride, col_stride, out, out_stride, stream);
      case kArgmax: return reduce_typed<kArgmax>(px, M, R, row_stride, col_stride, out, out_stride, stream);
      case kArgmin: return reduce_typed<kArgmin>(px, M, R, row_stride, col_stride, out, out_stride, stream);
      default: return;
    }
  });
}

void launch_softmax_forward(int code, const void* x, void* y, std::int64_t outer, std::int64_t n,
                            std::int64_t inner, bool log, cudaStream_t stream) {
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
