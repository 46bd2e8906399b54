// Row reductions: one block per row with a shared-memory tree (block_reduce). Semantics mirror
// cpu/reduce.cpp: sums and products accumulate in double (i64 for integers), NaN propagates
// through max/min, and ties and NaNs resolve to the first index.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/reduce_kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

struct Mul {
  template <class A>
  __device__ A operator()(A a, A b) const {
    return a * b;
  }
};

// Sums and products accumulate in double, or i64 for integers (as cpu/reduce.cpp).
template <class T>
using AccOf = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;

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
      using A = AccOf<T>;
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

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
