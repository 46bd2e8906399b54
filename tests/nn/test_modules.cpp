#include <gtest/gtest.h>

#include <cstdio>

#include "fovea/nn/nn.h"
#include "fovea/testing/gradcheck.h"

using namespace fovea;

namespace {
std::shared_ptr<nn::Sequential> lenet() {
  return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Conv2d>({.in = 1, .out = 6, .kernel = 5, .padding = 2}), nn::make<nn::ReLU>(),
      nn::make<nn::MaxPool2d>({.kernel = 2}), nn::make<nn::Conv2d>({.in = 6, .out = 16, .kernel = 5}),
      nn::make<nn::ReLU>(), nn::make<nn::MaxPool2d>({.kernel = 2}), nn::make<nn::Flatten>(),
      nn::make<nn::Linear>({.in = 400, .out = 120}), nn::make<nn::ReLU>(), nn::make<nn::Linear>({.in = 120, .out = 84}),
      nn::make<nn::ReLU>(), nn::make<nn::Linear>({.in = 84, .out = 10})});
}
}  // namespace

TEST(Modules, LeNetShapesAndParameterCount) {
  auto net = lenet();
  EXPECT_EQ(net->num_parameters(), 61706);
  Tensor y = (*net)(randn({2, 1, 28, 28}));
  EXPECT_EQ(y.shape(), (Shape{2, 10}));
  auto names = net->named_parameters();
  EXPECT_EQ(names[0].first, "0.weight");
  EXPECT_EQ(names.back().first, "11.bias");
}

TEST(Modules, StateDictKeysAndBuffers) {
  auto seq = std::make_shared<nn::Sequential>();
  seq->add("conv1", nn::make<nn::Conv2d>({.in = 3, .out = 8, .kernel = 3, .bias = false}));
  seq->add("bn1", nn::make<nn::BatchNorm2d>({.features = 8}));
  auto sd = seq->state_dict();
  std::vector<std::string> keys;
  for (auto& [k, v] : sd) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                            "bn1.running_var", "bn1.num_batches_tracked"}));
  EXPECT_EQ(seq->num_parameters(), 8 * 3 * 9 + 16);
}

TEST(Modules, SharedParametersCountedOnce) {
  auto lin = nn::make<nn::Linear>({.in = 4, .out = 4});
  nn::Sequential s{lin, nn::make<nn::ReLU>(), lin};
  EXPECT_EQ(s.num_parameters(), 20);
  EXPECT_EQ(s.named_parameters().size(), 2u);
}

TEST(Modules, LoadStateDictStrictAndReport) {
  auto a = lenet(), b = lenet();
  b->load_state_dict(a->state_dict());
  Tensor x = randn({1, 1, 28, 28});
  EXPECT_EQ((*a)(x).to_vector<float>(), (*b)(x).to_vector<float>());
  auto sd = a->state_dict();
  sd.pop_back();
  sd.emplace_back("extra.weight", zeros({1}));
  sd[0].second = zeros({6, 1, 3, 3});
  try {
    b->load_state_dict(sd, true);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("11.bias"), std::string::npos);
    EXPECT_NE(m.find("extra.weight"), std::string::npos);
    EXPECT_NE(m.find("0.weight: expected (6,1,5,5), got (6,1,3,3)"), std::string::npos);
  }
  auto rep = b->load_state_dict(sd, false);
  EXPECT_EQ(rep.missing, std::vector<std::string>{"11.bias"});
  EXPECT_EQ(rep.unexpected, std::vector<std::string>{"extra.weight"});
  EXPECT_EQ(rep.mismatched.size(), 1u);
}

TEST(Modules, SaveLoadSafetensors) {
  auto a = lenet(), b = lenet();
  std::string path = ::testing::TempDir() + "/lenet.safetensors";
  nn::save(*a, path);
  nn::load(*b, path);
  Tensor x = randn({1, 1, 28, 28});
  EXPECT_EQ((*a)(x).to_vector<float>(), (*b)(x).to_vector<float>());
  std::remove(path.c_str());
}

TEST(Modules, TrainEvalAffectsBatchNormAndDropout) {
  auto bn = nn::make<nn::BatchNorm2d>({.features = 2});
  Tensor x = randn({4, 2, 3, 3}) * 3.0 + 1.0;
  (*bn)(x);
  EXPECT_NE(bn->running_mean.to_vector<float>()[0], 0.0f);
  EXPECT_EQ(bn->num_batches_tracked.item(), 1.0);
  bn->eval();
  auto rm = bn->running_mean.to_vector<float>();
  (*bn)(x);
  EXPECT_EQ(bn->running_mean.to_vector<float>(), rm);
  auto drop = nn::make<nn::Dropout>({.p = 0.5});
  Tensor ones_in = ones({1000});
  EXPECT_LT(sum((*drop)(ones_in)).item(), 1000 * 1.4);
  drop->eval();
  EXPECT_EQ(sum((*drop)(ones_in)).item(), 1000.0);
}

TEST(Modules, DefaultInitBounds) {
  auto conv = nn::make<nn::Conv2d>({.in = 16, .out = 8, .kernel = 3});
  double bound = 1.0 / std::sqrt(16.0 * 9);
  for (float v : conv->weight.to_vector<float>()) EXPECT_LE(std::abs(v), bound + 1e-6);
  for (float v : conv->bias.to_vector<float>()) EXPECT_LE(std::abs(v), bound + 1e-6);
}

TEST(Modules, Repr) {
  auto conv = nn::make<nn::Conv2d>({.in = 3, .out = 64, .kernel = 7, .stride = 2, .padding = 3, .bias = false});
  EXPECT_EQ(conv->repr(), "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)");
}

namespace {
struct MultiplyOptions {
  double factor = 2.0;
};
// docs/modules.md's custom layer with options
class Multiply : public nn::WithOptions<MultiplyOptions> {
 public:
  explicit Multiply(Options o = {}) : WithOptions("Multiply", o) {}
  Tensor forward(const Tensor& x) override { return x * o_.factor; }
};
}  // namespace

TEST(Modules, OptionsOfEveryConfiguredLayer) {
  EXPECT_EQ(nn::make<nn::Dropout>({.p = 0.25})->options().p, 0.25);
  EXPECT_EQ(nn::make<nn::LeakyReLU>({.negative_slope = 0.2})->options().negative_slope, 0.2);
  EXPECT_EQ(nn::make<nn::Flatten>()->options().start, 1);
  EXPECT_EQ(nn::make<nn::LogSoftmax>({.dim = 0})->options().dim, 0);
  EXPECT_EQ(nn::make<nn::ConvTranspose2d>({.in = 2, .out = 4, .kernel = 4, .stride = 2})->options().stride, Pair(2));
  auto s = nn::make<Multiply>({.factor = 0.5});
  EXPECT_EQ(s->options().factor, 0.5);
  EXPECT_EQ(s->type(), "Multiply");
  EXPECT_EQ((*s)(full({3}, 4.0)).to_vector<float>(), (std::vector<float>{2, 2, 2}));
}

TEST(Modules, GradcheckEveryModule) {
  const fovea::testing::GradcheckOptions f32{.eps = 1e-2, .atol = 3e-3, .rtol = 3e-2};
  std::vector<std::pair<nn::ModulePtr, Shape>> cases{
      {nn::make<nn::Conv2d>({.in = 2, .out = 3, .kernel = 3, .stride = 2, .padding = 1}), {2, 2, 5, 5}},
      {nn::make<nn::Linear>({.in = 4, .out = 3}), {2, 4}},
      {nn::make<nn::BatchNorm2d>({.features = 2}), {3, 2, 2, 2}},
      {nn::make<nn::MaxPool2d>({.kernel = 2}), {1, 2, 4, 4}},
      {nn::make<nn::AvgPool2d>({.kernel = 2}), {1, 2, 4, 4}},
      {nn::make<nn::ReLU>(), {6}},
      {nn::make<nn::LeakyReLU>(), {6}},
      {nn::make<nn::ELU>(), {6}},
      {nn::make<nn::Sigmoid>(), {6}},
      {nn::make<nn::Tanh>(), {6}},
      {nn::make<nn::GELU>(), {6}},
      {nn::make<nn::Hardswish>(), {6}},
      {nn::make<nn::Softmax>(), {2, 3}},
      {nn::make<nn::LogSoftmax>(), {2, 3}},
      {nn::make<nn::Flatten>(), {2, 3, 2}},
      {nn::make<nn::Identity>(), {3}}};
  for (auto& [m, shape] : cases) {
    Generator g(5);
    Tensor x = randn(shape, {}, g).requires_grad_();
    auto r = fovea::testing::gradcheck_module(*m, x, f32);
    EXPECT_TRUE(r.ok) << m->type() << ": " << r.message;
  }
}
