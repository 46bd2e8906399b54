// Parity of the five maps with a PyTorch reference (tests/explain/explain_reference.py, written
// with autograd and hooks): a small CNN (committed fixture) in three ReLU styles, and
// torchvision's resnet18 with fixed random weights (generated at test time).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "fovea/explain/explain.h"
#include "fovea/io/safetensors.h"
#include "fovea/models/registry.h"
#include "fovea/nn/nn.h"
#include "fovea/nn/serialize.h"
#include "tests/test_util.h"

using namespace fovea;
namespace fs = std::filesystem;

namespace {

enum class ReluStyle { modules, reused, functional };

// PyTorch's Small (explain_reference.py); the ReLUs as separate modules, one module used three
// times, or functional calls: every style must give the same maps.
class Small : public nn::Module {
 public:
  explicit Small(ReluStyle s) : Module("Small"), style_(s) {
    conv1 = register_module("conv1", nn::make<nn::Conv2d>({.in = 3, .out = 8, .kernel = 3, .padding = 1}));
    conv2 = register_module("conv2", nn::make<nn::Conv2d>({.in = 8, .out = 16, .kernel = 3, .padding = 1}));
    bn2 = register_module("bn2", nn::make<nn::BatchNorm2d>({.features = 16}));
    conv3 = register_module("conv3", nn::make<nn::Conv2d>({.in = 16, .out = 16, .kernel = 3, .padding = 1}));
    fc = register_module("fc", nn::make<nn::Linear>({.in = 16, .out = 5}));
    for (int i = 0; i < (s == ReluStyle::modules ? 3 : s == ReluStyle::reused ? 1 : 0); ++i)
      relus.push_back(register_module(fmt::format("relu{}", i + 1), nn::make<nn::ReLU>()));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = max_pool2d(act(0, (*conv1)(x)), {.kernel = 2});
    h = act(1, (*bn2)((*conv2)(h)));
    h = act(2, (*conv3)(h));
    return (*fc)(mean(h, {2, 3}));
  }

 private:
  Tensor act(int i, const Tensor& x) {
    if (style_ == ReluStyle::functional) return relu(x);
    return (*relus[style_ == ReluStyle::modules ? i : 0])(x);
  }
  ReluStyle style_;
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn2;
  std::shared_ptr<nn::Linear> fc;
  std::vector<std::shared_ptr<nn::ReLU>> relus;
};

// |a - b| <= tol * max |b| elementwise: maps are compared on their own scale (gradients of a
// random network are small numbers).
void expect_map(const Tensor& a, const Tensor& b, const std::string& what, double tol = 1e-4) {
  const double scale = std::max(1e-12, max(abs(b)).item());
  test::expect_close(a / scale, b / scale, tol, what);
}

void check_all(nn::Module& model, const io::SafetensorsFile& io, const std::string& layer, const std::string& what) {
  explain::ExplainOptions o;
  o.layer = layer;
  const auto e = explain::explain(model, io.at("input"), io.at("target"), o);
  for (auto m : explain::default_methods()) {
    const std::string name = explain::method_name(m);
    expect_map(e.maps.at(m), io.at(name), what + " " + name);
  }
}

class ExplainParitySmall : public ::testing::TestWithParam<ReluStyle> {};

TEST_P(ExplainParitySmall, FiveMapsEqualPyTorch) {
  const fs::path dir = fs::path(FOVEA_SOURCE_DIR) / "tests/explain/fixtures/small";
  Small model(GetParam());
  nn::load(model, (dir / "weights.safetensors").string());
  check_all(model, io::load_safetensors((dir / "io.safetensors").string()), "conv3", "small CNN");
  // the model behaves normally afterwards: the standard gradient again, and training mode back
  EXPECT_TRUE(model.is_training());
  EXPECT_EQ(relu_grad_rule(), ReluGradRule::standard);
  for (auto& p : model.parameters()) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, ExplainParitySmall,
                         ::testing::Values(ReluStyle::modules, ReluStyle::reused, ReluStyle::functional),
                         [](const auto& info) {
                           return std::string(info.param == ReluStyle::modules  ? "SeparateModules"
                                              : info.param == ReluStyle::reused ? "ReusedModule"
                                                                                : "Functional");
                         });

TEST(ExplainParity, Resnet18EqualsPyTorch) {
  if (!test::have_python_module("torchvision"))
    GTEST_SKIP() << "Debian's python3-torchvision is not installed: resnet18 map parity NOT checked";
  const fs::path dir = test::unique_temp_dir("explain_resnet18");
  const std::string cmd =
      fmt::format("/usr/bin/python3 {}/tests/explain/explain_reference.py resnet18 {}", FOVEA_SOURCE_DIR, dir.string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto model = models::create("resnet18", {.num_classes = 1000, .in_channels = 3});
  nn::load(*model, (dir / "weights.safetensors").string());
  const auto io = io::load_safetensors((dir / "io.safetensors").string());
  check_all(*model, io, "layer4", "resnet18");
  // the default Grad-CAM layer of a ResNet is its last stage, not the global pool
  EXPECT_EQ(explain::default_cam_layer(*model, io.at("input")), "layer4");
  fs::remove_all(dir);
}

}  // namespace
