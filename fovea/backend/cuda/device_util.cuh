#pragma once
// Device-side helpers shared by the CUDA backend's kernels (*.cu only).
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
#define FOVEA_GRID_LOOP(i, n) \
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < (n); i += std::int64_t{gridDim.x} * blockDim.x)

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

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
