#pragma once
// Dropout, torch.nn.Dropout: in training, zeroes each element with probability p and scales the
// rest by 1 / (1 - p); the identity in evaluation.
//   auto drop = nn::make<nn::Dropout>({.p = 0.5});
#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

struct DropoutOptions {
  double p = 0.5;
};
class Dropout : public WithOptions<DropoutOptions> {
 public:
  explicit Dropout(Options o = {});
  Tensor forward(const Tensor& x) override { return dropout(x, o_.p, is_training()); }
  std::string extra_repr() const override;
};

}  // namespace fovea::nn
