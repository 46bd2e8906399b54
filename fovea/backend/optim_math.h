#pragma once
// The per-element updates of Backend::sgd_step and Backend::adam_step (backend.h states the math),
// shared by the CPU loop (cpu/optim.cpp) and the CUDA kernels (cuda/optim.cu): plain C++17 that
// nvcc compiles too. Each operation rounds to the parameters' dtype T in the order of the separate
// tensor ops of torch.optim's single-tensor code, so the fused step gives the same bits.
#include <cmath>

#include "fovea/backend/host_device.h"

namespace fovea::backend {

// Hyper-parameters of one Backend::sgd_step call.
struct SgdStepParams {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

// Hyper-parameters of one Backend::adam_step call (the step sizes are per parameter).
struct AdamStepParams {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled = false;  // AdamW's weight decay
  bool amsgrad = false;
};

namespace optim_math {

// a * b rounded on its own: a tensor op stores every product, so it must not be contracted with the
// following add into one FMA. nvcc contracts by default (hence __fmul_rn); cpu/optim.cpp compiles
// its loops with contraction off.
FOVEA_HOST_DEVICE inline float mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
FOVEA_HOST_DEVICE inline double mul(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// The scalars of an SGD call in T, rounded from double as scalar tensor operands are.
template <typename T>
struct SgdCoeffs {
  T weight_decay, momentum, one_minus_dampening, neg_lr;
  bool decay, nesterov;
  FOVEA_HOST_DEVICE explicit SgdCoeffs(const SgdStepParams& p)
      : weight_decay(static_cast<T>(p.weight_decay)),
        momentum(static_cast<T>(p.momentum)),
        one_minus_dampening(static_cast<T>(1 - p.dampening)),
        neg_lr(static_cast<T>(-p.lr)),
        decay(p.weight_decay != 0),
        nesterov(p.nesterov) {}
};

// One element of a parameter p with gradient g; b: its momentum buffer (null without momentum),
// set to d when fresh (its old value is not read). Each value is loaded and stored once.
template <typename T>
FOVEA_HOST_DEVICE inline void sgd_update(T& p, T g, T* b, bool fresh, const SgdCoeffs<T>& c) {
  const T x = p;
  T d = c.decay ? g + mul(x, c.weight_decay) : g;
  if (b) {
    const T buf = fresh ? d : mul(*b, c.momentum) + mul(d, c.one_minus_dampening);
    *b = buf;
    d = c.nesterov ? d + mul(buf, c.momentum) : buf;
  }
  p = x + mul(d, c.neg_lr);
}

// The scalars of an Adam call in T; decay_factor = 1 - lr * weight_decay with the product rounded
// as PyTorch's Python computes it.
template <typename T>
struct AdamCoeffs {
  T weight_decay, decay_factor, beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  bool decoupled, decay;
  FOVEA_HOST_DEVICE explicit AdamCoeffs(const AdamStepParams& p)
      : weight_decay(static_cast<T>(p.weight_decay)),
        decay_factor(static_cast<T>(1 - mul(p.lr, p.weight_decay))),
        beta1(static_cast<T>(p.beta1)),
        one_minus_beta1(static_cast<T>(1 - p.beta1)),
        beta2(static_cast<T>(p.beta2)),
        one_minus_beta2(static_cast<T>(1 - p.beta2)),
        eps(static_cast<T>(p.eps)),
        decoupled(p.decoupled),
        decay(p.weight_decay != 0) {}
};

// One element of a parameter p with gradient g and moments m, v; v_max: the running maximum of v
// (null unless amsgrad). neg_step_size = -lr / (1 - beta1^t), bias_correction2_sqrt = sqrt(1 - beta2^t).
// Each value is loaded and stored once.
template <typename T>
FOVEA_HOST_DEVICE inline void adam_update(T& p, T g, T& m, T& v, T* v_max, T neg_step_size, T bias_correction2_sqrt,
                                          const AdamCoeffs<T>& c) {
  T x = p;
  if (c.decoupled) x = mul(x, c.decay_factor);
  else if (c.decay) g = g + mul(x, c.weight_decay);
  const T m1 = mul(m, c.beta1) + mul(g, c.one_minus_beta1);
  const T v1 = mul(v, c.beta2) + mul(mul(g, g), c.one_minus_beta2);
  m = m1;
  v = v1;
  T second = v1;
  if (v_max) {
    const T old = *v_max;
    second = (old != old || old > v1) ? old : v1;  // NaN propagates, as maximum() does
    *v_max = second;
  }
  p = x + mul(m1 / (std::sqrt(second) / bias_correction2_sqrt + c.eps), neg_step_size);
}

}  // namespace optim_math
}  // namespace fovea::backend
