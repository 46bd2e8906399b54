#pragma once
// Adam and AdamW, exactly torch.optim.Adam / torch.optim.AdamW (PyTorch 1.13):
// https://pytorch.org/docs/1.13/generated/torch.optim.Adam.html (Kingma & Ba, https://arxiv.org/abs/1412.6980)
// https://pytorch.org/docs/1.13/generated/torch.optim.AdamW.html (Loshchilov & Hutter,
// https://arxiv.org/abs/1711.05101)
#include <vector>

#include "fovea/optim/optimizer.h"

namespace fovea::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;  // groups may override it through ParamGroup::momentum
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // L2 penalty added to the gradient
  bool amsgrad = false;
};

// The same fields; only the default weight decay differs, and it is decoupled from the gradient.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // p <- p * (1 - lr * weight_decay) before the Adam step
  bool amsgrad = false;
};

//   Adam opt(model.parameters(), {.lr = 3e-4});
// Groups override lr, weight_decay and beta1 (as momentum).
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});
  void step() override;
  const AdamOptions& options() const { return options_; }

 protected:
  // `decoupled` selects AdamW's weight decay; `op` names the optimizer in errors.
  Adam(const char* op, std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled);
  std::vector<std::string> buffer_slots(const ParamGroup& group) const override;
  bool counts_steps() const override { return true; }

 private:
  static GroupDefaults checked_defaults(const char* op, const AdamOptions& o);
  AdamOptions options_;
  bool decoupled_;
};

//   AdamW opt(model.parameters(), {.lr = 1e-3, .weight_decay = 0.05});
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options = {});
};

}  // namespace fovea::optim
