// torch.optim.SGD, PyTorch 1.13 (https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/sgd.py#L213),
// as one fused backend step per group, device and dtype.
#include "fovea/optim/sgd.h"

#include "fovea/autograd/grad_mode.h"
#include "fovea/backend/backend.h"

namespace fovea::optim {

namespace {

constexpr const char* kOp = "sgd";
constexpr const char* kBuffer = "momentum_buffer";

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
  if (group.momentum != 0) return {kBuffer};
  return {};
}

// One fused backend step per group, device and dtype (backend.h: Backend::sgd_step has the math).
void SGD::step() {
  NoGradGuard no_grad;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const auto& group = groups_[g];
    const backend::SgdStepParams hyper{.lr = group.lr,
                                       .momentum = group.momentum,
                                       .dampening = options_.dampening,
                                       .weight_decay = group.weight_decay,
                                       .nesterov = options_.nesterov};
    for (const auto& bucket : grad_buckets(g)) {
      Staging staging;
      std::vector<Tensor> params, grads, buffers;
      std::vector<std::uint8_t> buffer_is_new;
      for (std::size_t i : bucket) {
        const Tensor& p = group.params[i];
        params.push_back(staging.update(p));
        grads.push_back(staging.read(p.grad(), p.dtype()));
        if (hyper.momentum == 0) continue;
        // a parameter's first step sets its buffer to the gradient (b_1 = g_1, no dampening)
        const auto& state_buffers = state(g, i).buffers;
        auto it = state_buffers.find(kBuffer);
        const bool fresh = it == state_buffers.end();
        buffers.push_back(fresh ? empty_like(params.back()) : staging.update(it->second));
        buffer_is_new.push_back(fresh);
      }
      backend::backend_for(params.front()).sgd_step(params, grads, buffers, buffer_is_new, hyper);
      staging.write_back();
      // new buffers join the state only once the step has filled them
      for (std::size_t k = 0; k < buffer_is_new.size(); ++k) {
        if (buffer_is_new[k]) state(g, bucket[k]).buffers.emplace(kBuffer, buffers[k]);
      }
    }
  }
}

}  // namespace fovea::optim
