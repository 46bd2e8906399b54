// The classic zoo (alexnet, zfnet, vgg, googlenet, squeezenet, mobilenet): parameter counts and
// state_dict keys equal torchvision 0.14's (keys/NAME.txt from dump_keys.py), output shapes on
// the meta device, and a CPU forward of the small-input variants on Fashion-MNIST-sized input.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "fovea/models/classic_nets.h"
#include "fovea/ops/ops.h"

using namespace fovea;

namespace {

struct Expected {
  std::string name;
  std::int64_t params;  // 3 channels, 1000 classes
  bool keys;            // keys/NAME.txt exists (models torchvision has)
};

const std::vector<Expected> kModels = {
    {"alexnet", 61100840, true},      {"alexnet_2012", 60965224, false}, {"zfnet", 62357608, false},
    {"vgg11", 132863336, true},       {"vgg13", 133047848, true},        {"vgg16", 138357544, true},
    {"vgg19", 143667240, true},       {"vgg11_bn", 132868840, true},     {"vgg13_bn", 133053736, true},
    {"vgg16_bn", 138365992, true},    {"vgg19_bn", 143678248, true},     {"googlenet", 13004888, true},
    {"squeezenet1_1", 1235496, true}, {"mobilenet_v2", 3504872, true}};

const models::ModelOptions kImageNet{.num_classes = 1000, .in_channels = 3};

std::vector<std::string> torchvision_keys(const std::string& name) {
  std::ifstream f(std::string(FOVEA_SOURCE_DIR) + "/tests/models/keys/" + name + ".txt");
  EXPECT_TRUE(f) << "no key list for " << name << "; run tests/models/dump_keys.py";
  std::vector<std::string> keys;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) keys.push_back(line);
  return keys;
}

std::vector<std::string> keys_of(const nn::Module& net) {
  std::vector<std::string> keys;
  for (auto& [k, t] : net.state_dict()) keys.push_back(k);
  return keys;
}

Shape usual_input(const std::string& name) {
  for (auto& info : models::list())
    if (info.name == name) return info.input;
  ADD_FAILURE() << name << " is not in the zoo";
  return {};
}

}  // namespace

TEST(ZooClassic, ParameterCountsAndKeysEqualTorchvision) {
  DefaultDeviceGuard meta(kMeta);
  for (auto& m : kModels) {
    SCOPED_TRACE(m.name);
    auto net = models::create(m.name, kImageNet);
    EXPECT_EQ(net->num_parameters(), m.params);
    if (m.keys) {
      EXPECT_EQ(keys_of(*net), torchvision_keys(m.name));
    }
  }
}

TEST(ZooClassic, OutputShapeAtUsualInputOnMeta) {
  DefaultDeviceGuard meta(kMeta);
  for (auto& m : kModels) {
    SCOPED_TRACE(m.name);
    auto net = models::create(m.name, kImageNet);
    net->eval();
    Shape in = usual_input(m.name);
    ASSERT_EQ(in.size(), 3u);
    EXPECT_EQ((*net)(empty({1, in[0], in[1], in[2]})).shape(), (Shape{1, 1000}));
  }
}

TEST(ZooClassic, SmallInputShapesOnMeta) {
  DefaultDeviceGuard meta(kMeta);
  for (auto& m : kModels) {
    SCOPED_TRACE(m.name);
    for (std::int64_t side : {28, 32}) {
      auto net = models::create(m.name, {.num_classes = 10, .in_channels = 1, .small_input = true});
      EXPECT_EQ((*net)(empty({2, 1, side, side})).shape(), (Shape{2, 10}));
    }
  }
}

TEST(ZooClassic, SmallInputForwardOnCpu) {
  // every family once (the vgg depths differ only in repeats, checked on meta above)
  for (std::string name : {"alexnet", "alexnet_2012", "zfnet", "vgg11_bn", "squeezenet1_1", "mobilenet_v2"}) {
    SCOPED_TRACE(name);
    auto net = models::create(name, {.num_classes = 10, .in_channels = 1, .small_input = true});
    Tensor y = (*net)(randn({2, 1, 28, 28}));
    ASSERT_EQ(y.shape(), (Shape{2, 10}));
    for (float v : y.to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(ZooClassic, GoogLeNetAuxLogitsInTrainingOnly) {
  auto net = models::create("googlenet", {.num_classes = 10, .in_channels = 1, .small_input = true});
  auto& g = dynamic_cast<models::GoogLeNet&>(*net);
  Tensor y = (*net)(randn({2, 1, 28, 28}));
  EXPECT_EQ(y.shape(), (Shape{2, 10}));
  ASSERT_EQ(g.last_aux().size(), 2u);
  for (auto& a : g.last_aux()) EXPECT_EQ(a.shape(), (Shape{2, 10}));
  // what the trainer reads through Module, whatever the model: the same tensors, weight 0.3
  const auto aux = net->auxiliary_outputs();
  ASSERT_EQ(aux.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(aux[i].logits.same(g.last_aux()[i]));
    EXPECT_EQ(aux[i].weight, 0.3);
  }
  EXPECT_TRUE(models::create("lenet5")->auxiliary_outputs().empty());
  net->eval();
  EXPECT_EQ((*net)(randn({2, 1, 28, 28})).shape(), (Shape{2, 10}));
  EXPECT_TRUE(g.last_aux().empty());
  EXPECT_TRUE(net->auxiliary_outputs().empty());
}

TEST(ZooClassic, GoogLeNetVariants) {
  DefaultDeviceGuard meta(kMeta);
  auto no_aux = models::create("googlenet", {.num_classes = 1000, .in_channels = 3, .aux_logits = false});
  EXPECT_EQ(no_aux->num_parameters(), 6624904);
  std::vector<std::string> expected;
  for (auto& k : torchvision_keys("googlenet"))
    if (k.rfind("aux", 0) != 0) expected.push_back(k);
  EXPECT_EQ(keys_of(*no_aux), expected);
  no_aux->train();
  EXPECT_EQ((*no_aux)(empty({1, 3, 224, 224})).shape(), (Shape{1, 1000}));
  EXPECT_TRUE(dynamic_cast<models::GoogLeNet&>(*no_aux).last_aux().empty());
  // the paper's 5x5 branch3: 16 more weights per (reduce, out) pair, sum c5_reduce * c5 = 23,808
  auto five = models::create("googlenet", {.num_classes = 1000, .in_channels = 3, .inception_5x5 = true});
  EXPECT_EQ(five->num_parameters(), 13004888 + 16 * 23808);
  EXPECT_EQ(five->submodule("inception3a.branch3.1.conv").state_dict()[0].second.shape(), (Shape{32, 16, 5, 5}));
}

TEST(ZooClassic, ReLU6ClampsToZeroSix) {
  models::ReLU6 r;
  Tensor y = r(from_vector(std::vector<float>{-1, 3, 7}, {3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 3, 6}));
}
