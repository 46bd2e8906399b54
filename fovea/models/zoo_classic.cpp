// The zoo's alexnet, zfnet, vgg, googlenet, squeezenet, mobilenet families; this file builds
// alexnet, alexnet_2012, zfnet and vgg, classic_nets.cpp the others.
#include <fmt/format.h>

#include "fovea/models/classic_nets.h"
#include "fovea/nn/norm.h"
#include "fovea/nn/pool.h"

namespace fovea::models {

namespace {

using nn::make;

// The first conv: the paper's, or 3x3 stride 1 with small_input (28x28 / 32x32 images).
std::shared_ptr<nn::Conv2d> stem_conv(const ModelOptions& o, std::int64_t out, nn::Conv2dOptions paper) {
  if (o.small_input) return make<nn::Conv2d>({.in = o.in_channels, .out = out, .kernel = 3, .padding = 1});
  paper.in = o.in_channels;
  paper.out = out;
  return make<nn::Conv2d>(paper);
}

nn::ModulePtr lrn() { return make<nn::LocalResponseNorm>({.size = 5, .alpha = 1e-4, .beta = 0.75, .k = 2.0}); }

// (N,256,H,W) -> avgpool 6x6 -> dropout, 4096, dropout, 4096, classes (torchvision's AlexNet
// head: classifier.1/4/6), shared by alexnet, alexnet_2012 and zfnet.
nn::ModulePtr alexnet_head(std::shared_ptr<nn::Sequential> features, std::int64_t classes) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("features", features)
      .add("avgpool", make<nn::AdaptiveAvgPool2d>({.out = 6}))
      .add("flatten", make<nn::Flatten>())
      .add("classifier", seq({make<nn::Dropout>(), make<nn::Linear>({.in = 256 * 6 * 6, .out = 4096}), make<nn::ReLU>(),
                              make<nn::Dropout>(), make<nn::Linear>({.in = 4096, .out = 4096}), make<nn::ReLU>(),
                              make<nn::Linear>({.in = 4096, .out = classes})}));
  return net;
}

const Pool2dOptions kOverlap{.kernel = 3, .stride = 2};  // AlexNet's overlapping max-pool

// vgg configurations (torchvision's cfgs A, B, D, E): channels, 0 = 2x2 max-pool
std::vector<int> vgg_config(int depth) {
  switch (depth) {
    case 11: return {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
    case 13: return {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
    case 16: return {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
    case 19: return {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};
    default: fail("models", "vgg depth must be 11, 13, 16 or 19, got {}", depth);
  }
}

}  // namespace

nn::ModulePtr alexnet(const ModelOptions& o) {
  // 224 -> conv 55 -> pool 27 -> conv 27 -> pool 13 -> convs 13 -> pool 6
  return alexnet_head(
      seq({stem_conv(o, 64, {.kernel = 11, .stride = 4, .padding = 2}), make<nn::ReLU>(),
           max_pool_or_skip(o.small_input, kOverlap),
           make<nn::Conv2d>({.in = 64, .out = 192, .kernel = 5, .padding = 2}), make<nn::ReLU>(),
           make<nn::MaxPool2d>(kOverlap), make<nn::Conv2d>({.in = 192, .out = 384, .padding = 1}), make<nn::ReLU>(),
           make<nn::Conv2d>({.in = 384, .out = 256, .padding = 1}), make<nn::ReLU>(),
           make<nn::Conv2d>({.in = 256, .out = 256, .padding = 1}), make<nn::ReLU>(), make<nn::MaxPool2d>(kOverlap)}),
      o.num_classes);
}

nn::ModulePtr alexnet_2012(const ModelOptions& o) {
  // 227 -> conv 55 -> pool 27 -> conv 27 -> pool 13 -> convs 13 -> pool 6; the two GPUs'
  // halves are groups = 2 (conv3 reads both halves, so it is not grouped)
  return alexnet_head(
      seq({stem_conv(o, 96, {.kernel = 11, .stride = 4}), make<nn::ReLU>(), lrn(),
           max_pool_or_skip(o.small_input, kOverlap),
           make<nn::Conv2d>({.in = 96, .out = 256, .kernel = 5, .padding = 2, .groups = 2}), make<nn::ReLU>(), lrn(),
           make<nn::MaxPool2d>(kOverlap), make<nn::Conv2d>({.in = 256, .out = 384, .padding = 1}), make<nn::ReLU>(),
           make<nn::Conv2d>({.in = 384, .out = 384, .padding = 1, .groups = 2}), make<nn::ReLU>(),
           make<nn::Conv2d>({.in = 384, .out = 256, .padding = 1, .groups = 2}), make<nn::ReLU>(),
           make<nn::MaxPool2d>(kOverlap)}),
      o.num_classes);
}

nn::ModulePtr zfnet(const ModelOptions& o) {
  // 224 -> conv 110 -> pool 55 -> conv 26 -> pool 13 -> convs 13 -> pool 6 (table 1; the
  // ceil-mode pools give the paper's 55 and 13). Contrast normalisation: AlexNet's LRN.
  const Pool2dOptions pool{.kernel = 3, .stride = 2, .ceil_mode = true};
  return alexnet_head(
      seq({stem_conv(o, 96, {.kernel = 7, .stride = 2, .padding = 1}), make<nn::ReLU>(),
           max_pool_or_skip(o.small_input, pool), lrn(),
           make<nn::Conv2d>({.in = 96, .out = 256, .kernel = 5, .stride = 2}), make<nn::ReLU>(),
           make<nn::MaxPool2d>(pool), lrn(), make<nn::Conv2d>({.in = 256, .out = 384, .padding = 1}), make<nn::ReLU>(),
           make<nn::Conv2d>({.in = 384, .out = 384, .padding = 1}), make<nn::ReLU>(),
           make<nn::Conv2d>({.in = 384, .out = 256, .padding = 1}), make<nn::ReLU>(), make<nn::MaxPool2d>(pool)}),
      o.num_classes);
}

nn::ModulePtr vgg(int depth, bool batch_norm, const ModelOptions& o) {
  // 3x3 convs (padding 1) and five 2x2 pools: 224 -> 7
  const std::vector<int> cfg = vgg_config(depth);
  auto features = std::make_shared<nn::Sequential>();
  std::int64_t in = o.in_channels;
  for (std::size_t i = 0; i < cfg.size(); ++i) {
    if (cfg[i] == 0) {
      features->add(max_pool_or_skip(o.small_input && i + 1 == cfg.size(), {.kernel = 2}));
      continue;
    }
    features->add(make<nn::Conv2d>({.in = in, .out = cfg[i], .padding = 1}));
    if (batch_norm) features->add(make<nn::BatchNorm2d>({.features = cfg[i]}));
    features->add(make<nn::ReLU>());
    in = cfg[i];
  }
  auto net = std::make_shared<nn::Sequential>();
  net->add("features", features)
      .add("avgpool", make<nn::AdaptiveAvgPool2d>({.out = 7}))
      .add("flatten", make<nn::Flatten>())
      .add("classifier", seq({make<nn::Linear>({.in = 512 * 7 * 7, .out = 4096}), make<nn::ReLU>(), make<nn::Dropout>(),
                              make<nn::Linear>({.in = 4096, .out = 4096}), make<nn::ReLU>(), make<nn::Dropout>(),
                              make<nn::Linear>({.in = 4096, .out = o.num_classes})}));
  init_fan_out(*net);
  return net;
}

// Parameter counts in the descriptions are at 3 input channels and 1000 classes.
std::vector<ZooEntry> zoo_classic() {
  const Shape in224{3, 224, 224};
  std::vector<ZooEntry> z = {
      {{"alexnet", "AlexNet as torchvision builds it (one GPU, 64-192-384-256-256), 61,100,840 parameters",
        "Krizhevsky 2014, One weird trick for parallelizing CNNs, https://arxiv.org/abs/1404.5997", in224},
       alexnet},
      {{"alexnet_2012",
        "AlexNet as the paper built it: LRN, overlapping pooling, conv2/4/5 in two groups, 60,965,224 parameters",
        "Krizhevsky, Sutskever, Hinton 2012, ImageNet classification with deep CNNs (NeurIPS)",
        {3, 227, 227}},
       alexnet_2012},
      {{"zfnet", "ZFNet: 7x7 stride-2 first layer, 5x5 stride-2 second, 62,357,608 parameters",
        "Zeiler and Fergus 2013, Visualizing and understanding convolutional networks, https://arxiv.org/abs/1311.2901",
        in224},
       zfnet},
  };
  // depth, parameters without and with batch norm
  const std::pair<int, std::array<const char*, 2>> vggs[] = {{11, {"132,863,336", "132,868,840"}},
                                                             {13, {"133,047,848", "133,053,736"}},
                                                             {16, {"138,357,544", "138,365,992"}},
                                                             {19, {"143,667,240", "143,678,248"}}};
  for (bool bn : {false, true})
    for (auto& [depth, params] : vggs) {
      const std::string name = "vgg" + std::to_string(depth) + (bn ? "_bn" : "");
      z.push_back(
          {{name,
            fmt::format("VGG, {} weight layers{}, {} parameters", depth, bn ? " with batch norm" : "", params[bn]),
            "Simonyan and Zisserman 2014, Very deep convolutional networks, https://arxiv.org/abs/1409.1556", in224},
           [d = depth, bn](const ModelOptions& o) { return vgg(d, bn, o); }});
    }
  z.push_back({{"googlenet",
                "GoogLeNet (Inception v1) as torchvision builds it, 13,004,888 parameters with the two auxiliary "
                "classifiers, 6,624,904 without",
                "Szegedy et al. 2014, Going deeper with convolutions, https://arxiv.org/abs/1409.4842", in224},
               googlenet});
  z.push_back({{"squeezenet1_1", "SqueezeNet 1.1 (Fire modules), 1,235,496 parameters",
                "Iandola et al. 2016, SqueezeNet, https://arxiv.org/abs/1602.07360", in224},
               squeezenet1_1});
  z.push_back({{"mobilenet_v2", "MobileNetV2: inverted residuals with linear bottlenecks, 3,504,872 parameters",
                "Sandler et al. 2018, MobileNetV2, https://arxiv.org/abs/1801.04381", in224},
               mobilenet_v2});
  return z;
}

}  // namespace fovea::models
