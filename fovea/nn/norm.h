#pragma once
// Normalisation layers, torch.nn.BatchNorm2d and LocalResponseNorm (AlexNet):
//   auto bn = nn::make<nn::BatchNorm2d>({.features = 64});
//   auto lrn = nn::make<nn::LocalResponseNorm>({.size = 5, .alpha = 1e-4, .beta = 0.75, .k = 2.0});
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

// buffers: running_mean, running_var, num_batches_tracked (torchvision's keys)
class BatchNorm2d : public WithOptions<BatchNorm2dOptions> {
 public:
  explicit BatchNorm2d(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

// (N,C,...) -> same shape, see fovea::local_response_norm; no parameters
class LocalResponseNorm : public WithOptions<LrnOptions> {
 public:
  explicit LocalResponseNorm(Options o);
  Tensor forward(const Tensor& x) override { return local_response_norm(x, o_); }
  std::string extra_repr() const override;
};

}  // namespace fovea::nn
