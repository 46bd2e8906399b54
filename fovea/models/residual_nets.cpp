#include "fovea/models/residual_nets.h"

#include "fovea/models/residual_blocks.h"
#include "fovea/nn/blocks.h"
#include "fovea/nn/init.h"
#include "fovea/nn/pool.h"

namespace fovea::models {

namespace {

// global average pool, flatten, linear `name`: (N,C,H,W) -> (N,classes)
void add_head(nn::Sequential& net, const std::string& name, std::int64_t features, std::int64_t classes) {
  net.add("avgpool", nn::make<nn::AdaptiveAvgPool2d>())
      .add("flatten", nn::make<nn::Flatten>())
      .add(name, nn::make<nn::Linear>({.in = features, .out = classes}));
}

// the stem's first conv: k x k stride 2, or 3x3 stride 1 for small inputs
std::shared_ptr<nn::Conv2d> stem_conv(std::int64_t in, std::int64_t out, std::int64_t kernel, const ModelOptions& o) {
  return o.small_input ? conv_nobias(in, out, 3) : conv_nobias(in, out, kernel, 2);
}

std::shared_ptr<nn::MaxPool2d> stem_pool() { return nn::make<nn::MaxPool2d>({.kernel = 3, .stride = 2, .padding = 1}); }

// torchvision's init for resnet and densenet: He normal (fan_out) for convs; BN 1 and 0 (the default)
void init_convs(nn::Module& net) {
  for (auto& [name, m] : net.named_modules())
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m))
      nn::init::kaiming_normal_(conv->weight, 0, nn::init::FanMode::fan_out, "relu");
}

}  // namespace

nn::ModulePtr resnet(const ResNetConfig& c, const ModelOptions& o) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", stem_conv(o.in_channels, 64, 7, o)).add("bn1", batch_norm(64)).add("relu", nn::make<nn::ReLU>());
  if (!o.small_input) net->add("maxpool", stem_pool());
  std::int64_t in = 64;
  for (std::size_t s = 0; s < 4; ++s) {
    // stage s: planes 64 * 2^s; the first block of stages 2-4 halves the size
    auto stage = std::make_shared<nn::Sequential>();
    for (std::int64_t b = 0; b < c.layers[s]; ++b) {
      auto block = std::make_shared<ResidualBlock>(ResidualBlockOptions{.in = in,
                                                                        .planes = std::int64_t{64} << s,
                                                                        .stride = (b == 0 && s > 0) ? 2 : 1,
                                                                        .bottleneck = c.bottleneck,
                                                                        .groups = c.groups,
                                                                        .base_width = c.width_per_group,
                                                                        .se_reduction = c.se_reduction,
                                                                        .shortcut = !o.plain,
                                                                        .stride_on_1x1 = c.stride_on_1x1});
      in = block->out_channels();
      stage->add(block);
    }
    net->add("layer" + std::to_string(s + 1), stage);
  }
  add_head(*net, "fc", in, o.num_classes);
  init_convs(*net);
  return net;
}

nn::ModulePtr densenet(const DenseNetConfig& c, const ModelOptions& o) {
  auto features = std::make_shared<nn::Sequential>();
  features->add("conv0", stem_conv(o.in_channels, c.init_features, 7, o))
      .add("norm0", batch_norm(c.init_features))
      .add("relu0", nn::make<nn::ReLU>());
  if (!o.small_input) features->add("pool0", stem_pool());
  std::int64_t ch = c.init_features;
  for (std::size_t b = 0; b < c.blocks.size(); ++b) {
    const std::string n = std::to_string(b + 1);
    features->add("denseblock" + n, std::make_shared<DenseBlock>(c.blocks[b], ch, c.growth, c.bn_size));
    ch += c.blocks[b] * c.growth;
    if (b + 1 == c.blocks.size()) break;
    // transition: BN, ReLU, 1x1 conv to half the channels, 2x2 average pool
    auto transition = std::make_shared<nn::Sequential>();
    transition->add("norm", batch_norm(ch))
        .add("relu", nn::make<nn::ReLU>())
        .add("conv", conv_nobias(ch, ch / 2, 1))
        .add("pool", nn::make<nn::AvgPool2d>({.kernel = 2}));
    features->add("transition" + n, transition);
    ch /= 2;
  }
  features->add("norm5", batch_norm(ch));
  auto net = std::make_shared<nn::Sequential>();
  net->add("features", features).add("relu", nn::make<nn::ReLU>());
  add_head(*net, "classifier", ch, o.num_classes);
  init_convs(*net);
  return net;
}

nn::ModulePtr shufflenet_v2(const std::array<std::int64_t, 3>& repeats, const std::array<std::int64_t, 5>& channels,
                            const ModelOptions& o) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                        stem_conv(o.in_channels, channels[0], 3, o), batch_norm(channels[0]), nn::make<nn::ReLU>()}));
  if (!o.small_input) net->add("maxpool", stem_pool());
  std::int64_t in = channels[0];
  for (std::size_t s = 0; s < 3; ++s) {
    auto stage = std::make_shared<nn::Sequential>();
    for (std::int64_t u = 0; u < repeats[s]; ++u) {
      stage->add(std::make_shared<ShuffleV2Unit>(in, channels[s + 1], u == 0 ? 2 : 1));
      in = channels[s + 1];
    }
    net->add("stage" + std::to_string(s + 2), stage);
  }
  net->add("conv5", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                        conv_nobias(in, channels[4], 1), batch_norm(channels[4]), nn::make<nn::ReLU>()}));
  add_head(*net, "fc", channels[4], o.num_classes);
  return net;
}

nn::ModulePtr shufflenet_v1(std::int64_t groups, const std::array<std::int64_t, 3>& channels, const ModelOptions& o) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                        stem_conv(o.in_channels, 24, 3, o), batch_norm(24), nn::make<nn::ReLU>()}));
  if (!o.small_input) net->add("maxpool", stem_pool());
  const std::array<std::int64_t, 3> repeats = {4, 8, 4};
  std::int64_t in = 24;
  for (std::size_t s = 0; s < 3; ++s) {
    auto stage = std::make_shared<nn::Sequential>();
    for (std::int64_t u = 0; u < repeats[s]; ++u) {
      stage->add(std::make_shared<ShuffleV1Unit>(in, channels[s], groups, u == 0 ? 2 : 1, s > 0 || u > 0));
      in = channels[s];
    }
    net->add("stage" + std::to_string(s + 2), stage);
  }
  add_head(*net, "fc", in, o.num_classes);
  return net;
}

nn::ModulePtr xception(const ModelOptions& o) {
  // block1: two 3x3 convs, 'valid' (299 -> 149 -> 147), or 'same' at stride 1 for small inputs
  const std::int64_t pad = o.small_input ? 1 : 0;
  auto block1 = std::make_shared<nn::Sequential>();
  block1
      ->add("conv1", nn::make<nn::Conv2d>({.in = o.in_channels,
                                           .out = 32,
                                           .kernel = 3,
                                           .stride = o.small_input ? 1 : 2,
                                           .padding = pad,
                                           .bias = false}))
      .add("conv1_bn", batch_norm(32))
      .add("conv1_act", nn::make<nn::ReLU>())
      .add("conv2", nn::make<nn::Conv2d>({.in = 32, .out = 64, .kernel = 3, .padding = pad, .bias = false}))
      .add("conv2_bn", batch_norm(64))
      .add("conv2_act", nn::make<nn::ReLU>());
  auto net = std::make_shared<nn::Sequential>();
  net->add("block1", block1);
  net->add("block2", std::make_shared<XceptionBlock>(
                         XceptionBlockOptions{.in = 64, .convs = {128, 128}, .relu_first = false, .down = true}));
  net->add("block3",
           std::make_shared<XceptionBlock>(XceptionBlockOptions{.in = 128, .convs = {256, 256}, .down = true}));
  net->add("block4",
           std::make_shared<XceptionBlock>(XceptionBlockOptions{.in = 256, .convs = {728, 728}, .down = true}));
  for (int b = 5; b <= 12; ++b)
    net->add("block" + std::to_string(b),
             std::make_shared<XceptionBlock>(XceptionBlockOptions{.in = 728, .convs = {728, 728, 728}}));
  net->add("block13",
           std::make_shared<XceptionBlock>(XceptionBlockOptions{.in = 728, .convs = {728, 1024}, .down = true}));
  auto block14 = std::make_shared<nn::Sequential>();
  block14
      ->add("sepconv1", nn::make<nn::DepthwiseSeparableConv2d>({.in = 1024, .out = 1536, .padding = 1, .bias = false}))
      .add("sepconv1_bn", batch_norm(1536))
      .add("sepconv1_act", nn::make<nn::ReLU>())
      .add("sepconv2", nn::make<nn::DepthwiseSeparableConv2d>({.in = 1536, .out = 2048, .padding = 1, .bias = false}))
      .add("sepconv2_bn", batch_norm(2048))
      .add("sepconv2_act", nn::make<nn::ReLU>());
  net->add("block14", block14);
  add_head(*net, "predictions", 2048, o.num_classes);
  return net;
}

}  // namespace fovea::models
