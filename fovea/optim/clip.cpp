// https://github.com/pytorch/pytorch/blob/v1.13.0/torch/nn/utils/clip_grad.py
#include "fovea/optim/clip.h"

#include <algorithm>
#include <cmath>

#include "fovea/autograd/grad_mode.h"
#include "fovea/ops/ops.h"

namespace fovea::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  constexpr const char* op = "clip_grad_norm_";
  if (!(max_norm >= 0)) fail(op, "max_norm must be >= 0, got {}", max_norm);
  if (!(norm_type > 0)) fail(op, "norm_type must be > 0 or infinity, got {}", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const auto& p : params) {
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return 0.0;

  // ||g||_p = (sum_i |g_i|^p)^(1/p) over all gradients; ||g||_inf = max_i |g_i|
  // (https://pytorch.org/docs/1.13/generated/torch.norm.html). Partial sums are kept in double.
  double total = 0;
  const bool inf = std::isinf(norm_type);
  for (const auto& g : grads) {
    if (g.numel() == 0) continue;
    if (inf) total = std::max(total, max(abs(g)).item());
    else if (norm_type == 2.0) total += sum(square(g)).item();
    else if (norm_type == 1.0) total += sum(abs(g)).item();
    else total += sum(pow(abs(g), norm_type)).item();
  }
  if (!inf) total = norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);

  const double coef = max_norm / (total + 1e-6);
  // NaN compares false here but PyTorch's clamp(max=1) keeps it: multiply then too
  if (!(coef >= 1.0)) {
    for (auto& g : grads) g.mul_(coef);
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value >= 0)) fail("clip_grad_value_", "clip_value must be >= 0, got {}", clip_value);
  NoGradGuard no_grad;
  for (const auto& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (g.defined()) g.copy_(clamp(g, -clip_value, clip_value));
  }
}

}  // namespace fovea::optim
