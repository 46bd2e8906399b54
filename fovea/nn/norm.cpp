#include "fovea/nn/norm.h"

#include "fovea/autograd/grad_mode.h"
#include "fovea/nn/repr.h"

namespace fovea::nn {

BatchNorm2d::BatchNorm2d(Options o) : WithOptions("BatchNorm2d", o) {
  if (o.features <= 0) fail("BatchNorm2d", "features must be positive, got {}", o.features);
  if (o.affine) {
    if (o.scale) weight = register_parameter("weight", ones({o.features}));
    bias = register_parameter("bias", zeros({o.features}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({o.features}));
    running_var = register_buffer("running_var", ones({o.features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::i64}));
  }
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (x.dim() != 4) fail("BatchNorm2d", "expected 4-D input (N,C,H,W), got {}", shape_str(x.shape()));
  if (x.size(1) != o_.features)
    fail("BatchNorm2d", "expected {} channels, got input {}", o_.features, shape_str(x.shape()));
  if (is_training() && num_batches_tracked.defined()) {
    NoGradGuard ng;
    num_batches_tracked.add_(ones({}, {.dtype = DType::i64, .device = num_batches_tracked.device()}));
  }
  return batch_norm(x, running_mean, running_var, weight, bias,
                    {.training = is_training() || !running_mean.defined(), .momentum = o_.momentum, .eps = o_.eps});
}

std::string BatchNorm2d::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", o_.features, o_.eps, o_.momentum,
                     o_.affine ? "True" : "False", o_.track_running_stats ? "True" : "False");
}

LocalResponseNorm::LocalResponseNorm(Options o) : WithOptions("LocalResponseNorm", o) {
  if (o.size < 1) fail("LocalResponseNorm", "size must be >= 1, got {}", o.size);
}

std::string LocalResponseNorm::extra_repr() const {
  return fmt::format("{}, alpha={}, beta={}, k={}", o_.size, detail::py_float(o_.alpha), detail::py_float(o_.beta),
                     detail::py_float(o_.k));
}

}  // namespace fovea::nn
