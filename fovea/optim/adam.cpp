// torch.optim.Adam / AdamW single-tensor updates, PyTorch 1.13:
// https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/adam.py#L319
// https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/adamw.py#L237
#include "fovea/optim/adam.h"

#include <cmath>

#include "fovea/autograd/grad_mode.h"
#include "fovea/ops/ops.h"

namespace fovea::optim {

namespace {

AdamOptions from_adamw(const AdamWOptions& o) {
  return {.lr = o.lr,
          .beta1 = o.beta1,
          .beta2 = o.beta2,
          .eps = o.eps,
          .weight_decay = o.weight_decay,
          .amsgrad = o.amsgrad};
}

}  // namespace

Optimizer::GroupDefaults Adam::checked_defaults(const char* op, const AdamOptions& o) {
  if (!(o.lr >= 0)) fail(op, "lr must be >= 0, got {}", o.lr);
  if (!(o.eps >= 0)) fail(op, "eps must be >= 0, got {}", o.eps);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) fail(op, "beta1 must be in [0, 1), got {}", o.beta1);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) fail(op, "beta2 must be in [0, 1), got {}", o.beta2);
  if (!(o.weight_decay >= 0)) fail(op, "weight_decay must be >= 0, got {}", o.weight_decay);
  return {.lr = o.lr, .weight_decay = o.weight_decay, .momentum = o.beta1};
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam("adam", single_group(std::move(params)), options, false) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options)
    : Adam("adam", std::move(groups), options, false) {}

Adam::Adam(const char* op, std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled)
    : Optimizer(op, std::move(groups), checked_defaults(op, options)), options_(options), decoupled_(decoupled) {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (groups_[g].momentum >= 1)
      fail(op, "beta1 (momentum) of group {} must be in [0, 1), got {}", g, groups_[g].momentum);
  }
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : Adam("adamw", single_group(std::move(params)), from_adamw(options), true) {}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options)
    : Adam("adamw", std::move(groups), from_adamw(options), true) {}

std::vector<std::string> Adam::buffer_slots(const ParamGroup&) const {
  if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::step() {
  NoGradGuard no_grad;
  const double beta2 = options_.beta2, eps = options_.eps;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const auto& group = groups_[g];
    const double lr = group.lr, beta1 = group.momentum, weight_decay = group.weight_decay;
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      Tensor p = group.params[i];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      auto& st = state(g, i);
      if (st.buffers.empty()) {
        for (const auto& slot : buffer_slots(group)) st.buffers.emplace(slot, zeros_like(p));
      }
      Tensor& m = st.buffers.at("exp_avg");
      Tensor& v = st.buffers.at("exp_avg_sq");
      st.step += 1;

      if (decoupled_) {
        // AdamW: p <- p * (1 - lr * wd), decoupled from the moments
        p.mul_(1 - lr * weight_decay);
      } else if (weight_decay != 0) {
        // Adam: g <- g + wd * p (L2 penalty)
        grad = grad.clone().add_(p, weight_decay);
      }
      // m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
      m.mul_(beta1).add_(grad, 1 - beta1);
      v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);

      // p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
      const auto t = static_cast<double>(st.step);
      const double bias_correction1 = 1 - std::pow(beta1, t);
      const double bias_correction2_sqrt = std::sqrt(1 - std::pow(beta2, t));
      const double step_size = lr / bias_correction1;
      Tensor second = v;
      if (options_.amsgrad) {
        // AMSGrad (https://openreview.net/forum?id=ryQu7f-RZ): normalise by the running maximum of v
        Tensor& v_max = st.buffers.at("max_exp_avg_sq");
        v_max.copy_(maximum(v_max, v));
        second = v_max;
      }
      Tensor denom = sqrt(second) / bias_correction2_sqrt + eps;
      p.addcdiv_(m, denom, -step_size);
    }
  }
}

}  // namespace fovea::optim
