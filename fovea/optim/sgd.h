#pragma once
// Stochastic gradient descent with momentum, exactly torch.optim.SGD
// (https://pytorch.org/docs/1.13/generated/torch.optim.SGD.html).
#include <vector>

#include "fovea/optim/optimizer.h"

namespace fovea::optim {

struct SGDOptions {
  double lr = -1;  // required: the step size
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;  // L2 penalty added to the gradient
  bool nesterov = false;    // needs momentum > 0 and dampening == 0
};

//   SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4});
// Groups override lr, weight_decay and momentum; dampening and nesterov apply to all.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);
  void step() override;
  const SGDOptions& options() const { return options_; }

 protected:
  std::vector<std::string> buffer_slots(const ParamGroup& group) const override;

 private:
  static GroupDefaults checked_defaults(const SGDOptions& o);
  SGDOptions options_;
};

}  // namespace fovea::optim
