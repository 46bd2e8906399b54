#pragma once
// Fully connected and pass-through layers, torch.nn.Linear and Identity:
//   auto fc = nn::make<nn::Linear>({.in = 400, .out = 120});
#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

struct LinearOptions {
  std::int64_t in = 0, out = 0;
  bool bias = true;
};

class Linear : public WithOptions<LinearOptions> {
 public:
  explicit Linear(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_parameters();
  Tensor weight, bias;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace fovea::nn
