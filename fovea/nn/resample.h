#pragma once
// Upsampling layer, torch.nn.Upsample (fovea::UpsampleOptions: size or scale, mode, align_corners):
//   auto up = nn::make<nn::Upsample>({.scale = 2, .mode = UpsampleMode::bilinear});
#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

// (N,C,H,W) -> (N,C,H',W'), see fovea::upsample
class Upsample : public Module {
 public:
  using Options = UpsampleOptions;
  explicit Upsample(Options o) : Module("Upsample"), o_(o) {}
  Tensor forward(const Tensor& x) override { return upsample(x, o_); }
  std::string extra_repr() const override;
  const Options& options() const { return o_; }

 private:
  Options o_;
};

}  // namespace fovea::nn
