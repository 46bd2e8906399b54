// The zoo's resnet, resnext, wide resnet, senet, densenet, shufflenet and xception families. State-dict
// keys and parameter counts (at 1000 classes, 3 channels) are torchvision 0.14's; the tests
// compare them with tests/models/keys/*.txt.
#include "fovea/models/residual_nets.h"

namespace fovea::models {

namespace {

ZooEntry entry(std::string name, std::string description, std::string reference,
               std::function<nn::ModulePtr(const ModelOptions&)> make, Shape input = {3, 224, 224}) {
  return {{std::move(name), std::move(description), std::move(reference), std::move(input)}, std::move(make)};
}

auto resnet_of(ResNetConfig c) {
  return [c](const ModelOptions& o) { return resnet(c, o); };
}

auto densenet_of(DenseNetConfig c) {
  return [c](const ModelOptions& o) { return densenet(c, o); };
}

const std::string kResNet =
    "He et al. 2015, Deep residual learning for image recognition, https://arxiv.org/abs/1512.03385";
const std::string kDenseNet =
    "Huang et al. 2017, Densely connected convolutional networks, https://arxiv.org/abs/1608.06993";
const std::string kResNetSmall = "; small_input: conv1 3x3 stride 1, no maxpool; plain: no shortcuts";
const std::string kDenseNetSmall = "; small_input: conv0 3x3 stride 1, no pool0";

}  // namespace

std::vector<ZooEntry> zoo_residual() {
  return {
      entry("resnet18", "ResNet-18, basic blocks [2,2,2,2], 11,689,512 parameters" + kResNetSmall, kResNet,
            resnet_of({.layers = {2, 2, 2, 2}})),
      entry("resnet34", "ResNet-34, basic blocks [3,4,6,3], 21,797,672 parameters" + kResNetSmall, kResNet,
            resnet_of({.layers = {3, 4, 6, 3}})),
      entry("resnet50",
            "ResNet-50 (v1.5: stride on the 3x3), bottlenecks [3,4,6,3], 25,557,032 parameters" + kResNetSmall, kResNet,
            resnet_of({.layers = {3, 4, 6, 3}, .bottleneck = true})),
      entry("resnet50_v1",
            "ResNet-50 as the paper built it (stride on the first 1x1 of a bottleneck; receptive field 483), "
            "25,557,032 parameters, torchvision's keys" +
                kResNetSmall,
            kResNet, resnet_of({.layers = {3, 4, 6, 3}, .bottleneck = true, .stride_on_1x1 = true})),
      entry("resnet101", "ResNet-101 (v1.5), bottlenecks [3,4,23,3], 44,549,160 parameters" + kResNetSmall, kResNet,
            resnet_of({.layers = {3, 4, 23, 3}, .bottleneck = true})),
      entry("resnet152", "ResNet-152 (v1.5), bottlenecks [3,8,36,3], 60,192,808 parameters" + kResNetSmall, kResNet,
            resnet_of({.layers = {3, 8, 36, 3}, .bottleneck = true})),
      entry("resnext50_32x4d",
            "ResNeXt-50 32x4d: grouped 3x3 (32 groups of 4 channels), 25,028,904 parameters" + kResNetSmall,
            "Xie et al. 2017, Aggregated residual transformations for deep neural networks, "
            "https://arxiv.org/abs/1611.05431",
            resnet_of({.layers = {3, 4, 6, 3}, .bottleneck = true, .groups = 32, .width_per_group = 4})),
      entry("wide_resnet50_2", "Wide ResNet-50-2: bottlenecks twice as wide, 68,883,240 parameters" + kResNetSmall,
            "Zagoruyko and Komodakis 2016, Wide residual networks, https://arxiv.org/abs/1605.07146",
            resnet_of({.layers = {3, 4, 6, 3}, .bottleneck = true, .width_per_group = 128})),
      entry("se_resnet50",
            "SE-ResNet-50: resnet50 with squeeze-excitation (reduction 16) after each bn3, 28,088,024 parameters" +
                kResNetSmall,
            "Hu et al. 2018, Squeeze-and-excitation networks, https://arxiv.org/abs/1709.01507",
            resnet_of({.layers = {3, 4, 6, 3}, .bottleneck = true, .se_reduction = 16})),
      entry("densenet121", "DenseNet-121, k=32, blocks [6,12,24,16], 7,978,856 parameters" + kDenseNetSmall, kDenseNet,
            densenet_of({.growth = 32, .blocks = {6, 12, 24, 16}, .init_features = 64})),
      entry("densenet161", "DenseNet-161, k=48, blocks [6,12,36,24], 28,681,000 parameters" + kDenseNetSmall, kDenseNet,
            densenet_of({.growth = 48, .blocks = {6, 12, 36, 24}, .init_features = 96})),
      entry("densenet169", "DenseNet-169, k=32, blocks [6,12,32,32], 14,149,480 parameters" + kDenseNetSmall, kDenseNet,
            densenet_of({.growth = 32, .blocks = {6, 12, 32, 32}, .init_features = 64})),
      entry("densenet201", "DenseNet-201, k=32, blocks [6,12,48,32], 20,013,928 parameters" + kDenseNetSmall, kDenseNet,
            densenet_of({.growth = 32, .blocks = {6, 12, 48, 32}, .init_features = 64})),
      entry("shufflenet_v2_x1_0",
            "ShuffleNet v2 1.0x: channel split and shuffle, 2,278,604 parameters; small_input: conv1 stride 1, no "
            "maxpool",
            "Ma et al. 2018, ShuffleNet V2: practical guidelines for efficient CNN architecture design, "
            "https://arxiv.org/abs/1807.11164",
            [](const ModelOptions& o) {
              return shufflenet_v2({4, 8, 4}, {24, 116, 232, 464, 1024}, o);
            }),
      entry("shufflenet_v1",
            "ShuffleNet v1 1x, 3 groups (the paper's table 1: stages of 240, 480, 960 channels), 1,865,728 parameters; "
            "small_input: conv1 stride 1, no maxpool",
            "Zhang et al. 2017, ShuffleNet: an extremely efficient convolutional neural network for mobile devices, "
            "https://arxiv.org/abs/1707.01083",
            [](const ModelOptions& o) {
              return shufflenet_v1(3, {240, 480, 960}, o);
            }),
      entry("xception",
            "Xception as Keras builds it, 22,855,952 parameters (Keras: 22,910,480 with the batch-norm statistics); "
            "small_input: the stem's two convs at stride 1 with padding 1",
            "Chollet 2017, Xception: deep learning with depthwise separable convolutions, "
            "https://arxiv.org/abs/1610.02357",
            xception, {3, 299, 299}),
      entry("inception_resnet_v2",
            "Inception-ResNet-v2 as Keras builds it (299x299), 55,813,192 trainable parameters (Keras: 55,873,736 "
            "with the batch-norm statistics); small_input: the stem at stride 1 with padding, no stem max-pools",
            "Szegedy et al. 2016, Inception-v4, Inception-ResNet and the impact of residual connections on learning, "
            "https://arxiv.org/abs/1602.07261",
            inception_resnet_v2, {3, 299, 299}),
  };
}

}  // namespace fovea::models
