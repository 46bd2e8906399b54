// torch.optim.Adam / AdamW, PyTorch 1.13, as one fused backend step per group, device and dtype:
// https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/adam.py#L319
// https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/adamw.py#L237
#include "fovea/optim/adam.h"

#include <cmath>

#include "fovea/autograd/grad_mode.h"
#include "fovea/backend/backend.h"

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

// One fused backend step per group, device and dtype (backend.h: Backend::adam_step has the math).
void Adam::step() {
  NoGradGuard no_grad;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const auto& group = groups_[g];
    const backend::AdamStepParams hyper{.lr = group.lr,
                                        .beta1 = group.momentum,
                                        .beta2 = options_.beta2,
                                        .eps = options_.eps,
                                        .weight_decay = group.weight_decay,
                                        .decoupled = decoupled_,
                                        .amsgrad = options_.amsgrad};
    const auto slots = buffer_slots(group);
    for (const auto& bucket : grad_buckets(g)) {
      Staging staging;
      std::vector<Tensor> params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq;
      std::vector<double> step_size, bias_correction2_sqrt;
      // the zeroed moments of parameters at their first step; they join the state after the step
      std::vector<std::map<std::string, Tensor>> created(bucket.size());
      for (std::size_t k = 0; k < bucket.size(); ++k) {
        const Tensor& p = group.params[bucket[k]];
        const auto& st = state(g, bucket[k]);
        if (st.buffers.empty()) {
          for (const auto& slot : slots) created[k].emplace(slot, zeros_like(p));
        }
        const auto& buffers = st.buffers.empty() ? created[k] : st.buffers;
        params.push_back(staging.update(p));
        grads.push_back(staging.read(p.grad(), p.dtype()));
        exp_avg.push_back(staging.update(buffers.at("exp_avg")));
        exp_avg_sq.push_back(staging.update(buffers.at("exp_avg_sq")));
        if (hyper.amsgrad) max_exp_avg_sq.push_back(staging.update(buffers.at("max_exp_avg_sq")));
        // the bias corrections at this parameter's step t
        const auto t = static_cast<double>(st.step + 1);
        step_size.push_back(hyper.lr / (1 - std::pow(hyper.beta1, t)));
        bias_correction2_sqrt.push_back(std::sqrt(1 - std::pow(hyper.beta2, t)));
      }
      backend::backend_for(params.front())
          .adam_step(params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, bias_correction2_sqrt, hyper);
      staging.write_back();
      for (std::size_t k = 0; k < bucket.size(); ++k) {
        auto& st = state(g, bucket[k]);
        if (!created[k].empty()) st.buffers = std::move(created[k]);
        st.step += 1;
      }
    }
  }
}

}  // namespace fovea::optim
