#pragma once
// Local response normalisation (AlexNet), torch.nn.LocalResponseNorm:
//   auto lrn = nn::make<nn::LocalResponseNorm>({.size = 5, .alpha = 1e-4, .beta = 0.75, .k = 2.0});
#include "fovea/nn/layers.h"

namespace fovea::nn {

// (N,C,...) -> same shape, see fovea::local_response_norm; no parameters
class LocalResponseNorm : public Module {
 public:
  using Options = LrnOptions;
  explicit LocalResponseNorm(Options o);
  Tensor forward(const Tensor& x) override { return local_response_norm(x, o_); }
  std::string extra_repr() const override;
  const Options& options() const { return o_; }

 private:
  Options o_;
};

}  // namespace fovea::nn
