#pragma once
// Flatten, torch.nn.Flatten: (N,C,H,W) -> (N,C*H*W) with the defaults.
//   auto flat = nn::make<nn::Flatten>();
#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

struct FlattenOptions {
  std::int64_t start = 1, end = -1;
};
class Flatten : public WithOptions<FlattenOptions> {
 public:
  explicit Flatten(Options o = {}) : WithOptions("Flatten", o) {}
  Tensor forward(const Tensor& x) override { return x.flatten(o_.start, o_.end); }
  std::string extra_repr() const override;
};

}  // namespace fovea::nn
