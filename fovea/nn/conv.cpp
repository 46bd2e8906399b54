#include "fovea/nn/conv.h"

#include "fovea/nn/init.h"
#include "fovea/nn/repr.h"

namespace fovea::nn {

using detail::pair_str;

Conv2d::Conv2d(Options o) : WithOptions("Conv2d", o) {
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
  return conv2d(x, weight, bias,
                {.stride = o_.stride, .padding = o_.padding, .dilation = o_.dilation, .groups = o_.groups});
}

std::string Conv2d::extra_repr() const {
  std::string r =
      fmt::format("{}, {}, kernel_size={}, stride={}", o_.in, o_.out, pair_str(o_.kernel), pair_str(o_.stride));
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

ConvTranspose2d::ConvTranspose2d(Options o) : WithOptions("ConvTranspose2d", o) {
  const char* op = "ConvTranspose2d";
  if (o.in <= 0 || o.out <= 0) fail(op, "in and out channels must be positive, got in={} out={}", o.in, o.out);
  if (o.groups < 1 || o.in % o.groups || o.out % o.groups)
    fail(op, "in ({}) and out ({}) channels must divide by groups ({})", o.in, o.out, o.groups);
  if (o.kernel.h < 1 || o.kernel.w < 1) fail(op, "kernel must be >= 1, got {}x{}", o.kernel.h, o.kernel.w);
  weight = register_parameter("weight", empty({o.in, o.out / o.groups, o.kernel.h, o.kernel.w}));
  if (o.bias) bias = register_parameter("bias", empty({o.out}));
  reset_parameters();
}

// fan_in is dim 1 of the weight, out/groups * kH * kW, as in PyTorch's _ConvNd
void ConvTranspose2d::reset_parameters() { init::default_layer_init_(weight, bias); }

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias,
                          {.stride = o_.stride,
                           .padding = o_.padding,
                           .output_padding = o_.output_padding,
                           .dilation = o_.dilation,
                           .groups = o_.groups});
}

// PyTorch's order: padding, dilation, output_padding, groups, bias, each only when not the default
std::string ConvTranspose2d::extra_repr() const {
  std::string r =
      fmt::format("{}, {}, kernel_size={}, stride={}", o_.in, o_.out, pair_str(o_.kernel), pair_str(o_.stride));
  if (o_.padding != Pair(0)) r += ", padding=" + pair_str(o_.padding);
  if (o_.dilation != Pair(1)) r += ", dilation=" + pair_str(o_.dilation);
  if (o_.output_padding != Pair(0)) r += ", output_padding=" + pair_str(o_.output_padding);
  if (o_.groups != 1) r += fmt::format(", groups={}", o_.groups);
  if (!o_.bias) r += ", bias=False";
  return r;
}

}  // namespace fovea::nn
