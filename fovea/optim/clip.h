#pragma once
// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (PyTorch 1.13).
// Call between backward() and optimizer.step(); parameters without a gradient are skipped.
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::optim {

// Scales all gradients together so that their joint norm (as if concatenated into one vector)
// is at most max_norm, and returns that norm before clipping. norm_type is p > 0 or
// infinity (std::numeric_limits<double>::infinity()). As PyTorch, the scale is
// max_norm / (norm + 1e-6), applied when below 1. A non-finite norm is returned as it is and
// makes every gradient non-finite (PyTorch's default, error_if_nonfinite = false).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace fovea::optim
