// Fused optimizer steps on CUDA: the checks of backend/optim_check.h, then the parameters in
// tables of up to kStepTensors, one kernel launch per table (optim.cu), all on the parameters'
// stream and without any synchronisation.
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/optim_kernels.h"
#include "fovea/backend/optim_check.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

// Puts every parameter with elements into a table (fill(table, slot, i) sets parameter i's
// pointers and scalars in slot `slot`) and calls launch(table) on each full table and the last one.
template <typename Table, typename Fill, typename Launch>
void in_tables(std::span<const Tensor> params, Fill fill, Launch launch) {
  Table t;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::int64_t n = params[i].numel();
    if (n == 0) continue;
    StepGrid& g = t.grid;
    const int slot = g.count++;
    g.numel[slot] = n;
    g.block_begin[slot + 1] = g.block_begin[slot] + static_cast<unsigned>((n + kStepChunk - 1) / kStepChunk);
    fill(t, slot, i);
    if (g.count == kStepTensors) {
      launch(t);
      t = Table{};
    }
  }
  if (t.grid.count > 0) launch(t);
}

}  // namespace

void CudaBackend::sgd_step(std::span<const Tensor> params, std::span<const Tensor> grads,
                           std::span<const Tensor> momentum_buffers, std::span<const std::uint8_t> buffer_is_new,
                           const SgdStepParams& p) {
  check_sgd_step(params, grads, momentum_buffers, buffer_is_new, p);
  if (params.empty()) return;
  const DTypeCode dt = code(params[0].dtype());
  cudaStream_t s = stream_for(params[0]);
  in_tables<SgdStepTable>(
      params,
      [&](SgdStepTable& t, int slot, std::size_t i) {
        t.param[slot] = ptr(params[i]);
        t.grad[slot] = ptr(grads[i]);
        if (momentum_buffers.empty()) return;
        t.buffer[slot] = ptr(momentum_buffers[i]);
        t.buffer_is_new[slot] = buffer_is_new[i] != 0;
      },
      [&](const SgdStepTable& t) {
        cuda::sgd_step(dt, t, p, s);
        FOVEA_CUDA_LAUNCHED("sgd");
      });
}

void CudaBackend::adam_step(std::span<const Tensor> params, std::span<const Tensor> grads,
                            std::span<const Tensor> exp_avg, std::span<const Tensor> exp_avg_sq,
                            std::span<const Tensor> max_exp_avg_sq, std::span<const double> step_size,
                            std::span<const double> bias_correction2_sqrt, const AdamStepParams& p) {
  check_adam_step(params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, bias_correction2_sqrt, p);
  if (params.empty()) return;
  const DTypeCode dt = code(params[0].dtype());
  cudaStream_t s = stream_for(params[0]);
  in_tables<AdamStepTable>(
      params,
      [&](AdamStepTable& t, int slot, std::size_t i) {
        t.param[slot] = ptr(params[i]);
        t.grad[slot] = ptr(grads[i]);
        t.exp_avg[slot] = ptr(exp_avg[i]);
        t.exp_avg_sq[slot] = ptr(exp_avg_sq[i]);
        if (!max_exp_avg_sq.empty()) t.max_exp_avg_sq[slot] = ptr(max_exp_avg_sq[i]);
        t.step_size[slot] = step_size[i];
        t.bias_correction2_sqrt[slot] = bias_correction2_sqrt[i];
      },
      [&](const AdamStepTable& t) {
        cuda::adam_step(dt, t, p, s);
        FOVEA_CUDA_LAUNCHED(p.decoupled ? "adamw" : "adam");
      });
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
