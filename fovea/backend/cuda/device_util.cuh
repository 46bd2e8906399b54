#pragma once
// Device-side helpers shared by the CUDA backend's kernels (*.cu only): launches, grid-stride
// loops, dtype and op dispatch, elementwise maps over strided operands, and block reductions.
#include <cuda_runtime.h>

#include <cstdint>

#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// kernel<<<grid, block, 0, stream>>>(args...), written as a call so that the CPU emulator
// (tests/cuda/emulator) can run the same launch; the launch error is left for cudaGetLastError.
template <class... P, class... A>
void launch(void (*kernel)(P...), unsigned grid, unsigned block, cudaStream_t stream, A&&... args) {
#ifdef FOVEA_CUDA_EMULATOR
  emulator::launch(kernel, grid, block, stream, static_cast<P>(args)...);
#else
  kernel<<<grid, block, 0, stream>>>(static_cast<P>(args)...);
#endif
}

// A grid-stride loop over [0, n).
#define FOVEA_GRID_LOOP(i, n)                                                         \
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < (n); \
       i += std::int64_t{gridDim.x} * blockDim.x)

// Calls f(T{}) with T the element type of a dtype code (kernels compute in these four).
template <class F>
void dispatch_arith(int code, F&& f) {
  switch (code) {
    case kF32: return f(float{});
    case kF64: return f(double{});
    case kI64: return f(std::int64_t{});
    case kU8: return f(std::uint8_t{});
    default: return;
  }
}
template <class F>
void dispatch_float(int code, F&& f) {
  switch (code) {
    case kF32: return f(float{});
    case kF64: return f(double{});
    default: return;
  }
}

// A compile-time code (an op, an activation) for dispatch_code.
template <int V>
struct Code {
  static constexpr int value = V;
};

// Calls f(Code<v>{}) for a run-time v in [I, N).
template <int I, int N, class F>
void dispatch_code(int v, F&& f) {
  if constexpr (I < N) {
    if (v == I) f(Code<I>{});
    else dispatch_code<I + 1, N>(v, f);
  }
}

// Offset of the i-th element; contiguous operands arrive collapsed to one dimension.
__device__ inline std::int64_t at(const Strided& s, std::int64_t i) {
  return s.dims == 1 ? i * s.strides[0] : s.offset(i);
}

// out = f(a, b, ...) elementwise over n elements of strided operands of one shape (kernels.h's
// Strided), a thread per element in a grid-stride loop.
template <class O, class F>
__global__ void map0_kernel(F f, std::int64_t n, O* out, Strided so) {
  FOVEA_GRID_LOOP(i, n) out[at(so, i)] = f();
}
template <class O, class A, class F>
__global__ void map1_kernel(F f, std::int64_t n, O* out, Strided so, const A* a, Strided sa) {
  FOVEA_GRID_LOOP(i, n) out[at(so, i)] = f(a[at(sa, i)]);
}
template <class O, class A, class B, class F>
__global__ void map2_kernel(F f, std::int64_t n, O* out, Strided so, const A* a, Strided sa, const B* b, Strided sb) {
  FOVEA_GRID_LOOP(i, n) out[at(so, i)] = f(a[at(sa, i)], b[at(sb, i)]);
}

template <class O, class A, class B, class C, class F>
__global__ void map3_kernel(F f, std::int64_t n, O* out, Strided so, const A* a, Strided sa, const B* b, Strided sb,
                            const C* c, Strided sc) {
  FOVEA_GRID_LOOP(i, n) out[at(so, i)] = f(a[at(sa, i)], b[at(sb, i)], c[at(sc, i)]);
}

template <class O, class F>
void map0(F f, std::int64_t n, void* out, Strided so, cudaStream_t st) {
  launch(map0_kernel<O, F>, blocks_for(n), kThreads, st, f, n, static_cast<O*>(out), so);
}
template <class O, class A, class F>
void map1(F f, std::int64_t n, void* out, Strided so, const void* a, Strided sa, cudaStream_t st) {
  launch(map1_kernel<O, A, F>, blocks_for(n), kThreads, st, f, n, static_cast<O*>(out), so, static_cast<const A*>(a),
         sa);
}
template <class O, class A, class B, class F>
void map2(F f, std::int64_t n, void* out, Strided so, const void* a, Strided sa, const void* b, Strided sb,
          cudaStream_t st) {
  launch(map2_kernel<O, A, B, F>, blocks_for(n), kThreads, st, f, n, static_cast<O*>(out), so, static_cast<const A*>(a),
         sa, static_cast<const B*>(b), sb);
}

// Power-of-two block size for rows of length R: enough threads to cover R, at most kThreads.
inline unsigned threads_for(std::int64_t R) {
  unsigned t = 32;
  while (t < kThreads && t < R) t *= 2;
  return t;
}
inline unsigned row_blocks(std::int64_t rows) { return static_cast<unsigned>(rows < 65535 * 8 ? rows : 65535 * 8); }

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

// Combiners for block_reduce.
struct Add {
  template <class A>
  __device__ A operator()(A a, A b) const {
    return a + b;
  }
};
struct Max {
  template <class A>
  __device__ A operator()(A a, A b) const {
    return fmax(a, b);
  }
};

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
