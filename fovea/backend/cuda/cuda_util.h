#pragma once
// Host-side helpers shared by the CUDA backend's *.cpp files.
#include <cuda_runtime.h>

#include <map>
#include <mutex>

#include "fovea/backend/cuda/kernels.h"
#include "fovea/core/error.h"
#include "fovea/core/tensor.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// Throws "[op] CUDA error: <name>: <description>" when a runtime call failed.
void check(cudaError_t e, const char* op);
#define FOVEA_CUDA_CHECK(expr, op) ::fovea::backend::cuda::check((expr), (op))
// After kernel launches: a launch error names the op.
#define FOVEA_CUDA_LAUNCHED(op) FOVEA_CUDA_CHECK(cudaGetLastError(), op)

// Makes t's device (cuda:N) current and returns the stream all of the backend's work on it runs on.
cudaStream_t stream_for(const Tensor& t);
cudaStream_t device_stream(int device);

// The error word of t's device (kernels.h: KernelError), made zeroed on first use. Copies from
// the device read it and throw what a kernel recorded there.
KernelError* kernel_error(const Tensor& t);

// Pointer to t's first element (on its device).
inline void* ptr(const Tensor& t) {
  return t.storage()->data.get() + t.offset() * static_cast<std::int64_t>(dtype_size(t.dtype()));
}
inline DTypeCode code(DType t) { return static_cast<DTypeCode>(static_cast<int>(t)); }

// t's sizes and strides as kernels take them; throws beyond kMaxDims naming `op`.
Strided strided(const Tensor& t, const char* op);

// "[op] DTYPE is not implemented on cuda" unless t's dtype is one of `allowed`.
void require_dtype(const Tensor& t, std::initializer_list<DType> allowed, const char* op);

// A library handle (cuDNN, cuBLAS) per device, made on first use by make(stream) and bound to the
// device's stream.
template <typename Handle, typename Make>
Handle per_device(const Tensor& t, Make make) {
  static std::mutex mu;
  static std::map<int, Handle> handles;
  cudaStream_t st = stream_for(t);
  std::lock_guard<std::mutex> lock(mu);
  auto [it, fresh] = handles.try_emplace(t.device().index);
  if (fresh) it->second = make(st);
  return it->second;
}

// src and dst on the same CUDA device, the same shape, any strides and dtypes (elementwise.cpp).
void device_copy(const Tensor& src, const Tensor& dst);

// t must have dtype d and live on out's device (the kernels read it as such); errors name `op`
// and `what` (elementwise.cpp).
void expect(const Tensor& t, DType d, const Tensor& out, const char* op, const char* what);
// Views of one shape: merges dimensions that are contiguous in every operand and drops size-1
// ones, in place, so contiguous operands reach the kernels as one dimension of stride 1
// (elementwise.cpp).
void collapse(std::initializer_list<Strided*> ops);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
