// Inception-ResNet-v2 (Szegedy, Ioffe, Vanhoucke and Alemi 2016, https://arxiv.org/abs/1602.07261),
// laid out as Keras's keras.applications.InceptionResNetV2 (299x299 input): convolutions
// without bias followed by batch norm without a learnt scale (eps 1e-3); residual branches
// scaled by 0.17 / 0.1 / 0.2 before the addition.
#include "fovea/models/registry.h"
#include "fovea/nn/nn.h"

namespace fovea::models {

namespace {

struct ConvBNOptions {
  std::int64_t in = 0, out = 0;
  Pair kernel = 1;
  Pair stride = 1;
  bool same = true;  // Keras 'same' (all such convolutions here have stride 1 and odd kernels)
  bool relu = true;
};

// Keras's conv2d_bn: conv (no bias), batch norm with a shift only, ReLU
class ConvBN : public nn::Module {
 public:
  using Options = ConvBNOptions;
  explicit ConvBN(Options o) : Module("ConvBN"), relu_(o.relu) {
    const Padding pad = o.same ? Padding((o.kernel.h - 1) / 2, (o.kernel.w - 1) / 2) : Padding(0);
    conv = register_module(
        "conv", nn::make<nn::Conv2d>(
                    {.in = o.in, .out = o.out, .kernel = o.kernel, .stride = o.stride, .padding = pad, .bias = false}));
    bn = register_module("bn", nn::make<nn::BatchNorm2d>({.features = o.out, .eps = 1e-3, .scale = false}));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = (*bn)((*conv)(x));
    return relu_ ? relu(y) : y;
  }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;

 private:
  bool relu_;
};

nn::ModulePtr conv_bn(std::int64_t in, std::int64_t out, Pair k, Pair s = 1, bool same = true) {
  return nn::make<ConvBN>({.in = in, .out = out, .kernel = k, .stride = s, .same = same});
}

// A chain of conv_bn layers: {out, kernel} each, from `in` channels.
nn::ModulePtr chain(std::int64_t in, std::initializer_list<std::pair<std::int64_t, Pair>> layers) {
  auto s = std::make_shared<nn::Sequential>();
  for (auto& [out, k] : layers) {
    s->add(conv_bn(in, out, k));
    in = out;
  }
  return s;
}

enum class BlockType { block35, block17, block8 };

// x + scale * up(concat(branches(x))), then ReLU (the last block8 has none)
class InceptionResNetBlock : public nn::Module {
 public:
  InceptionResNetBlock(BlockType t, std::int64_t c, double scale, bool activation)
      : Module("InceptionResNetBlock"), scale_(scale), activation_(activation) {
    auto br = nn::make<nn::Concat>();
    std::int64_t mixed = 0;
    if (t == BlockType::block35) {
      br->add(chain(c, {{32, 1}}));
      br->add(chain(c, {{32, 1}, {32, 3}}));
      br->add(chain(c, {{32, 1}, {48, 3}, {64, 3}}));
      mixed = 32 + 32 + 64;
    } else if (t == BlockType::block17) {
      br->add(chain(c, {{192, 1}}));
      br->add(chain(c, {{128, 1}, {160, Pair(1, 7)}, {192, Pair(7, 1)}}));
      mixed = 192 + 192;
    } else {
      br->add(chain(c, {{192, 1}}));
      br->add(chain(c, {{192, 1}, {224, Pair(1, 3)}, {256, Pair(3, 1)}}));
      mixed = 192 + 256;
    }
    branches = register_module("branches", br);
    up = register_module("up", nn::make<nn::Conv2d>({.in = mixed, .out = c, .kernel = 1}));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = x + (*up)((*branches)(x)) * scale_;
    return activation_ ? relu(y) : y;
  }
  std::shared_ptr<nn::Concat> branches;
  std::shared_ptr<nn::Conv2d> up;

 private:
  double scale_;
  bool activation_;
};

nn::ModulePtr max_pool_3x3_s2() { return nn::make<nn::MaxPool2d>({.kernel = 3, .stride = 2}); }

}  // namespace

// Stem 299 -> 35x35x192, mixed_5b (320), 10 x block35, mixed_6a (1088, 17x17), 20 x block17,
// mixed_7a (2080, 8x8), 10 x block8, conv_7b (1536), global average pooling, classifier.
// small_input: the stem's strided convolution and both max-pools become stride 1 / identity.
nn::ModulePtr inception_resnet_v2(const ModelOptions& o) {
  const Pair first_stride = o.small_input ? 1 : 2;
  auto pool = [&] { return o.small_input ? nn::ModulePtr(nn::make<nn::Identity>()) : max_pool_3x3_s2(); };
  auto stem = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      conv_bn(o.in_channels, 32, 3, first_stride, o.small_input), conv_bn(32, 32, 3, 1, o.small_input),
      conv_bn(32, 64, 3), pool(), conv_bn(64, 80, 1, 1, false), conv_bn(80, 192, 3, 1, o.small_input), pool()});
  auto mixed_5b = nn::make<nn::Concat>();
  mixed_5b->add(chain(192, {{96, 1}}));
  mixed_5b->add(chain(192, {{48, 1}, {64, 5}}));
  mixed_5b->add(chain(192, {{64, 1}, {96, 3}, {96, 3}}));
  mixed_5b->add(std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::AvgPool2d>({.kernel = 3, .stride = 1, .padding = 1, .count_include_pad = false}),
      conv_bn(192, 64, 1)}));
  auto mixed_6a = nn::make<nn::Concat>();
  mixed_6a->add(conv_bn(320, 384, 3, 2, false));
  mixed_6a->add(std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      conv_bn(320, 256, 1), conv_bn(256, 256, 3), conv_bn(256, 384, 3, 2, false)}));
  mixed_6a->add(max_pool_3x3_s2());
  auto mixed_7a = nn::make<nn::Concat>();
  mixed_7a->add(std::make_shared<nn::Sequential>(
      std::initializer_list<nn::ModulePtr>{conv_bn(1088, 256, 1), conv_bn(256, 384, 3, 2, false)}));
  mixed_7a->add(std::make_shared<nn::Sequential>(
      std::initializer_list<nn::ModulePtr>{conv_bn(1088, 256, 1), conv_bn(256, 288, 3, 2, false)}));
  mixed_7a->add(std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      conv_bn(1088, 256, 1), conv_bn(256, 288, 3), conv_bn(288, 320, 3, 2, false)}));
  mixed_7a->add(max_pool_3x3_s2());

  auto net = std::make_shared<nn::Sequential>();
  net->add("stem", stem);
  net->add("mixed_5b", mixed_5b);
  auto repeat = [&](const char* name, BlockType t, std::int64_t c, int n, double scale, bool last_activation) {
    auto s = std::make_shared<nn::Sequential>();
    for (int i = 0; i < n; ++i)
      s->add(std::make_shared<InceptionResNetBlock>(t, c, scale, i + 1 < n || last_activation));
    net->add(name, s);
  };
  repeat("block35", BlockType::block35, 320, 10, 0.17, true);
  net->add("mixed_6a", mixed_6a);
  repeat("block17", BlockType::block17, 1088, 20, 0.1, true);
  net->add("mixed_7a", mixed_7a);
  repeat("block8", BlockType::block8, 2080, 10, 0.2, false);
  net->add("conv_7b", conv_bn(2080, 1536, 1));
  net->add("avgpool", nn::make<nn::AdaptiveAvgPool2d>({.out = 1}));
  net->add("flatten", nn::make<nn::Flatten>());
  net->add("fc", nn::make<nn::Linear>({.in = 1536, .out = o.num_classes}));
  return net;
}

}  // namespace fovea::models
