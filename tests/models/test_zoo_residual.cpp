// The residual and densely connected zoo against torchvision 0.14: parameter counts, state-dict
// keys in order (tests/models/keys/*.txt, written by dump_keys_residual.py), output shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"

using namespace fovea;

namespace {

const models::ModelOptions kImageNet{.num_classes = 1000, .in_channels = 3};
const models::ModelOptions kFashion{.num_classes = 10, .in_channels = 1, .small_input = true};

std::vector<std::string> fixture_keys(const std::string& name) {
  std::ifstream f(std::string(FOVEA_SOURCE_DIR) + "/tests/models/keys/" + name + ".txt");
  std::vector<std::string> keys;
  for (std::string line; std::getline(f, line);) keys.push_back(line);
  return keys;
}

std::vector<std::string> keys_of(const nn::Module& m) {
  std::vector<std::string> keys;
  for (auto& [k, t] : m.state_dict()) keys.push_back(k);
  return keys;
}

nn::ModulePtr on_meta(const std::string& name, const models::ModelOptions& o) {
  DefaultDeviceGuard meta(kMeta);
  return models::create(name, o);
}

}  // namespace

TEST(ZooResidual, ParameterCountsEqualTorchvision) {
  const std::vector<std::pair<std::string, std::int64_t>> counts = {
      {"resnet18", 11689512},        {"resnet34", 21797672},    {"resnet50", 25557032},
      {"resnet101", 44549160},       {"resnet152", 60192808},   {"resnext50_32x4d", 25028904},
      {"wide_resnet50_2", 68883240}, {"densenet121", 7978856},  {"densenet161", 28681000},
      {"densenet169", 14149480},     {"densenet201", 20013928}, {"shufflenet_v2_x1_0", 2278604},
      {"se_resnet50", 28088024},   // Cadene's pretrained-models se_resnet50 (the paper: ~28.1 M)
      {"shufflenet_v1", 1865728},  // 3 groups, the paper's table 1
      {"xception", 22855952}};     // Keras's trainable count
  for (auto& [name, n] : counts) EXPECT_EQ(on_meta(name, kImageNet)->num_parameters(), n) << name;
}

// Keras counts the batch-norm moving statistics too: 22,910,480
TEST(ZooResidual, XceptionCountAsKeras) {
  auto net = on_meta("xception", kImageNet);
  std::int64_t stats = 0;
  for (auto& [k, t] : net->named_buffers())
    if (k.ends_with("running_mean") || k.ends_with("running_var")) stats += t.numel();
  EXPECT_EQ(net->num_parameters() + stats, 22910480);
}

TEST(ZooResidual, StateDictKeysEqualTorchvision) {
  for (const char* name :
       {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
        "densenet121", "densenet161", "densenet169", "densenet201", "shufflenet_v2_x1_0"}) {
    auto expected = fixture_keys(name);
    ASSERT_FALSE(expected.empty()) << "missing fixture for " << name;
    EXPECT_EQ(keys_of(*on_meta(name, kImageNet)), expected) << name;
  }
}

TEST(ZooResidual, OutputShapeAtUsualInputOnMeta) {
  for (auto& e : models::zoo_residual()) {
    const Shape& in = e.info.input;
    EXPECT_EQ(in, (e.info.name == "xception" || e.info.name == "inception_resnet_v2" ? Shape{3, 299, 299}
                                                                                     : Shape{3, 224, 224}))
        << e.info.name;
    auto net = on_meta(e.info.name, kImageNet);
    net->eval();
    EXPECT_EQ((*net)(empty({1, in[0], in[1], in[2]}, {.device = kMeta})).shape(), (Shape{1, 1000})) << e.info.name;
  }
}

TEST(ZooResidual, SmallInputRunsAt28OnMeta) {
  for (auto& e : models::zoo_residual()) {
    auto net = on_meta(e.info.name, kFashion);
    EXPECT_EQ((*net)(empty({2, 1, 28, 28}, {.device = kMeta})).shape(), (Shape{2, 10})) << e.info.name;
  }
}

TEST(ZooResidual, SmallInputCpuForward) {
  manual_seed(0);
  for (const char* name : {"resnet18", "densenet121", "shufflenet_v2_x1_0"}) {
    auto net = models::create(name, kFashion);
    Tensor y = (*net)(randn({2, 1, 28, 28}));
    ASSERT_EQ(y.shape(), (Shape{2, 10})) << name;
    for (float v : y.to_vector<float>()) EXPECT_TRUE(std::isfinite(v)) << name;
  }
}

TEST(ZooResidual, PlainResNetHasNoShortcuts) {
  for (const char* name : {"resnet18", "resnet34"}) {
    auto expected = fixture_keys(name);
    std::erase_if(expected, [](const std::string& k) { return k.find("downsample") != std::string::npos; });
    auto plain = on_meta(name, {.num_classes = 1000, .in_channels = 3, .plain = true});
    EXPECT_EQ(keys_of(*plain), expected) << name;
  }
  auto net = models::create("resnet18", {.num_classes = 10, .in_channels = 1, .small_input = true, .plain = true});
  EXPECT_EQ((*net)(randn({2, 1, 28, 28})).shape(), (Shape{2, 10}));
}

TEST(ZooResidual, SmallInputChangesOnlyTheStem) {
  auto net = on_meta("resnet18", kFashion);
  EXPECT_EQ(net->submodule("conv1").named_parameters()[0].second.shape(), (Shape{64, 1, 3, 3}));
  EXPECT_EQ(net->child("maxpool"), nullptr);
  auto dense = on_meta("densenet121", kFashion);
  EXPECT_EQ(dense->submodule("features").child("pool0"), nullptr);
}

// Keras's InceptionResNetV2: 55,813,192 trainable parameters (55,873,736 with the statistics).
TEST(ZooResidual, InceptionResNetV2MatchesKerasCount) {
  DefaultDeviceGuard meta(kMeta);
  auto net = models::create("inception_resnet_v2", {.num_classes = 1000, .in_channels = 3});
  EXPECT_EQ(net->num_parameters(), 55813192);
  std::int64_t stats = 0;
  for (auto& [name, b] : net->named_buffers())
    if (b.dtype() == DType::f32) stats += b.numel();
  EXPECT_EQ(net->num_parameters() + stats, 55873736);
  EXPECT_EQ((*net)(empty({1, 3, 299, 299})).shape(), (Shape{1, 1000}));
  auto small = models::create("inception_resnet_v2", {.num_classes = 10, .in_channels = 1, .small_input = true});
  EXPECT_EQ((*small)(empty({2, 1, 28, 28})).shape(), (Shape{2, 10}));
}
