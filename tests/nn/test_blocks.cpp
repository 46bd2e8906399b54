// The modules of issue 4: ConvTranspose2d, Upsample, LocalResponseNorm, the adaptive pools and
// the blocks (DepthwiseSeparableConv2d, Residual, Concat): names, shapes, repr, gradients.
#include <gtest/gtest.h>

#include <cmath>

#include "fovea/nn/nn.h"
#include "fovea/testing/gradcheck.h"

using namespace fovea;

namespace {

const fovea::testing::GradcheckOptions kF32{.eps = 1e-2, .atol = 3e-3, .rtol = 3e-2};

std::vector<std::string> keys(const nn::Module& m) {
  std::vector<std::string> k;
  for (auto& [n, t] : m.state_dict()) k.push_back(n);
  return k;
}

void expect_gradcheck(nn::Module& m, const Shape& shape, fovea::testing::GradcheckOptions o = kF32) {
  Generator g(5);
  Tensor x = randn(shape, {}, g).requires_grad_();
  auto r = fovea::testing::gradcheck_module(m, x, o);
  EXPECT_TRUE(r.ok) << m.type() << ": " << r.message;
}

}  // namespace

TEST(Blocks, ConvTranspose2dLayoutInitAndRepr) {
  auto up = nn::make<nn::ConvTranspose2d>({.in = 8, .out = 4, .kernel = 4, .stride = 2, .padding = 1, .groups = 2});
  EXPECT_EQ(up->weight.shape(), (Shape{8, 2, 4, 4}));  // (in, out/groups, kH, kW), as PyTorch
  EXPECT_EQ(keys(*up), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(up->num_parameters(), 8 * 2 * 16 + 4);
  // PyTorch's fan_in for a transposed conv is dim 1 of the weight: out/groups * kH * kW
  const double bound = 1.0 / std::sqrt(2.0 * 16);
  for (float v : up->weight.to_vector<float>()) EXPECT_LE(std::abs(v), bound + 1e-6);
  for (float v : up->bias.to_vector<float>()) EXPECT_LE(std::abs(v), bound + 1e-6);
  EXPECT_EQ((*up)(randn({2, 8, 5, 6})).shape(), (Shape{2, 4, 10, 12}));
  EXPECT_EQ(up->repr(), "ConvTranspose2d(8, 4, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), groups=2)");
  auto op = nn::make<nn::ConvTranspose2d>(
      {.in = 3, .out = 3, .stride = 2, .output_padding = 1, .dilation = 2, .bias = false});
  EXPECT_EQ(op->repr(),
            "ConvTranspose2d(3, 3, kernel_size=(3, 3), stride=(2, 2), dilation=(2, 2), output_padding=(1, 1), "
            "bias=False)");
  EXPECT_THROW(nn::make<nn::ConvTranspose2d>({.in = 3, .out = 4, .groups = 2}), Error);
}

TEST(Blocks, ResamplingNormAndPoolingLayers) {
  auto up = nn::make<nn::Upsample>({.scale = 2, .mode = UpsampleMode::bilinear});
  EXPECT_EQ((*up)(randn({1, 2, 3, 4})).shape(), (Shape{1, 2, 6, 8}));
  EXPECT_EQ(up->repr(), "Upsample(scale_factor=2.0, mode='bilinear')");
  EXPECT_EQ(nn::make<nn::Upsample>({.size = {7, 5}})->repr(), "Upsample(size=(7, 5), mode='nearest')");
  EXPECT_EQ(nn::make<nn::Upsample>({.scale = {1.5, 2}, .mode = UpsampleMode::bilinear, .align_corners = true})->repr(),
            "Upsample(scale_factor=(1.5, 2.0), mode='bilinear', align_corners=True)");

  auto lrn = nn::make<nn::LocalResponseNorm>({.size = 5, .k = 2.0});
  EXPECT_EQ(lrn->repr(), "LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=2.0)");
  Tensor x = randn({2, 6, 3, 3});
  EXPECT_EQ((*lrn)(x).to_vector<float>(), local_response_norm(x, lrn->options()).to_vector<float>());
  EXPECT_THROW(nn::make<nn::LocalResponseNorm>({.size = 0}), Error);

  auto gap = nn::make<nn::AdaptiveAvgPool2d>();
  EXPECT_EQ((*gap)(randn({2, 6, 7, 5})).shape(), (Shape{2, 6, 1, 1}));
  EXPECT_EQ(gap->repr(), "AdaptiveAvgPool2d(output_size=(1, 1))");
  auto amp = nn::make<nn::AdaptiveMaxPool2d>({.out = {6, 6}});
  EXPECT_EQ((*amp)(randn({1, 3, 13, 13})).shape(), (Shape{1, 3, 6, 6}));
  EXPECT_EQ(amp->repr(), "AdaptiveMaxPool2d(output_size=(6, 6))");
  EXPECT_THROW(nn::make<nn::AdaptiveMaxPool2d>({.out = 0}), Error);
}

TEST(Blocks, GradcheckLayers) {
  expect_gradcheck(*nn::make<nn::ConvTranspose2d>({.in = 2, .out = 3, .stride = 2, .padding = 1, .output_padding = 1}),
                   {1, 2, 3, 3});
  expect_gradcheck(*nn::make<nn::Upsample>({.scale = 1.5, .mode = UpsampleMode::bilinear}), {1, 2, 3, 4});
  expect_gradcheck(*nn::make<nn::LocalResponseNorm>({.size = 3, .alpha = 0.5}), {1, 4, 2, 2});
  expect_gradcheck(*nn::make<nn::AdaptiveAvgPool2d>({.out = {2, 3}}), {1, 2, 5, 5});
  expect_gradcheck(*nn::make<nn::AdaptiveMaxPool2d>({.out = {2, 3}}), {1, 2, 5, 5});
}

TEST(Blocks, DepthwiseSeparableConv2d) {
  auto plain = nn::make<nn::DepthwiseSeparableConv2d>({.in = 4, .out = 8, .padding = 1});
  EXPECT_EQ(keys(*plain),
            (std::vector<std::string>{"depthwise.weight", "depthwise.bias", "pointwise.weight", "pointwise.bias"}));
  EXPECT_EQ(plain->depthwise->weight.shape(), (Shape{4, 1, 3, 3}));
  EXPECT_EQ(plain->num_parameters(), 4 * 9 + 4 + 4 * 8 + 8);  // against 4 * 8 * 9 + 8 for a full conv
  EXPECT_EQ((*plain)(randn({2, 4, 6, 6})).shape(), (Shape{2, 8, 6, 6}));

  // MobileNet v1: BN + ReLU between, no biases; channel multiplier 2
  auto mb = nn::make<nn::DepthwiseSeparableConv2d>(
      {.in = 3, .out = 5, .stride = 2, .padding = 1, .multiplier = 2, .bias = false, .norm = true});
  EXPECT_EQ(keys(*mb), (std::vector<std::string>{"depthwise.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                                 "bn.running_var", "bn.num_batches_tracked", "pointwise.weight"}));
  EXPECT_EQ(mb->pointwise->weight.shape(), (Shape{5, 6, 1, 1}));
  EXPECT_EQ((*mb)(randn({2, 3, 7, 7})).shape(), (Shape{2, 5, 4, 4}));
  expect_gradcheck(*plain, {1, 4, 4, 4});
  // (no f32 gradcheck through ReLU's kink: check that every parameter gets a gradient)
  sum((*mb)(randn({2, 3, 7, 7}))).backward();
  for (auto& [n, p] : mb->named_parameters()) EXPECT_TRUE(p.grad().defined()) << n;
}

TEST(Blocks, Residual) {
  auto body = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Conv2d>({.in = 4, .out = 4, .kernel = 3, .padding = 1}), nn::make<nn::Tanh>()});
  auto res = nn::make<nn::Residual>({.body = body});
  Tensor x = randn({2, 4, 5, 5});
  EXPECT_EQ((*res)(x).to_vector<float>(), ((*body)(x) + x).to_vector<float>());
  EXPECT_EQ(keys(*res), (std::vector<std::string>{"body.0.weight", "body.0.bias"}));

  // a projection shortcut and a post-activation, as a ResNet block
  auto down = nn::make<nn::Residual>(
      {.body = nn::make<nn::Conv2d>({.in = 4, .out = 8, .kernel = 3, .stride = 2, .padding = 1}),
       .shortcut = nn::make<nn::Conv2d>({.in = 4, .out = 8, .kernel = 1, .stride = 2, .bias = false}),
       .activation = nn::make<nn::ReLU>()});
  Tensor y = (*down)(x);
  EXPECT_EQ(y.shape(), (Shape{2, 8, 3, 3}));
  EXPECT_GE(min(y).item(), 0.0);
  EXPECT_EQ(keys(*down), (std::vector<std::string>{"body.weight", "body.bias", "shortcut.weight"}));
  expect_gradcheck(*res, {1, 4, 3, 3});
  // a smooth activation: f32 central differences across ReLU's kink are meaningless
  auto smooth = nn::make<nn::Residual>(
      {.body = nn::make<nn::Conv2d>({.in = 4, .out = 8, .kernel = 3, .stride = 2, .padding = 1}),
       .shortcut = nn::make<nn::Conv2d>({.in = 4, .out = 8, .kernel = 1, .stride = 2, .bias = false}),
       .activation = nn::make<nn::Tanh>()});
  expect_gradcheck(*smooth, {1, 4, 4, 4});

  // an identity shortcut cannot follow a change of shape; add() would broadcast silently
  auto bad = nn::make<nn::Residual>({.body = nn::make<nn::AdaptiveAvgPool2d>()});
  try {
    (*bad)(x);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[Residual] the body gives (2,4,1,1) but the identity shortcut gives (2,4,5,5)"),
              std::string::npos)
        << m;
  }
  EXPECT_THROW(nn::make<nn::Residual>({}), Error);
}

TEST(Blocks, ConcatInceptionStyle) {
  auto inc = nn::make<nn::Concat>({.branches = {nn::make<nn::Conv2d>({.in = 3, .out = 2, .kernel = 1}),
                                                nn::make<nn::Conv2d>({.in = 3, .out = 4, .padding = 1})}});
  inc->add("pool", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                       nn::make<nn::MaxPool2d>({.kernel = 3, .stride = 1, .padding = 1}),
                       nn::make<nn::Conv2d>({.in = 3, .out = 1, .kernel = 1})}));
  EXPECT_EQ(inc->size(), 3u);
  EXPECT_EQ(keys(*inc),
            (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "pool.1.weight", "pool.1.bias"}));
  Tensor x = randn({2, 3, 5, 5});
  Tensor y = (*inc)(x);
  EXPECT_EQ(y.shape(), (Shape{2, 7, 5, 5}));
  // the channels come in branch order
  EXPECT_EQ(y.slice(1, 2, 6).contiguous().to_vector<float>(), (*inc->child("1"))(x).to_vector<float>());
  expect_gradcheck(*inc, {1, 3, 4, 4});
  EXPECT_EQ(inc->repr().substr(0, 8), "Concat(\n");

  auto wide = nn::make<nn::Concat>({.dim = 3});
  wide->add(nn::make<nn::Identity>()).add(nn::make<nn::Identity>());
  EXPECT_EQ((*wide)(x).shape(), (Shape{2, 3, 5, 10}));
  EXPECT_THROW((*nn::make<nn::Concat>())(x), Error);
}

TEST(Blocks, ShapeInferenceOnMeta) {
  auto net = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::DepthwiseSeparableConv2d>({.in = 3, .out = 8, .padding = 1, .norm = true}),
      nn::make<nn::LocalResponseNorm>({.size = 3}),
      nn::make<nn::Residual>({.body = nn::make<nn::Conv2d>({.in = 8, .out = 8, .kernel = 3, .padding = 1})}),
      nn::make<nn::ConvTranspose2d>({.in = 8, .out = 4, .kernel = 4, .stride = 2, .padding = 1}),
      nn::make<nn::Upsample>({.scale = 2}), nn::make<nn::AdaptiveAvgPool2d>({.out = 5})});
  net->eval();
  net->to(kMeta);
  EXPECT_EQ((*net)(empty({2, 3, 16, 16}, {.device = kMeta})).shape(), (Shape{2, 4, 5, 5}));
}
