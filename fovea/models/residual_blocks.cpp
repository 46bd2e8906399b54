#include "fovea/models/residual_blocks.h"

#include "fovea/nn/blocks.h"
#include "fovea/ops/ops.h"

namespace fovea::models {

std::shared_ptr<nn::Conv2d> conv_nobias(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                                        std::int64_t groups) {
  return nn::make<nn::Conv2d>({.in = in,
                               .out = out,
                               .kernel = kernel,
                               .stride = stride,
                               .padding = kernel / 2,
                               .groups = groups,
                               .bias = false});
}

std::shared_ptr<nn::BatchNorm2d> batch_norm(std::int64_t features) {
  return nn::make<nn::BatchNorm2d>({.features = features});
}

SqueezeExcitation::SqueezeExcitation(std::int64_t channels, std::int64_t reduction) : Module("SEModule") {
  fc1 = register_module("fc1", nn::make<nn::Conv2d>({.in = channels, .out = channels / reduction, .kernel = 1}));
  relu = register_module("relu", nn::make<nn::ReLU>());
  fc2 = register_module("fc2", nn::make<nn::Conv2d>({.in = channels / reduction, .out = channels, .kernel = 1}));
  sigmoid = register_module("sigmoid", nn::make<nn::Sigmoid>());
}

Tensor SqueezeExcitation::forward(const Tensor& x) {
  Tensor s = (*sigmoid)((*fc2)((*relu)((*fc1)(global_avg_pool2d(x)))));  // (N,C,1,1)
  return x * s;
}

ResidualBlock::ResidualBlock(Options o) : WithOptions(o.bottleneck ? "Bottleneck" : "BasicBlock", o) {
  if (o.in < 1 || o.planes < 1)
    fail("models", "a residual block needs positive channels, got in={} planes={}", o.in, o.planes);
  const std::int64_t out = out_channels();
  if (o.bottleneck) {
    const std::int64_t width = o.planes * o.base_width / 64 * o.groups;
    conv1 = register_module("conv1", conv_nobias(o.in, width, 1, o.stride_on_1x1 ? o.stride : 1));
    bn1 = register_module("bn1", batch_norm(width));
    conv2 = register_module("conv2", conv_nobias(width, width, 3, o.stride_on_1x1 ? 1 : o.stride, o.groups));
    bn2 = register_module("bn2", batch_norm(width));
    conv3 = register_module("conv3", conv_nobias(width, out, 1));
    bn3 = register_module("bn3", batch_norm(out));
  } else {
    conv1 = register_module("conv1", conv_nobias(o.in, out, 3, o.stride));
    bn1 = register_module("bn1", batch_norm(out));
    conv2 = register_module("conv2", conv_nobias(out, out, 3));
    bn2 = register_module("bn2", batch_norm(out));
  }
  relu = register_module("relu", nn::make<nn::ReLU>());
  if (o.se_reduction > 0)
    se_module = register_module("se_module", std::make_shared<SqueezeExcitation>(out, o.se_reduction));
  if (o.shortcut && (o.stride != 1 || o.in != out)) {
    downsample = register_module("downsample", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                                                   conv_nobias(o.in, out, 1, o.stride), batch_norm(out)}));
  }
}

Tensor ResidualBlock::forward(const Tensor& x) {
  // the shortcut first, so that hooks (analysis::summarize) see the body as the latest path
  Tensor identity = downsample ? (*downsample)(x) : x;
  Tensor y = (*relu)((*bn1)((*conv1)(x)));
  y = (*bn2)((*conv2)(y));
  if (conv3) y = (*bn3)((*conv3)((*relu)(y)));
  if (se_module) y = (*se_module)(y);
  return (*relu)(o_.shortcut ? y + identity : y);
}

DenseBlock::DenseBlock(std::int64_t layers, std::int64_t in, std::int64_t growth, std::int64_t bn_size)
    : Module("DenseBlock") {
  for (std::int64_t i = 0; i < layers; ++i) {
    const std::int64_t c = in + i * growth;
    auto layer = std::make_shared<nn::Sequential>();
    layer->add("norm1", batch_norm(c))
        .add("relu1", nn::make<nn::ReLU>())
        .add("conv1", conv_nobias(c, bn_size * growth, 1))
        .add("norm2", batch_norm(bn_size * growth))
        .add("relu2", nn::make<nn::ReLU>())
        .add("conv2", conv_nobias(bn_size * growth, growth, 3));
    register_module("denselayer" + std::to_string(i + 1), layer);
  }
}

Tensor DenseBlock::forward(const Tensor& x) {
  Tensor all = x;
  for (auto& [name, layer] : named_children()) all = cat({all, (*layer)(all)}, 1);
  return all;
}

Tensor channel_shuffle(const Tensor& x, std::int64_t groups) {
  const Shape& s = x.shape();
  if (s.size() != 4 || s[1] % groups != 0)
    fail("channel_shuffle", "expected (N,C,H,W) with C divisible by {}, got {}", groups, shape_str(s));
  return x.view({s[0], groups, s[1] / groups, s[2], s[3]}).transpose(1, 2).reshape(s);
}

ShuffleV2Unit::ShuffleV2Unit(std::int64_t in, std::int64_t out, std::int64_t stride) : Module("InvertedResidual") {
  const std::int64_t half = out / 2;
  if (stride == 1 && in != out)
    fail("models", "a stride-1 ShuffleNet v2 unit keeps its channels, got {} -> {}", in, out);
  // torchvision: depthwise 3x3 -> BN -> 1x1 -> BN -> ReLU on the whole input
  if (stride > 1) {
    branch1 = register_module("branch1", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                                             conv_nobias(in, in, 3, stride, in), batch_norm(in),
                                             conv_nobias(in, half, 1), batch_norm(half), nn::make<nn::ReLU>()}));
  }
  // 1x1 -> BN -> ReLU -> depthwise 3x3 -> BN -> 1x1 -> BN -> ReLU
  branch2 =
      register_module("branch2", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                                     conv_nobias(stride > 1 ? in : half, half, 1), batch_norm(half),
                                     nn::make<nn::ReLU>(), conv_nobias(half, half, 3, stride, half), batch_norm(half),
                                     conv_nobias(half, half, 1), batch_norm(half), nn::make<nn::ReLU>()}));
}

Tensor ShuffleV2Unit::forward(const Tensor& x) {
  Tensor y;
  if (branch1) {
    y = cat({(*branch1)(x), (*branch2)(x)}, 1);
  } else {
    const std::int64_t c = x.shape()[1] / 2;
    y = cat({x.slice(1, 0, c), (*branch2)(x.slice(1, c, 2 * c))}, 1);
  }
  return channel_shuffle(y, 2);
}

}  // namespace fovea::models

namespace fovea::models {

ShuffleV1Unit::ShuffleV1Unit(std::int64_t in, std::int64_t out, std::int64_t groups, std::int64_t stride,
                             bool group_first)
    : Module("ShuffleV1Unit"), groups_(groups) {
  const std::int64_t mid = out / 4;
  const std::int64_t branch = stride > 1 ? out - in : out;  // stride 2 concatenates the shortcut
  if (stride == 1 && in != out) fail("models", "a stride-1 ShuffleNet unit keeps its channels, got {} -> {}", in, out);
  conv1 = register_module("conv1", conv_nobias(in, mid, 1, 1, group_first ? groups : 1));
  bn1 = register_module("bn1", batch_norm(mid));
  conv2 = register_module("conv2", conv_nobias(mid, mid, 3, stride, mid));
  bn2 = register_module("bn2", batch_norm(mid));
  conv3 = register_module("conv3", conv_nobias(mid, branch, 1, 1, groups));
  bn3 = register_module("bn3", batch_norm(branch));
  relu = register_module("relu", nn::make<nn::ReLU>());
  if (stride > 1)
    shortcut = register_module("shortcut", nn::make<nn::AvgPool2d>({.kernel = 3, .stride = 2, .padding = 1}));
}

Tensor ShuffleV1Unit::forward(const Tensor& x) {
  Tensor y = channel_shuffle((*relu)((*bn1)((*conv1)(x))), groups_);
  y = (*bn3)((*conv3)((*bn2)((*conv2)(y))));
  return (*relu)(shortcut ? cat({(*shortcut)(x), y}, 1) : x + y);
}

XceptionBlock::XceptionBlock(Options o) : WithOptions("XceptionBlock", o) {
  std::int64_t in = o.in;
  for (std::size_t i = 0; i < o.convs.size(); ++i) {
    const std::string n = "sepconv" + std::to_string(i + 1);
    register_module(n,
                    nn::make<nn::DepthwiseSeparableConv2d>({.in = in, .out = o.convs[i], .padding = 1, .bias = false}));
    register_module(n + "_bn", batch_norm(o.convs[i]));
    if (i > 0 || o.relu_first) register_module(n + "_act", nn::make<nn::ReLU>());
    in = o.convs[i];
  }
  if (o.down) {
    // Keras pads 'same' (bottom/right only on even sizes); symmetric padding 1 gives the same shapes
    register_module("pool", nn::make<nn::MaxPool2d>({.kernel = 3, .stride = 2, .padding = 1}));
    register_module("residual", std::make_shared<nn::Sequential>(
                                    std::initializer_list<nn::ModulePtr>{conv_nobias(o.in, in, 1, 2), batch_norm(in)}));
  }
}

Tensor XceptionBlock::forward(const Tensor& x) {
  Tensor h = x;
  for (std::size_t i = 0; i < o_.convs.size(); ++i) {
    const std::string n = "sepconv" + std::to_string(i + 1);
    if (auto act = child(n + "_act")) h = (*act)(h);
    h = (*child(n + "_bn"))((*child(n))(h));
  }
  if (!o_.down) return h + x;
  return (*child("pool"))(h) + (*child("residual"))(x);
}

}  // namespace fovea::models
