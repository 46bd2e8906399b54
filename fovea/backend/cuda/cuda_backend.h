#pragma once
// CUDA backend (built with FOVEA_CUDA, docs/gpu.md): cuDNN for convolution, cuBLAS for matrix
// products, own kernels for the rest, every primitive of backend.h. cuda_backend() returns
// nullptr when no usable GPU is present, so the CPU build and machines without a GPU never need
// one. All work runs on one stream per device; results are ready when a host copy returns.
#include "fovea/backend/backend.h"
#include "fovea/backend/cuda/abi.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

class CudaBackend final : public Backend {
 public:
  std::shared_ptr<std::byte> allocate(std::size_t nbytes, Device d) override;
  void copy(const Tensor& src, const Tensor& dst) override;  // also host <-> device
  void fill(const Tensor& dst, double v) override;
  void unary(UnaryOp op, const Tensor& x, const Tensor& out) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce(ReduceOp op, const Tensor& x, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) override;
  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y,
                      const Conv2dParams& p) override;
  void conv2d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv2dParams& p) override;
  void conv2d_backward_weights(const Tensor& gy, const Tensor& x, const Tensor& gw, const Tensor* gb,
                               const Conv2dParams& p) override;
  Tensor pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dParams& p, bool training) override;
  void pool2d_backward(const Tensor& gy, const Tensor& x, const Tensor& y, const Tensor& workspace, const Tensor& gx,
                       const Pool2dParams& p) override;
  void resample2d_forward(const Tensor& x, const Tensor& y, const Resample2dParams& p) override;
  void resample2d_backward(const Tensor& gy, const Tensor& gx, const Resample2dParams& p) override;
  void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                          const Tensor& var, const Tensor& y, double eps, bool training) override;
  void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                           const Tensor& var, const Tensor& gx, const Tensor& gweight, const Tensor& gbias,
                           double eps) override;
  void activation_forward(Act a, const ActParams& p, const Tensor& x, const Tensor& y) override;
  void activation_backward(Act a, const ActParams& p, const Tensor& x, const Tensor& gy, const Tensor& gx) override;
  void softmax_forward(const Tensor& x, const Tensor& y, int axis, bool log) override;
  void softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, int axis, bool log) override;
  void gather_rows(const Tensor& x, const Tensor& index, const Tensor& out) override;
  void scatter_add_rows(const Tensor& src, const Tensor& index, const Tensor& out) override;
  void uniform(const Tensor& out, double lo, double hi, Generator& g) override;
  void normal(const Tensor& out, double mean, double std, Generator& g) override;
  void bernoulli(const Tensor& out, double p, Generator& g) override;
  void sgd_step(std::span<const Tensor> params, std::span<const Tensor> grads, std::span<const Tensor> momentum_buffers,
                std::span<const std::uint8_t> buffer_is_new, const SgdStepParams& p) override;
  void adam_step(std::span<const Tensor> params, std::span<const Tensor> grads, std::span<const Tensor> exp_avg,
                 std::span<const Tensor> exp_avg_sq, std::span<const Tensor> max_exp_avg_sq,
                 std::span<const double> step_size, std::span<const double> bias_correction2_sqrt,
                 const AdamStepParams& p) override;
  void synchronize(Device d) override;
  std::shared_ptr<std::byte> allocate_pinned(std::size_t nbytes) override;
  std::shared_ptr<void> capture_graph(Device d, const std::function<void()>& f) override;
  void replay_graph(const std::shared_ptr<void>& graph, Device d) override;
};

// The process's CUDA backend, or nullptr when the CUDA runtime finds no device (registry.cpp).
Backend* cuda_backend();

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
