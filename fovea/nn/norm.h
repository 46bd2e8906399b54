#pragma once
// Normalisation layers, torch.nn.BatchNorm2d, LayerNorm, InstanceNorm2d and LocalResponseNorm
// (AlexNet):
//   auto bn = nn::make<nn::BatchNorm2d>({.features = 64});
//   auto ln = nn::make<nn::LayerNorm>({.normalized_shape = {768}});
//   auto in = nn::make<nn::InstanceNorm2d>({.features = 64, .affine = true});
//   auto lrn = nn::make<nn::LocalResponseNorm>({.size = 5, .alpha = 1e-4, .beta = 0.75, .k = 2.0});
#include <functional>

#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

struct BatchNorm2dOptions {
  std::int64_t features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
  bool scale = true;  // false (with affine): a learnt shift but no learnt scale, as Keras's scale=False
};

// Sums a tensor over every process that trains the model together, differentiably (backward
// sums the gradients the same way): what synchronised batch norm needs (dist::sync_batch_norm).
using SumOverProcesses = std::function<Tensor(const Tensor&)>;

// buffers: running_mean, running_var, num_batches_tracked (torchvision's keys)
class BatchNorm2d : public WithOptions<BatchNorm2dOptions> {
 public:
  explicit BatchNorm2d(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  // Synchronised batch norm (torch.nn.SyncBatchNorm): the batch statistics, and in backward
  // their gradients, are summed by `sum` over the processes, so that each normalises with the
  // mean and variance of the whole global batch. Empty: local statistics.
  void sync_statistics(SumOverProcesses sum) { sync_ = std::move(sum); }
  bool synchronised() const { return static_cast<bool>(sync_); }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  Tensor forward_synchronised(const Tensor& x);  // x: (N,C,H,W), batch statistics
  SumOverProcesses sync_;
};

struct LayerNormOptions {
  Shape normalized_shape;  // the last dims of the input, over which statistics are taken
  double eps = 1e-5;
  bool elementwise_affine = true;
};

// (..., *normalized_shape) -> same shape, see fovea::layer_norm; parameters weight (ones) and
// bias (zeros) of normalized_shape
class LayerNorm : public WithOptions<LayerNormOptions> {
 public:
  explicit LayerNorm(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;
};

struct InstanceNorm2dOptions {
  std::int64_t features = 0;
  double eps = 1e-5;
  bool affine = false;  // PyTorch's default
};

// (N,C,H,W) -> same shape, statistics per image and channel (no running statistics), see
// fovea::instance_norm; with affine, parameters weight (ones) and bias (zeros) of (C)
class InstanceNorm2d : public WithOptions<InstanceNorm2dOptions> {
 public:
  explicit InstanceNorm2d(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias;
};

// (N,C,...) -> same shape, see fovea::local_response_norm; no parameters
class LocalResponseNorm : public WithOptions<LrnOptions> {
 public:
  explicit LocalResponseNorm(Options o);
  Tensor forward(const Tensor& x) override { return local_response_norm(x, o_); }
  std::string extra_repr() const override;
};

}  // namespace fovea::nn
