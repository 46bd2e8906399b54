// Random tensors and in-place random fills, drawn from a Generator by the backend's primitives.
#include "fovea/ops/detail.h"

namespace fovea {

using detail::be;

namespace {

// Draws into t with draw(contiguous tensor). A strided view is drawn into a contiguous tensor
// and copied, so its elements get the numbers in their row-major order, as a contiguous one.
template <typename Draw>
const Tensor& fill_random(const Tensor& t, const char* op, Draw draw) {
  detail::check_defined(t, op, "tensor");
  detail::check_floating(t, op);
  if (grad_enabled() && t.requires_grad())
    fail(op, "in-place update of a tensor that requires grad while grad mode is on; use NoGradGuard");
  if (t.is_contiguous()) {
    draw(t);
  } else {
    Tensor c = detail::new_empty(t, t.shape());
    draw(c);
    be(t).copy(c, t);
  }
  return t;
}

// A new tensor filled before it may require grad.
template <typename Draw>
Tensor random_tensor(const Shape& s, TensorOptions o, const char* op, Draw draw) {
  const bool rg = o.requires_grad;
  o.requires_grad = false;
  Tensor t = empty(s, o);
  fill_random(t, op, draw);
  if (rg) t.requires_grad_();
  return t;
}

}  // namespace

const Tensor& fill_uniform_(const Tensor& t, double lo, double hi, Generator& g) {
  return fill_random(t, "fill_uniform_", [&](const Tensor& c) { be(c).uniform(c, lo, hi, g); });
}

const Tensor& fill_normal_(const Tensor& t, double mean, double std, Generator& g) {
  return fill_random(t, "fill_normal_", [&](const Tensor& c) { be(c).normal(c, mean, std, g); });
}

Tensor rand(const Shape& s, TensorOptions o, Generator& g) {
  return random_tensor(s, o, "rand", [&](const Tensor& c) { be(c).uniform(c, 0.0, 1.0, g); });
}

Tensor randn(const Shape& s, TensorOptions o, Generator& g) {
  return random_tensor(s, o, "randn", [&](const Tensor& c) { be(c).normal(c, 0.0, 1.0, g); });
}

}  // namespace fovea
