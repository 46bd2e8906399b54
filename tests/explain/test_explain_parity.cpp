// Parity of the maps with a PyTorch reference (tests/explain/explain_reference.py, written with
// autograd and hooks from each paper's formula): the five maps, Grad-CAM++, Score-CAM, LayerCAM
// (one layer and fused), integrated gradients (two baselines, with the completeness figures),
// Grad-CAM on a second layer and the faithfulness measures, on a small CNN (committed fixture)
// in three ReLU styles, and on torchvision's resnet18 with fixed random weights (generated at
// test time).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "fovea/explain/explain.h"
#include "fovea/explain/faithfulness.h"
#include "fovea/io/safetensors.h"
#include "fovea/models/registry.h"
#include "fovea/nn/nn.h"
#include "fovea/nn/serialize.h"
#include "tests/test_util.h"

using namespace fovea;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

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

// The newer methods on input2 / target2, in batches of one image (so the batching is covered).
void check_newer(nn::Module& model, const io::SafetensorsFile& io, const std::string& what) {
  using explain::Method;
  const Tensor x = io.at("input2"), t = io.at("target2");
  explain::ExplainOptions o;
  o.layer = io.metadata.at("cam");
  o.ig_steps = std::stoll(io.metadata.at("ig_steps"));
  o.batch = 1;
  o.methods = {Method::gradcam_pp, Method::scorecam, Method::layercam, Method::integrated_gradients};
  const auto e = explain::explain(model, x, t, o);
  EXPECT_EQ(e.layer, o.layer);
  for (auto m : o.methods)
    expect_map(e.maps.at(m), io.at(explain::method_name(m)), what + " " + explain::method_name(m));
  test::expect_close(e.ig_sum, io.at("ig-sum"), 1e-4 * std::max(1.0, max(abs(io.at("ig-sum"))).item()),
                     what + " ig sum");
  test::expect_close(e.ig_score_gap, io.at("ig-gap"), 1e-4 * std::max(1.0, max(abs(io.at("ig-gap"))).item()),
                     what + " ig gap");
  std::cout << "[ parity ] " << what << ": integrated gradients' completeness error "
            << explain::completeness_error(e, 0) << ", " << explain::completeness_error(e, 1) << " with " << o.ig_steps
            << " steps\n";

  explain::ExplainOptions fused = o;
  fused.layercam_layers = split(io.metadata.at("fused"));
  expect_map(explain::layer_cam(model, x, t, fused), io.at("layercam-fused"), what + " layercam fused");
  expect_map(explain::grad_cam(model, x, t, io.metadata.at("second")), io.at("gradcam-second"),
             what + " gradcam on " + io.metadata.at("second"));
  explain::ExplainOptions blur = o;
  blur.ig_baseline = explain::Baseline::blur;
  expect_map(explain::integrated_gradients(model, x, t, blur), io.at("integrated-gradients-blur"),
             what + " integrated gradients, blurred baseline");

  const auto f = explain::faithfulness(model, x, t, io.at("gradcam++"),
                                       {.steps = std::stoll(io.metadata.at("faithfulness_steps")), .forward_batch = 5});
  expect_map(f.deletion, io.at("deletion"), what + " deletion curve");
  expect_map(f.insertion, io.at("insertion"), what + " insertion curve");
  expect_map(f.probability, io.at("probability"), what + " probability");
  expect_map(f.masked, io.at("masked"), what + " masked probability");
}

class ExplainParitySmall : public ::testing::TestWithParam<ReluStyle> {};

TEST_P(ExplainParitySmall, FiveMapsEqualPyTorch) {
  const fs::path dir = fs::path(FOVEA_SOURCE_DIR) / "tests/explain/fixtures/small";
  Small model(GetParam());
  nn::load(model, (dir / "weights.safetensors").string());
  const auto io = io::load_safetensors((dir / "io.safetensors").string());
  check_all(model, io, "conv3", "small CNN");
  check_newer(model, io, "small CNN");
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
  check_newer(*model, io, "resnet18");
  // the default Grad-CAM layer of a ResNet is its last stage, not the global pool
  EXPECT_EQ(explain::default_cam_layer(*model, io.at("input")), "layer4");
  fs::remove_all(dir);
}

}  // namespace
