// Fused optimizer step kernels: one launch updates every parameter of its table, block b taking
// one chunk of one tensor, each element once with the formulas of backend/optim_math.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "fovea/backend/cuda/device_util.cuh"
#include "fovea/backend/cuda/optim_kernels.h"
#include "fovea/backend/optim_math.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

static_assert(sizeof(AdamStepTable) + sizeof(AdamStepParams) <= 4096, "kernel arguments are limited to 4 KB");
static_assert(sizeof(SgdStepTable) + sizeof(SgdStepParams) <= 4096, "kernel arguments are limited to 4 KB");

// This block's tensor i and its element range [begin, end).
struct BlockRange {
  int i;
  std::int64_t begin, end;
};
__device__ BlockRange block_range(const StepGrid& g) {
  int i = 0;
  while (blockIdx.x >= g.block_begin[i + 1]) ++i;
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.x - g.block_begin[i]) * kStepChunk;
  const std::int64_t end = begin + kStepChunk < g.numel[i] ? begin + kStepChunk : g.numel[i];
  return {i, begin, end};
}

template <typename T>
__global__ void sgd_kernel(SgdStepTable t, SgdStepParams p) {
  const BlockRange r = block_range(t.grid);
  const optim_math::SgdCoeffs<T> c(p);
  T* x = static_cast<T*>(t.param[r.i]);
  const T* g = static_cast<const T*>(t.grad[r.i]);
  T* b = static_cast<T*>(t.buffer[r.i]);
  const bool fresh = t.buffer_is_new[r.i];
  for (std::int64_t k = r.begin + threadIdx.x; k < r.end; k += blockDim.x)
    optim_math::sgd_update<T>(x[k], g[k], b ? b + k : nullptr, fresh, c);
}

template <typename T>
__global__ void adam_kernel(AdamStepTable t, AdamStepParams p) {
  const BlockRange r = block_range(t.grid);
  const optim_math::AdamCoeffs<T> c(p);
  T* x = static_cast<T*>(t.param[r.i]);
  const T* g = static_cast<const T*>(t.grad[r.i]);
  T* m = static_cast<T*>(t.exp_avg[r.i]);
  T* v = static_cast<T*>(t.exp_avg_sq[r.i]);
  T* v_max = static_cast<T*>(t.max_exp_avg_sq[r.i]);
  const auto neg_step_size = static_cast<T>(-t.step_size[r.i]);
  const auto bc2_sqrt = static_cast<T>(t.bias_correction2_sqrt[r.i]);
  for (std::int64_t k = r.begin + threadIdx.x; k < r.end; k += blockDim.x)
    optim_math::adam_update<T>(x[k], g[k], m[k], v[k], v_max ? v_max + k : nullptr, neg_step_size, bc2_sqrt, c);
}

template <typename T>
void launch_sgd(const SgdStepTable& t, const SgdStepParams& p, cudaStream_t s) {
  launch(sgd_kernel<T>, t.grid.block_begin[t.grid.count], kThreads, s, t, p);
}

template <typename T>
void launch_adam(const AdamStepTable& t, const AdamStepParams& p, cudaStream_t s) {
  launch(adam_kernel<T>, t.grid.block_begin[t.grid.count], kThreads, s, t, p);
}

}  // namespace

void sgd_step(DTypeCode dt, const SgdStepTable& t, const SgdStepParams& p, cudaStream_t s) {
  if (t.grid.block_begin[t.grid.count] == 0) return;
  if (dt == kF64) launch_sgd<double>(t, p, s);
  else launch_sgd<float>(t, p, s);
}

void adam_step(DTypeCode dt, const AdamStepTable& t, const AdamStepParams& p, cudaStream_t s) {
  if (t.grid.block_begin[t.grid.count] == 0) return;
  if (dt == kF64) launch_adam<double>(t, p, s);
  else launch_adam<float>(t, p, s);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
