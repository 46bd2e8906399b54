#pragma once
// The blocks of the residual and densely connected zoo (zoo_residual.cpp), with torchvision's
// child names so that state dicts match torchvision 0.14 key for key.
#include <cstdint>
#include <memory>
#include <vector>

#include "fovea/nn/nn.h"

namespace fovea::models {

// conv k x k without bias (a batch norm follows), padding k/2
std::shared_ptr<nn::Conv2d> conv_nobias(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
                                        std::int64_t groups = 1);
std::shared_ptr<nn::BatchNorm2d> batch_norm(std::int64_t features);

// Squeeze-and-excitation (Hu et al. 2018, https://arxiv.org/abs/1709.01507):
// x * sigmoid(fc2(relu(fc1(avgpool(x))))), fc1: C -> C/r, fc2: C/r -> C (1x1 convs with bias).
// Children "fc1", "fc2", as Cadene's pretrained-models SEModule.
class SqueezeExcitation : public nn::Module {
 public:
  SqueezeExcitation(std::int64_t channels, std::int64_t reduction);
  Tensor forward(const Tensor& x) override;  // (N,C,H,W) -> (N,C,H,W)
  std::shared_ptr<nn::Conv2d> fc1, fc2;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::Sigmoid> sigmoid;
};

struct ResidualBlockOptions {
  std::int64_t in = 0;
  std::int64_t planes = 0;  // out = planes * expansion (1 basic, 4 bottleneck)
  std::int64_t stride = 1;
  bool bottleneck = false;        // 1x1 -> 3x3 -> 1x1 (resnet50 and up) instead of 3x3 -> 3x3
  std::int64_t groups = 1;        // ResNeXt's cardinality
  std::int64_t base_width = 64;   // bottleneck width = planes * base_width / 64 * groups
  std::int64_t se_reduction = 0;  // squeeze-excitation after bn3 (SENet); 0: none
  bool shortcut = true;           // false: a plain block (no addition, no downsample)
  bool stride_on_1x1 = false;     // bottleneck: the original paper's placement (v1) instead of v1.5's 3x3
};

// torchvision's BasicBlock and Bottleneck (v1.5: the stride is on the 3x3 conv), one class
// for resnet, resnext, wide resnet and se-resnet (He et al. 2015, https://arxiv.org/abs/1512.03385).
// Children: conv1, bn1, conv2, bn2, [conv3, bn3], [se_module], [downsample.0 (1x1 conv), .1 (BN)].
class ResidualBlock : public nn::WithOptions<ResidualBlockOptions> {
 public:
  explicit ResidualBlock(Options o);
  Tensor forward(const Tensor& x) override;  // (N,in,H,W) -> (N,out,H/stride,W/stride)
  std::int64_t out_channels() const { return o_.planes * (o_.bottleneck ? 4 : 1); }
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<SqueezeExcitation> se_module;
  std::shared_ptr<nn::Sequential> downsample;  // projection shortcut where the shape changes
  std::shared_ptr<nn::ReLU> relu;
};

// DenseNet's block (Huang et al. 2017, https://arxiv.org/abs/1608.06993): layer i sees the
// concatenation of the input and every earlier layer's output. Children denselayer1..n, each
// norm1, relu1, conv1 (1x1, bn_size * growth), norm2, relu2, conv2 (3x3, growth).
class DenseBlock : public nn::Module {
 public:
  DenseBlock(std::int64_t layers, std::int64_t in, std::int64_t growth, std::int64_t bn_size);
  Tensor forward(const Tensor& x) override;  // (N,in,H,W) -> (N,in + layers * growth,H,W)
};

// (N,C,H,W) -> (N,C,H,W) with the channels of each of `groups` groups interleaved
// (Zhang et al. 2017, https://arxiv.org/abs/1707.01083).
Tensor channel_shuffle(const Tensor& x, std::int64_t groups);

// ShuffleNet v2's unit, torchvision's InvertedResidual (Ma et al. 2018,
// https://arxiv.org/abs/1807.11164). Stride 1: split the channels in two, transform one half
// (branch2), concatenate, shuffle. Stride 2: both branches see the whole input.
class ShuffleV2Unit : public nn::Module {
 public:
  ShuffleV2Unit(std::int64_t in, std::int64_t out, std::int64_t stride);
  Tensor forward(const Tensor& x) override;          // (N,in,H,W) -> (N,out,H/stride,W/stride)
  std::shared_ptr<nn::Sequential> branch1, branch2;  // branch1 is null at stride 1
};

// ShuffleNet v1's unit (Zhang et al. 2017, https://arxiv.org/abs/1707.01083, figure 2):
// 1x1 group conv -> BN -> ReLU -> shuffle -> depthwise 3x3 -> BN -> 1x1 group conv -> BN, then
// ReLU(x + y) at stride 1, or ReLU(concat(avgpool 3x3/2 (x), y)) at stride 2.
// Children conv1, bn1, conv2, bn2, conv3, bn3. group_first = false: conv1 is not grouped
// (the first unit, whose input has only 24 channels).
class ShuffleV1Unit : public nn::Module {
 public:
  ShuffleV1Unit(std::int64_t in, std::int64_t out, std::int64_t groups, std::int64_t stride, bool group_first);
  Tensor forward(const Tensor& x) override;  // (N,in,H,W) -> (N,out,H/stride,W/stride)
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::AvgPool2d> shortcut;  // stride 2 only

 private:
  std::int64_t groups_;
};

// An Xception block as Keras builds it (Chollet 2017, https://arxiv.org/abs/1610.02357):
// [ReLU ->] separable 3x3 -> BN, repeated; with `down`, a 3x3/2 max pool and a 1x1/2 conv + BN
// shortcut, else the identity. Children sepconv1, sepconv1_bn, sepconv1_act, ..., [pool],
// [residual.0, residual.1].
struct XceptionBlockOptions {
  std::int64_t in = 0;
  std::vector<std::int64_t> convs = {};  // output channels of each separable conv
  bool relu_first = true;                // false in block 2 (its input is already activated)
  bool down = false;
};
class XceptionBlock : public nn::WithOptions<XceptionBlockOptions> {
 public:
  explicit XceptionBlock(Options o);
  Tensor forward(const Tensor& x) override;  // (N,in,H,W) -> (N,convs.back(),H',W')
};

}  // namespace fovea::models
