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
  const bool batch_stats = is_training() || !running_mean.defined();
  if (sync_ && batch_stats) return forward_synchronised(x);
  return batch_norm(x, running_mean, running_var, weight, bias,
                    {.training = batch_stats, .momentum = o_.momentum, .eps = o_.eps});
}

// Two passes, as the fused op: the global mean, then the global mean of squared deviations
// (no E[x^2] - E[x]^2 cancellation). Each sum over the processes is differentiable, so backward
// sums the statistics' gradients over them as torch.nn.SyncBatchNorm does.
Tensor BatchNorm2d::forward_synchronised(const Tensor& x) {
  const std::int64_t c = x.size(1);
  const Shape per_channel{1, c, 1, 1};
  Tensor count = full({1}, static_cast<double>(x.numel() / c), {.dtype = DType::f64});
  const double n = sync_(count).item();  // images x pixels over every process
  if (n < 2 && is_training())
    fail("BatchNorm2d", "training needs more than one value per channel over all processes, got input {}",
         shape_str(x.shape()));
  Tensor mean = sync_(sum(x, {0, 2, 3})) / n;                     // (C)
  Tensor centred = x - mean.reshape(per_channel);                 // (N,C,H,W)
  Tensor var = sync_(sum(centred * centred, {0, 2, 3})) / n;      // (C), biased
  Tensor y = centred * rsqrt(var + o_.eps).reshape(per_channel);  // (N,C,H,W)
  if (weight.defined()) y = y * weight.reshape(per_channel);
  if (bias.defined()) y = y + bias.reshape(per_channel);
  if (is_training() && running_mean.defined()) {  // PyTorch's update: unbiased variance
    NoGradGuard ng;
    running_mean.mul_(1 - o_.momentum).add_(mean.detach() * o_.momentum);
    running_var.mul_(1 - o_.momentum).add_(var.detach() * (o_.momentum * n / (n - 1)));
  }
  return y;
}

std::string BatchNorm2d::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", o_.features, o_.eps, o_.momentum,
                     o_.affine ? "True" : "False", o_.track_running_stats ? "True" : "False");
}

LayerNorm::LayerNorm(Options o) : WithOptions("LayerNorm", o) {
  if (o.normalized_shape.empty()) fail("LayerNorm", "normalized_shape is empty");
  for (auto d : o.normalized_shape)
    if (d < 1) fail("LayerNorm", "normalized_shape {} has a size below 1", shape_str(o.normalized_shape));
  if (o.elementwise_affine) {
    weight = register_parameter("weight", ones(o.normalized_shape));
    bias = register_parameter("bias", zeros(o.normalized_shape));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  const auto k = static_cast<std::int64_t>(o_.normalized_shape.size());
  if (x.dim() < k || Shape(x.shape().end() - k, x.shape().end()) != o_.normalized_shape)
    fail("LayerNorm", "expected input (..., {}), got {}", fmt::join(o_.normalized_shape, ", "), shape_str(x.shape()));
  return layer_norm(x, k, weight, bias, o_.eps);
}

std::string LayerNorm::extra_repr() const {
  return fmt::format("({},), eps={}, elementwise_affine={}", fmt::join(o_.normalized_shape, ", "),
                     detail::py_float(o_.eps), o_.elementwise_affine ? "True" : "False");
}

InstanceNorm2d::InstanceNorm2d(Options o) : WithOptions("InstanceNorm2d", o) {
  if (o.features <= 0) fail("InstanceNorm2d", "features must be positive, got {}", o.features);
  if (o.affine) {
    weight = register_parameter("weight", ones({o.features}));
    bias = register_parameter("bias", zeros({o.features}));
  }
}

Tensor InstanceNorm2d::forward(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != o_.features)
    fail("InstanceNorm2d", "expected input (N,{},H,W), got {}", o_.features, shape_str(x.shape()));
  return instance_norm(x, weight, bias, o_.eps);
}

std::string InstanceNorm2d::extra_repr() const {
  return fmt::format("{}, eps={}, momentum=0.1, affine={}, track_running_stats=False", o_.features,
                     detail::py_float(o_.eps), o_.affine ? "True" : "False");
}

LocalResponseNorm::LocalResponseNorm(Options o) : WithOptions("LocalResponseNorm", o) {
  if (o.size < 1) fail("LocalResponseNorm", "size must be >= 1, got {}", o.size);
}

std::string LocalResponseNorm::extra_repr() const {
  return fmt::format("{}, alpha={}, beta={}, k={}", o_.size, detail::py_float(o_.alpha), detail::py_float(o_.beta),
                     detail::py_float(o_.k));
}

}  // namespace fovea::nn
