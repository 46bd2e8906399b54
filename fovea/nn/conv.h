#pragma once
// Convolution layers, torch.nn.Conv2d and ConvTranspose2d (the article's "deconvolution"):
//   auto conv = nn::make<nn::Conv2d>({.in = 3, .out = 64, .kernel = 7, .stride = 2, .padding = 3});
//   auto up = nn::make<nn::ConvTranspose2d>({.in = 64, .out = 32, .kernel = 4, .stride = 2, .padding = 1});
#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

struct Conv2dOptions {
  std::int64_t in = 0, out = 0;
  Pair kernel = 3;
  Pair stride = 1;
  Padding padding = 0;
  Pair dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

// weight: (out, in/groups, kH, kW), bias: (out); PyTorch's default init
class Conv2d : public WithOptions<Conv2dOptions> {
 public:
  explicit Conv2d(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_parameters();
  Tensor weight, bias;
};

struct ConvTranspose2dOptions {
  std::int64_t in = 0, out = 0;
  Pair kernel = 3;
  Pair stride = 1;
  Pair padding = 0;         // symmetric, removed from each side of the output
  Pair output_padding = 0;  // extra rows/columns at the bottom/right, < max(stride, dilation)
  Pair dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

// weight: (in, out/groups, kH, kW), bias: (out), PyTorch's layout and default init.
// (N,in,H,W) -> (N,out,H',W'), H' = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1
class ConvTranspose2d : public WithOptions<ConvTranspose2dOptions> {
 public:
  explicit ConvTranspose2d(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_parameters();
  Tensor weight, bias;
};

}  // namespace fovea::nn
