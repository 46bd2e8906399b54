// torch.optim.SGD's single-tensor update, PyTorch 1.13:
// https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/sgd.py#L213
#include "fovea/optim/sgd.h"

#include "fovea/autograd/grad_mode.h"

namespace fovea::optim {

namespace {

constexpr const char* kOp = "sgd";

}  // namespace

Optimizer::GroupDefaults SGD::checked_defaults(const SGDOptions& o) {
  if (!(o.lr >= 0)) fail(kOp, "lr must be >= 0, got {}", o.lr);
  if (!(o.momentum >= 0)) fail(kOp, "momentum must be >= 0, got {}", o.momentum);
  if (!(o.weight_decay >= 0)) fail(kOp, "weight_decay must be >= 0, got {}", o.weight_decay);
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
    fail(kOp, "nesterov momentum requires momentum > 0 and dampening == 0, got momentum {} and dampening {}",
         o.momentum, o.dampening);
  return {.lr = o.lr, .weight_decay = o.weight_decay, .momentum = o.momentum};
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options) : SGD(single_group(std::move(params)), options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(kOp, std::move(groups), checked_defaults(options)), options_(options) {
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (options_.nesterov && groups_[g].momentum <= 0)
      fail(kOp, "nesterov momentum requires momentum > 0, but group {} has momentum {}", g, groups_[g].momentum);
  }
}

std::vector<std::string> SGD::buffer_slots(const ParamGroup& group) const {
  if (group.momentum != 0) return {"momentum_buffer"};
  return {};
}

void SGD::step() {
  NoGradGuard no_grad;
  const double dampening = options_.dampening;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const auto& group = groups_[g];
    const double lr = group.lr, momentum = group.momentum, weight_decay = group.weight_decay;
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      Tensor p = group.params[i];
      Tensor d_p = p.grad();
      if (!d_p.defined()) continue;
      // g <- g + wd * p (L2 penalty folded into the gradient)
      if (weight_decay != 0) d_p = d_p.clone().add_(p, weight_decay);
      if (momentum != 0) {
        auto& buffers = state(g, i).buffers;
        auto it = buffers.find("momentum_buffer");
        // b_1 = g_1 (no dampening on the first step); b_t = mu * b_{t-1} + (1 - dampening) * g_t
        if (it == buffers.end()) {
          it = buffers.emplace("momentum_buffer", d_p.clone()).first;
        } else {
          it->second.mul_(momentum).add_(d_p, 1 - dampening);
        }
        // nesterov: g + mu * b_t; otherwise b_t
        d_p = options_.nesterov ? d_p.clone().add_(it->second, momentum) : it->second;
      }
      p.add_(d_p, -lr);
    }
  }
}

}  // namespace fovea::optim
