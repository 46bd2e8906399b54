#pragma once
// Builders of the residual and densely connected families; zoo_residual.cpp lists their
// members. Every builder takes ModelOptions: num_classes, in_channels, small_input.
#include <array>
#include <cstdint>

#include "fovea/models/registry.h"

namespace fovea::models {

struct ResNetConfig {
  std::array<std::int64_t, 4> layers = {2, 2, 2, 2};  // blocks per stage
  bool bottleneck = false;
  std::int64_t groups = 1;            // ResNeXt (https://arxiv.org/abs/1611.05431)
  std::int64_t width_per_group = 64;  // 128: wide resnet (https://arxiv.org/abs/1605.07146)
  std::int64_t se_reduction = 0;      // 16: SENet (https://arxiv.org/abs/1709.01507)
  bool stride_on_1x1 = false;         // the paper's v1 bottleneck (torchvision's v1.5 strides the 3x3)
};
// torchvision's ResNet: conv1 7x7/2, bn1, relu, maxpool 3x3/2, layer1..4, avgpool, fc.
// small_input: conv1 3x3/1 and no maxpool. plain: no shortcuts.
nn::ModulePtr resnet(const ResNetConfig& c, const ModelOptions& o);

struct DenseNetConfig {
  std::int64_t growth = 32;
  std::array<std::int64_t, 4> blocks = {6, 12, 24, 16};  // layers per dense block
  std::int64_t init_features = 64;
  std::int64_t bn_size = 4;  // bottleneck width = bn_size * growth
};
// torchvision's DenseNet: features (conv0 7x7/2, norm0, relu0, pool0, denseblock1,
// transition1, ..., denseblock4, norm5), relu, avgpool, classifier. Transitions halve the
// channels (compression 0.5) and the size. small_input: conv0 3x3/1 and no pool0.
nn::ModulePtr densenet(const DenseNetConfig& c, const ModelOptions& o);

// torchvision's ShuffleNetV2: conv1, maxpool, stage2..4, conv5, global pool, fc.
// small_input: conv1 stride 1 and no maxpool.
nn::ModulePtr shufflenet_v2(const std::array<std::int64_t, 3>& repeats, const std::array<std::int64_t, 5>& channels,
                            const ModelOptions& o);

// ShuffleNet v1 as its paper's table 1 (https://arxiv.org/abs/1707.01083): conv1 3x3/2 24,
// maxpool, stages of [4, 8, 4] units with `channels` outputs, global pool, fc. Our own keys
// (torchvision has no v1). small_input: conv1 stride 1 and no maxpool.
nn::ModulePtr shufflenet_v1(std::int64_t groups, const std::array<std::int64_t, 3>& channels, const ModelOptions& o);

// Keras's Xception (https://arxiv.org/abs/1610.02357), 299x299: entry flow (block1 stem,
// blocks 2-4), middle flow (blocks 5-12), exit flow (blocks 13-14), global pool, predictions.
// small_input: the stem's two convs keep the size (stride 1, padding 1).
nn::ModulePtr xception(const ModelOptions& o);

}  // namespace fovea::models
