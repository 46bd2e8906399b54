// Activations: the backend's forward and backward primitives (oneDNN eltwise on CPU f32).
#include "fovea/ops/detail.h"

namespace fovea {

using backend::Act;
using backend::ActParams;
using detail::be;

namespace {

Tensor activation(Act a, ActParams p, const Tensor& x, const char* name) {
  detail::check_defined(x, name, "input");
  detail::check_floating(x, name);
  Tensor xc = x.detach().contiguous();
  Tensor out = detail::new_empty(x, x.shape());
  be(x).activation_forward(a, p, xc, out);
  return autograd::record(name, out, {x}, [xc, a, p](const Tensor& g) {
    Tensor gx = detail::new_empty(g, g.shape());
    be(g).activation_backward(a, p, xc, g.contiguous(), gx);
    return std::vector<Tensor>{gx};
  });
}

Tensor softmax_impl(const Tensor& x, std::int64_t dim, bool log, const char* name) {
  detail::check_defined(x, name, "input");
  detail::check_floating(x, name);
  int axis = wrap_dim(dim, x.dim(), name);
  Tensor xc = x.detach().contiguous();
  if (x.dim() == 0) xc = xc.view({1});
  Tensor out = detail::new_empty(x, xc.shape());
  be(x).softmax_forward(xc, out, axis, log);
  out = out.view(x.shape());
  return autograd::record(name, out, {x}, [od = out.detach(), axis, log](const Tensor& g) {
    Tensor gx = detail::new_empty(g, g.shape());
    Shape s = od.dim() == 0 ? Shape{1} : od.shape();
    be(g).softmax_backward(od.view(s), g.contiguous().view(s), gx.view(s), axis, log);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor relu(const Tensor& x) { return activation(Act::relu, {}, x, "relu"); }
Tensor leaky_relu(const Tensor& x, double slope) { return activation(Act::leaky_relu, {.alpha = slope}, x, "leaky_relu"); }
Tensor elu(const Tensor& x, double alpha) { return activation(Act::elu, {.alpha = alpha}, x, "elu"); }
Tensor sigmoid(const Tensor& x) { return activation(Act::sigmoid, {}, x, "sigmoid"); }
Tensor tanh(const Tensor& x) { return activation(Act::tanh, {}, x, "tanh"); }
Tensor gelu(const Tensor& x) { return activation(Act::gelu, {}, x, "gelu"); }
Tensor hardswish(const Tensor& x) { return activation(Act::hardswish, {}, x, "hardswish"); }
Tensor softmax(const Tensor& x, std::int64_t dim) { return softmax_impl(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, std::int64_t dim) { return softmax_impl(x, dim, true, "log_softmax"); }

}  // namespace fovea
