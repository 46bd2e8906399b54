#pragma once
// Upsampling layer, torch.nn.Upsample (fovea::UpsampleOptions: size or scale, mode, align_corners):
//   auto up = nn::make<nn::Upsample>({.scale = 2, .mode = UpsampleMode::bilinear});
#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

// (N,C,H,W) -> (N,C,H',W'), see fovea::upsample
class Upsample : public WithOptions<UpsampleOptions> {
 public:
  explicit Upsample(Options o) : WithOptions("Upsample", o) {}
  Tensor forward(const Tensor& x) override { return upsample(x, o_); }
  std::string extra_repr() const override;
};

}  // namespace fovea::nn
