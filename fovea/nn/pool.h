#pragma once
// Pooling layers, torch.nn.MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and AdaptiveMaxPool2d. Adaptive
// pooling gives a fixed output size for any input; global average pooling is AdaptiveAvgPool2d
// with the default output 1x1:
//   auto pool = nn::make<nn::MaxPool2d>({.kernel = 2});
//   auto gap = nn::make<nn::AdaptiveAvgPool2d>();                  // (N,C,H,W) -> (N,C,1,1)
//   auto six = nn::make<nn::AdaptiveAvgPool2d>({.out = {6, 6}});   // AlexNet's
#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

// Options: fovea::Pool2dOptions (kernel, stride (0 = kernel), padding, ceil_mode, count_include_pad)
class MaxPool2d : public WithOptions<Pool2dOptions> {
 public:
  explicit MaxPool2d(Options o) : WithOptions("MaxPool2d", o) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, o_); }
  std::string extra_repr() const override;
};
class AvgPool2d : public WithOptions<Pool2dOptions> {
 public:
  explicit AvgPool2d(Options o) : WithOptions("AvgPool2d", o) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, o_); }
  std::string extra_repr() const override;
};

struct AdaptivePool2dOptions {
  Pair out = 1;  // output (H', W')
};

class AdaptiveAvgPool2d : public WithOptions<AdaptivePool2dOptions> {
 public:
  explicit AdaptiveAvgPool2d(Options o = {});
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, o_.out); }
  std::string extra_repr() const override;
};

class AdaptiveMaxPool2d : public WithOptions<AdaptivePool2dOptions> {
 public:
  explicit AdaptiveMaxPool2d(Options o = {});
  Tensor forward(const Tensor& x) override { return adaptive_max_pool2d(x, o_.out); }
  std::string extra_repr() const override;
};

}  // namespace fovea::nn
