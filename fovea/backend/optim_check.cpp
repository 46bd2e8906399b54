// Checks of the fused optimizer steps' arguments, shared by the CPU and CUDA backends.
#include "fovea/backend/optim_check.h"

namespace fovea::backend {

namespace {

// params: defined, contiguous, all of params[0]'s dtype (f32 or f64) and device
void check_params(const char* op, std::span<const Tensor> params) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.defined()) fail(op, "params[{}] is undefined", i);
    if (p.dtype() != DType::f32 && p.dtype() != DType::f64)
      fail(op, "params[{}] is {}, expected f32 or f64", i, dtype_name(p.dtype()));
    if (p.dtype() != params[0].dtype() || p.device() != params[0].device())
      fail(op, "params[{}] is {} on {}, expected {} on {} like params[0]", i, dtype_name(p.dtype()), p.device().str(),
           dtype_name(params[0].dtype()), params[0].device().str());
    if (!p.is_contiguous()) fail(op, "params[{}] is not contiguous", i);
  }
}

// list: one contiguous tensor per parameter, of its shape, dtype and device; or empty when optional
void check_list(const char* op, const char* name, std::span<const Tensor> list, std::span<const Tensor> params,
                bool required) {
  if (!required) {
    if (!list.empty()) fail(op, "{} must be empty here, got {} tensor(s)", name, list.size());
    return;
  }
  if (list.size() != params.size())
    fail(op, "expected one {} tensor per parameter ({}), got {}", name, params.size(), list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Tensor& t = list[i];
    const Tensor& p = params[i];
    if (!t.defined()) fail(op, "{}[{}] is undefined", name, i);
    if (t.shape() != p.shape() || t.dtype() != p.dtype() || t.device() != p.device() || !t.is_contiguous())
      fail(op, "{}[{}] must be a contiguous {} {} on {} like params[{}], got {}{} {} on {}", name, i,
           dtype_name(p.dtype()), shape_str(p.shape()), p.device().str(), i, t.is_contiguous() ? "" : "non-contiguous ",
           dtype_name(t.dtype()), shape_str(t.shape()), t.device().str());
  }
}

void check_scalars(const char* op, const char* name, std::span<const double> v, std::size_t n) {
  if (v.size() != n) fail(op, "expected one {} per parameter ({}), got {}", name, n, v.size());
}

}  // namespace

void check_sgd_step(std::span<const Tensor> params, std::span<const Tensor> grads,
                    std::span<const Tensor> momentum_buffers, std::span<const std::uint8_t> buffer_is_new,
                    const SgdStepParams& p) {
  constexpr const char* op = "sgd";
  check_params(op, params);
  check_list(op, "grads", grads, params, true);
  const bool momentum = p.momentum != 0;
  check_list(op, "momentum_buffers", momentum_buffers, params, momentum);
  if (buffer_is_new.size() != momentum_buffers.size())
    fail(op, "expected one buffer_is_new flag per momentum buffer ({}), got {}", momentum_buffers.size(),
         buffer_is_new.size());
}

void check_adam_step(std::span<const Tensor> params, std::span<const Tensor> grads, std::span<const Tensor> exp_avg,
                     std::span<const Tensor> exp_avg_sq, std::span<const Tensor> max_exp_avg_sq,
                     std::span<const double> step_size, std::span<const double> bias_correction2_sqrt,
                     const AdamStepParams& p) {
  const char* op = p.decoupled ? "adamw" : "adam";
  check_params(op, params);
  check_list(op, "grads", grads, params, true);
  check_list(op, "exp_avg", exp_avg, params, true);
  check_list(op, "exp_avg_sq", exp_avg_sq, params, true);
  check_list(op, "max_exp_avg_sq", max_exp_avg_sq, params, p.amsgrad);
  check_scalars(op, "step_size", step_size, params.size());
  check_scalars(op, "bias_correction2_sqrt", bias_correction2_sqrt, params.size());
}

}  // namespace fovea::backend
