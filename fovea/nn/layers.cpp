#include "fovea/nn/layers.h"

#include <cmath>

#include "fovea/autograd/grad_mode.h"
#include "fovea/nn/init.h"
#include "fovea/nn/repr.h"

namespace fovea::nn {

using detail::pair_str;

Conv2d::Conv2d(Options o) : Module("Conv2d"), o_(o) {
  if (o.in <= 0 || o.out <= 0) fail("Conv2d", "in and out channels must be positive, got in={} out={}", o.in, o.out);
  if (o.groups < 1 || o.in % o.groups || o.out % o.groups)
    fail("Conv2d", "in ({}) and out ({}) channels must divide by groups ({})", o.in, o.out, o.groups);
  if (o.kernel.h < 1 || o.kernel.w < 1) fail("Conv2d", "kernel must be >= 1");
  weight = register_parameter("weight", empty({o.out, o.in / o.groups, o.kernel.h, o.kernel.w}));
  if (o.bias) bias = register_parameter("bias", empty({o.out}));
  reset_parameters();
}

void Conv2d::reset_parameters() { init::default_layer_init_(weight, bias); }

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, {.stride = o_.stride, .padding = o_.padding, .dilation = o_.dilation, .groups = o_.groups});
}

std::string Conv2d::extra_repr() const {
  std::string r = fmt::format("{}, {}, kernel_size={}, stride={}", o_.in, o_.out, pair_str(o_.kernel), pair_str(o_.stride));
  const auto& p = o_.padding;
  switch (p.mode) {
    case PadMode::valid: r += ", padding=valid"; break;
    case PadMode::same: r += ", padding=same"; break;
    case PadMode::full: r += ", padding=full"; break;
    case PadMode::explicit_:
      if (p.top == p.bottom && p.left == p.right) {
        if (p.top || p.left) r += ", padding=" + pair_str({p.top, p.left});
      } else {
        r += fmt::format(", padding=({}, {}, {}, {})", p.top, p.bottom, p.left, p.right);
      }
  }
  if (o_.dilation != Pair(1)) r += ", dilation=" + pair_str(o_.dilation);
  if (o_.groups != 1) r += fmt::format(", groups={}", o_.groups);
  if (!o_.bias) r += ", bias=False";
  return r;
}

Linear::Linear(Options o) : Module("Linear"), o_(o) {
  if (o.in <= 0 || o.out <= 0) fail("Linear", "in and out features must be positive, got in={} out={}", o.in, o.out);
  weight = register_parameter("weight", empty({o.out, o.in}));
  if (o.bias) bias = register_parameter("bias", empty({o.out}));
  reset_parameters();
}

void Linear::reset_parameters() { init::default_layer_init_(weight, bias); }
Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }
std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", o_.in, o_.out, o_.bias ? "True" : "False");
}

BatchNorm2d::BatchNorm2d(Options o) : Module("BatchNorm2d"), o_(o) {
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

std::string LeakyReLU::extra_repr() const { return fmt::format("negative_slope={}", o_.negative_slope); }
std::string ELU::extra_repr() const { return fmt::format("alpha={}", o_.alpha); }
std::string Softmax::extra_repr() const { return fmt::format("dim={}", o_.dim); }
std::string LogSoftmax::extra_repr() const { return fmt::format("dim={}", o_.dim); }

static std::string pool_repr(const Pool2dOptions& o, bool avg) {
  Pair s = (o.stride.h == 0 && o.stride.w == 0) ? o.kernel : o.stride;
  std::string r = fmt::format("kernel_size={}, stride={}, padding={}, ceil_mode={}", pair_str(o.kernel), pair_str(s),
                              pair_str(o.padding), o.ceil_mode ? "True" : "False");
  if (avg) r += fmt::format(", count_include_pad={}", o.count_include_pad ? "True" : "False");
  return r;
}
std::string MaxPool2d::extra_repr() const { return pool_repr(o_, false); }
std::string AvgPool2d::extra_repr() const { return pool_repr(o_, true); }

Dropout::Dropout(Options o) : Module("Dropout"), o_(o) {
  if (o.p < 0 || o.p > 1) fail("Dropout", "p must be in [0, 1], got {}", o.p);
}
std::string Dropout::extra_repr() const { return fmt::format("p={}", o_.p); }
std::string Flatten::extra_repr() const { return fmt::format("start_dim={}, end_dim={}", o_.start, o_.end); }

Sequential::Sequential(std::initializer_list<ModulePtr> ms) : Module("Sequential") {
  for (auto& m : ms) add(m);
}

Sequential& Sequential::add(ModulePtr m) { return add(std::to_string(size()), std::move(m)); }

Sequential& Sequential::add(const std::string& name, ModulePtr m) {
  add_child(name, std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& [n, c] : named_children()) h = (*c)(h);
  return h;
}

}  // namespace fovea::nn
