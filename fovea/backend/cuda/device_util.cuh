#pragma once
// Device-side helpers shared by the CUDA backend's kernels (*.cu only).
#include <cuda_runtime.h>

#include <cstdint>

#include "fovea/backend/cuda/kernels.h"

namespace fovea::backend::cuda {

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

}  // namespace fovea::backend::cuda
