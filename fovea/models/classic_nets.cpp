// GoogLeNet, SqueezeNet 1.1 and MobileNetV2 with torchvision 0.14's module names, and the
// helpers the classic families share (classic_nets.h).
#include "fovea/models/classic_nets.h"

#include <cmath>

#include "fovea/nn/blocks.h"
#include "fovea/nn/init.h"
#include "fovea/nn/pool.h"

namespace fovea::models {

using nn::make;

std::shared_ptr<nn::Sequential> seq(std::initializer_list<nn::ModulePtr> ms) {
  return std::make_shared<nn::Sequential>(ms);
}

nn::ModulePtr max_pool_or_skip(bool skip, Pool2dOptions p) {
  if (skip) return make<nn::Identity>();
  return make<nn::MaxPool2d>(p);
}

void init_fan_out(nn::Module& net, double linear_std) {
  for_each<nn::Conv2d>(net, [](nn::Conv2d& c) {
    nn::init::kaiming_normal_(c.weight, 0, nn::init::FanMode::fan_out, "relu");
    if (c.bias.defined()) nn::init::constant_(c.bias, 0);
  });
  for_each<nn::BatchNorm2d>(net, [](nn::BatchNorm2d& b) {
    nn::init::constant_(b.weight, 1);
    nn::init::constant_(b.bias, 0);
  });
  for_each<nn::Linear>(net, [linear_std](nn::Linear& l) {
    nn::init::normal_(l.weight, 0, linear_std);
    nn::init::constant_(l.bias, 0);
  });
}

BasicConv2d::BasicConv2d(nn::Conv2dOptions o) : Module("BasicConv2d") {
  o.bias = false;
  conv = register_module("conv", make<nn::Conv2d>(o));
  bn = register_module("bn", make<nn::BatchNorm2d>({.features = o.out, .eps = 1e-3}));
  relu = register_module("relu", make<nn::ReLU>());
}

Tensor BasicConv2d::forward(const Tensor& x) { return (*relu)((*bn)((*conv)(x))); }

Fire::Fire(std::int64_t in, std::int64_t s, std::int64_t e1, std::int64_t e3) : Module("Fire") {
  squeeze = register_module("squeeze", make<nn::Conv2d>({.in = in, .out = s, .kernel = 1}));
  squeeze_activation = register_module("squeeze_activation", make<nn::ReLU>());
  expand1x1 = register_module("expand1x1", make<nn::Conv2d>({.in = s, .out = e1, .kernel = 1}));
  expand1x1_activation = register_module("expand1x1_activation", make<nn::ReLU>());
  expand3x3 = register_module("expand3x3", make<nn::Conv2d>({.in = s, .out = e3, .kernel = 3, .padding = 1}));
  expand3x3_activation = register_module("expand3x3_activation", make<nn::ReLU>());
}

Tensor Fire::forward(const Tensor& x) {
  Tensor s = (*squeeze_activation)((*squeeze)(x));
  return cat({(*expand1x1_activation)((*expand1x1)(s)), (*expand3x3_activation)((*expand3x3)(s))}, 1);
}

namespace {

// conv (no bias, "same" padding) + BatchNorm2d + ReLU6: torchvision's Conv2dNormActivation
std::shared_ptr<nn::Sequential> conv_bn_relu6(std::int64_t in, std::int64_t out, std::int64_t kernel,
                                              std::int64_t stride = 1, std::int64_t groups = 1) {
  return seq({make<nn::Conv2d>({.in = in,
                                .out = out,
                                .kernel = kernel,
                                .stride = stride,
                                .padding = (kernel - 1) / 2,
                                .groups = groups,
                                .bias = false}),
              make<nn::BatchNorm2d>({.features = out}), std::make_shared<ReLU6>()});
}

// torchvision's _make_divisible (from the TF reference): round to a multiple of 8, at most 10% down
std::int64_t make_divisible(double v, std::int64_t divisor = 8) {
  std::int64_t r = std::max(divisor, static_cast<std::int64_t>(v + divisor / 2.0) / divisor * divisor);
  return r < 0.9 * v ? r + divisor : r;
}

std::shared_ptr<BasicConv2d> basic(nn::Conv2dOptions o) { return std::make_shared<BasicConv2d>(o); }

struct InceptionSpec {
  const char* name;
  std::int64_t in, c1, c3_reduce, c3, c5_reduce, c5, pool_proj;
};

// four branches concatenated along C: 1x1 | 1x1, 3x3 | 1x1, 3x3 (5x5 in the paper) | pool, 1x1
nn::ModulePtr inception(const InceptionSpec& s, bool five) {
  auto block = make<nn::Concat>();
  block->add("branch1", basic({.in = s.in, .out = s.c1, .kernel = 1}))
      .add("branch2", seq({basic({.in = s.in, .out = s.c3_reduce, .kernel = 1}),
                           basic({.in = s.c3_reduce, .out = s.c3, .kernel = 3, .padding = 1})}))
      .add("branch3", seq({basic({.in = s.in, .out = s.c5_reduce, .kernel = 1}),
                           basic({.in = s.c5_reduce, .out = s.c5, .kernel = five ? 5 : 3, .padding = five ? 2 : 1})}))
      .add("branch4", seq({make<nn::MaxPool2d>({.kernel = 3, .stride = 1, .padding = 1, .ceil_mode = true}),
                           basic({.in = s.in, .out = s.pool_proj, .kernel = 1})}));
  return block;
}

// (N,in,H,W) -> avgpool 4x4 -> 1x1 conv 128 -> fc 1024 -> dropout 0.7 -> fc classes
nn::ModulePtr inception_aux(std::int64_t in, std::int64_t classes) {
  auto aux = std::make_shared<nn::Sequential>();
  aux->add("pool", make<nn::AdaptiveAvgPool2d>({.out = 4}))
      .add("conv", basic({.in = in, .out = 128, .kernel = 1}))
      .add("flatten", make<nn::Flatten>())
      .add("fc1", make<nn::Linear>({.in = 2048, .out = 1024}))
      .add("relu", make<nn::ReLU>())
      .add("dropout", make<nn::Dropout>({.p = 0.7}))
      .add("fc2", make<nn::Linear>({.in = 1024, .out = classes}));
  return aux;
}

}  // namespace

InvertedResidual::InvertedResidual(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expand)
    : Module("InvertedResidual"), residual_(stride == 1 && in == out) {
  const std::int64_t hidden = in * expand;
  conv = register_module("conv", std::make_shared<nn::Sequential>());
  if (expand != 1) conv->add(conv_bn_relu6(in, hidden, 1));
  conv->add(conv_bn_relu6(hidden, hidden, 3, stride, hidden))
      .add(make<nn::Conv2d>({.in = hidden, .out = out, .kernel = 1, .bias = false}))
      .add(make<nn::BatchNorm2d>({.features = out}));
}

Tensor InvertedResidual::forward(const Tensor& x) { return residual_ ? x + (*conv)(x) : (*conv)(x); }

GoogLeNet::GoogLeNet(const ModelOptions& o) : Module("GoogLeNet") {
  auto stage = [this](const std::string& name, nn::ModulePtr m) { stages_.push_back(register_module(name, m)); };
  const Pool2dOptions pool{.kernel = 3, .stride = 2, .ceil_mode = true};
  // 224 -> conv1 112 -> pool 56 -> conv2, conv3 56 -> pool 28 -> 3a, 3b -> pool 14 -> 4a..4e
  // -> pool 7 -> 5a, 5b -> global average
  stage("conv1", o.small_input ? basic({.in = o.in_channels, .out = 64, .kernel = 3, .padding = 1})
                               : basic({.in = o.in_channels, .out = 64, .kernel = 7, .stride = 2, .padding = 3}));
  stage("maxpool1", max_pool_or_skip(o.small_input, pool));
  stage("conv2", basic({.in = 64, .out = 64, .kernel = 1}));
  stage("conv3", basic({.in = 64, .out = 192, .kernel = 3, .padding = 1}));
  stage("maxpool2", make<nn::MaxPool2d>(pool));
  const InceptionSpec specs[] = {
      {"inception3a", 192, 64, 96, 128, 16, 32, 32},     {"inception3b", 256, 128, 128, 192, 32, 96, 64},
      {"inception4a", 480, 192, 96, 208, 16, 48, 64},    {"inception4b", 512, 160, 112, 224, 24, 64, 64},
      {"inception4c", 512, 128, 128, 256, 24, 64, 64},   {"inception4d", 512, 112, 144, 288, 32, 64, 64},
      {"inception4e", 528, 256, 160, 320, 32, 128, 128}, {"inception5a", 832, 256, 160, 320, 32, 128, 128},
      {"inception5b", 832, 384, 192, 384, 48, 128, 128}};
  for (const auto& s : specs) {
    const std::string name = s.name;
    stage(name, inception(s, o.inception_5x5));
    if (name == "inception3b") stage("maxpool3", make<nn::MaxPool2d>(pool));
    if (name == "inception4e") stage("maxpool4", make<nn::MaxPool2d>({.kernel = 2, .stride = 2, .ceil_mode = true}));
    if (name == "inception4a") aux1_at_ = stages_.size() - 1;
    if (name == "inception4d") aux2_at_ = stages_.size() - 1;
  }
  if (o.aux_logits) {
    aux1_ = register_module("aux1", inception_aux(512, o.num_classes));
    aux2_ = register_module("aux2", inception_aux(528, o.num_classes));
  }
  avgpool_ = register_module("avgpool", make<nn::AdaptiveAvgPool2d>());
  dropout_ = register_module("dropout", make<nn::Dropout>({.p = 0.2}));
  fc_ = register_module("fc", make<nn::Linear>({.in = 1024, .out = o.num_classes}));
  // torchvision: trunc_normal(std 0.01, bounds +-2), i.e. normal(0, 0.01) in practice
  for_each<nn::Conv2d>(*this, [](nn::Conv2d& c) { nn::init::normal_(c.weight, 0, 0.01); });
  for_each<nn::Linear>(*this, [](nn::Linear& l) { nn::init::normal_(l.weight, 0, 0.01); });
}

std::vector<nn::Module::AuxOutput> GoogLeNet::auxiliary_outputs() const {
  std::vector<AuxOutput> out;
  for (const Tensor& a : last_aux_) out.push_back({.logits = a, .weight = 0.3});
  return out;
}

Tensor GoogLeNet::forward(const Tensor& x) {
  last_aux_.clear();
  const bool aux = aux1_ && is_training();
  Tensor y = x;
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    y = (*stages_[i])(y);
    if (aux && i == aux1_at_) last_aux_.push_back((*aux1_)(y));
    if (aux && i == aux2_at_) last_aux_.push_back((*aux2_)(y));
  }
  return (*fc_)((*dropout_)((*avgpool_)(y).flatten(1, -1)));
}

bool GoogLeNet::adopt_child(const std::string& name, const nn::ModulePtr& m) {
  using Slot = std::pair<const char*, nn::ModulePtr*>;
  for (const auto& [n, slot] : {Slot{"aux1", &aux1_}, Slot{"aux2", &aux2_}, Slot{"avgpool", &avgpool_},
                                Slot{"dropout", &dropout_}, Slot{"fc", &fc_}})
    if (name == n) {
      *slot = m;
      return true;
    }
  // a stage: the children other than the five above, in order
  stages_.clear();
  for (auto& [n, c] : named_children())
    if (n != "aux1" && n != "aux2" && n != "avgpool" && n != "dropout" && n != "fc") stages_.push_back(c);
  return true;
}

nn::ModulePtr googlenet(const ModelOptions& o) { return std::make_shared<GoogLeNet>(o); }

nn::ModulePtr squeezenet1_1(const ModelOptions& o) {
  // 224 -> conv 111 -> pool 55 -> fire x2 -> pool 27 -> fire x2 -> pool 13 -> fire x4 -> 1x1 conv
  const Pool2dOptions pool{.kernel = 3, .stride = 2, .ceil_mode = true};
  auto fire = [](std::int64_t in, std::int64_t s, std::int64_t e) { return std::make_shared<Fire>(in, s, e, e); };
  auto features = seq({o.small_input ? make<nn::Conv2d>({.in = o.in_channels, .out = 64, .kernel = 3, .padding = 1})
                                     : make<nn::Conv2d>({.in = o.in_channels, .out = 64, .kernel = 3, .stride = 2}),
                       make<nn::ReLU>(), max_pool_or_skip(o.small_input, pool), fire(64, 16, 64), fire(128, 16, 64),
                       make<nn::MaxPool2d>(pool), fire(128, 32, 128), fire(256, 32, 128), make<nn::MaxPool2d>(pool),
                       fire(256, 48, 192), fire(384, 48, 192), fire(384, 64, 256), fire(512, 64, 256)});
  auto final_conv = make<nn::Conv2d>({.in = 512, .out = o.num_classes, .kernel = 1});
  auto net = std::make_shared<nn::Sequential>();
  net->add("features", features)
      .add("classifier", seq({make<nn::Dropout>(), final_conv, make<nn::ReLU>(), make<nn::AdaptiveAvgPool2d>()}))
      .add("flatten", make<nn::Flatten>());
  for_each<nn::Conv2d>(*net, [&](nn::Conv2d& c) {
    if (&c == final_conv.get()) nn::init::normal_(c.weight, 0, 0.01);
    else nn::init::kaiming_uniform_(c.weight);
    nn::init::constant_(c.bias, 0);
  });
  return net;
}

nn::ModulePtr mobilenet_v2(const ModelOptions& o) {
  // 224 -> stem 112 -> blocks down to 7 (strides below) -> 1x1 conv 1280 -> global average
  struct Stage {
    std::int64_t expand, channels, repeats, stride;
  };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::int64_t in = make_divisible(32);
  const std::int64_t last = make_divisible(1280);
  auto features = seq({conv_bn_relu6(o.in_channels, in, 3, o.small_input ? 1 : 2)});
  for (const auto& s : stages) {
    const std::int64_t out = make_divisible(static_cast<double>(s.channels));
    for (std::int64_t i = 0; i < s.repeats; ++i) {
      const bool keep = o.small_input && s.channels == 24;  // small_input: 8x down-sampling in all
      features->add(std::make_shared<InvertedResidual>(in, out, i == 0 && !keep ? s.stride : 1, s.expand));
      in = out;
    }
  }
  features->add(conv_bn_relu6(in, last, 1));
  auto net = std::make_shared<nn::Sequential>();
  net->add("features", features)
      .add("avgpool", make<nn::AdaptiveAvgPool2d>())
      .add("flatten", make<nn::Flatten>())
      .add("classifier", seq({make<nn::Dropout>({.p = 0.2}), make<nn::Linear>({.in = last, .out = o.num_classes})}));
  init_fan_out(*net);
  return net;
}

}  // namespace fovea::models
