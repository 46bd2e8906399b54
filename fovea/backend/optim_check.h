#pragma once
// The argument checks every implementation of Backend::sgd_step / adam_step runs before it writes
// anything (backend.h states the contract). Errors name the op: "sgd", "adam" or "adamw".
#include <cstdint>
#include <span>

#include "fovea/backend/backend.h"

namespace fovea::backend {

void check_sgd_step(std::span<const Tensor> params, std::span<const Tensor> grads,
                    std::span<const Tensor> momentum_buffers, std::span<const std::uint8_t> buffer_is_new,
                    const SgdStepParams& p);
void check_adam_step(std::span<const Tensor> params, std::span<const Tensor> grads, std::span<const Tensor> exp_avg,
                     std::span<const Tensor> exp_avg_sq, std::span<const Tensor> max_exp_avg_sq,
                     std::span<const double> step_size, std::span<const double> bias_correction2_sqrt,
                     const AdamStepParams& p);

}  // namespace fovea::backend
