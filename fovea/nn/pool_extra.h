#pragma once
// Adaptive pooling layers, torch.nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d: a fixed output size
// for any input size. Global average pooling is AdaptiveAvgPool2d with the default output 1x1:
//   auto gap = nn::make<nn::AdaptiveAvgPool2d>();                  // (N,C,H,W) -> (N,C,1,1)
//   auto pool = nn::make<nn::AdaptiveAvgPool2d>({.out = {6, 6}});  // AlexNet's
#include "fovea/nn/layers.h"

namespace fovea::nn {

struct AdaptivePool2dOptions {
  Pair out = 1;  // output (H', W')
};

class AdaptiveAvgPool2d : public Module {
 public:
  using Options = AdaptivePool2dOptions;
  explicit AdaptiveAvgPool2d(Options o = {});
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, o_.out); }
  std::string extra_repr() const override;
  const Options& options() const { return o_; }

 private:
  Options o_;
};

class AdaptiveMaxPool2d : public Module {
 public:
  using Options = AdaptivePool2dOptions;
  explicit AdaptiveMaxPool2d(Options o = {});
  Tensor forward(const Tensor& x) override { return adaptive_max_pool2d(x, o_.out); }
  std::string extra_repr() const override;
  const Options& options() const { return o_; }

 private:
  Options o_;
};

}  // namespace fovea::nn
