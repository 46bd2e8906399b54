#pragma once
// The interface between the CUDA backend's host code (*.cpp, which knows Tensor) and its
// kernels (*.cu, compiled by nvcc without fovea's other headers: fmt's compile-time format
// strings do not build under nvcc). Plain data only: pointers, sizes, strides, codes.
#include <cuda_runtime.h>

#include <cstdint>

#include "fovea/backend/cuda/abi.h"
#include "fovea/backend/host_device.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// Up to 8 dimensions of sizes and element strides, passed to kernels by value: the offset of
// the i-th element (row-major over `sizes`) of a strided view.
inline constexpr int kMaxDims = 8;
struct Strided {
  int dims = 0;
  std::int64_t sizes[kMaxDims] = {};
  std::int64_t strides[kMaxDims] = {};
  FOVEA_HOST_DEVICE std::int64_t offset(std::int64_t i) const {
    std::int64_t off = 0;
    for (int d = dims - 1; d >= 0; --d) {
      off += (i % sizes[d]) * strides[d];
      i /= sizes[d];
    }
    return off;
  }
};

// fovea::DType's values (dtype.h): f32 0, f64 1, i64 2, u8 3, f16 4, bf16 5
enum DTypeCode : int { kF32 = 0, kF64 = 1, kI64 = 2, kU8 = 3, kF16 = 4, kBF16 = 5 };

// What a kernel found wrong (a bad index, an integer division by zero), recorded in its device's
// error word (context.cpp) instead of synchronising the host to report it. The host reads the
// word with its next copy from the device and throws there, naming the op and the value, as
// CUDA's device-side assertions surface at the next synchronisation.
enum KernelErrorCode : std::int64_t { kNoKernelError = 0, kGatherIndex = 1, kScatterIndex = 2, kDivisionByZero = 3 };
struct KernelError {
  std::int64_t code;   // KernelErrorCode; among several errors, any one is kept
  std::int64_t value;  // the bad index
  std::int64_t bound;  // the size it had to be below
};

// Blocks of kThreads covering n elements (capped; kernels loop with a grid stride).
inline constexpr unsigned kThreads = 256;
inline unsigned blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
