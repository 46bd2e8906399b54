#pragma once
// Plain-data interface of the fused optimizer step kernels (optim.cu) for optim.cpp. Each launch
// updates up to kStepTensors parameters, whose device pointers travel in a table passed to the
// kernel by value: no upload and no synchronisation. The math is backend/optim_math.h's, shared
// with the CPU backend.
#include <cstdint>

#include "fovea/backend/cuda/kernels.h"
#include "fovea/backend/optim_math.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

// Parameters per launch; the tables stay well under the 4 KB of kernel arguments.
inline constexpr int kStepTensors = 24;
// Elements per block: block b updates elements [c * kStepChunk, (c + 1) * kStepChunk) of one tensor.
inline constexpr std::int64_t kStepChunk = 8192;

// The grid of one launch: tensor i (numel[i] > 0 elements) owns the blocks
// [block_begin[i], block_begin[i + 1]); block_begin[count] is the grid size.
struct StepGrid {
  int count = 0;
  std::int64_t numel[kStepTensors] = {};
  unsigned block_begin[kStepTensors + 1] = {};
};

// Pointers of dtype dt's elements; buffer null when momentum == 0.
struct SgdStepTable {
  StepGrid grid;
  void* param[kStepTensors] = {};
  const void* grad[kStepTensors] = {};
  void* buffer[kStepTensors] = {};
  bool buffer_is_new[kStepTensors] = {};
};

// Pointers of dtype dt's elements; max_exp_avg_sq null unless amsgrad. The scalars are per tensor
// (backend.h: Backend::adam_step).
struct AdamStepTable {
  StepGrid grid;
  void* param[kStepTensors] = {};
  const void* grad[kStepTensors] = {};
  void* exp_avg[kStepTensors] = {};
  void* exp_avg_sq[kStepTensors] = {};
  void* max_exp_avg_sq[kStepTensors] = {};
  double step_size[kStepTensors] = {};
  double bias_correction2_sqrt[kStepTensors] = {};
};

// One launch each over the table's tensors (f32 or f64 by dt), on stream s.
void sgd_step(DTypeCode dt, const SgdStepTable& t, const SgdStepParams& p, cudaStream_t s);
void adam_step(DTypeCode dt, const AdamStepTable& t, const AdamStepParams& p, cudaStream_t s);

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
