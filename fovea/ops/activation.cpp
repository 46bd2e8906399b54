// Activations and softmax: the backend's forward and backward primitives (oneDNN on CPU f32),
// with the ReLU backward rules of guided backprop and deconvnet.
#include "fovea/ops/detail.h"
#include "fovea/ops/trace.h"

namespace fovea {

using backend::Act;
using backend::ActParams;
using detail::be;

namespace {

thread_local ReluGradRule g_relu_rule = ReluGradRule::standard;

// relu's backward under the thread's rule: standard g (y > 0); guided max(g, 0) (y > 0);
// deconvnet max(g, 0), the forward's mask ignored. y: relu's output (y > 0 exactly where x > 0).
void relu_backward(const Tensor& x, const Tensor& g, const Tensor& gx) {
  if (g_relu_rule == ReluGradRule::standard) return be(g).activation_backward(Act::relu, {}, x, g, gx);
  Tensor gp = detail::new_empty(g, g.shape());
  be(g).activation_forward(Act::relu, {}, g, gp);
  if (g_relu_rule == ReluGradRule::guided) be(g).activation_backward(Act::relu, {}, x, gp, gx);
  else be(g).activation_forward(Act::relu, {}, g, gx);
}

Tensor activation(Act a, ActParams p, const Tensor& x, const char* name) {
  detail::check_defined(x, name, "input");
  detail::check_floating(x, name);
  Tensor xc = x.detach().contiguous();
  Tensor out = detail::new_empty(x, x.shape());
  be(x).activation_forward(a, p, xc, out);
  // relu's mask x > 0 is its output's y > 0: keeping y, which the next layer keeps anyway, lets
  // the input go (a batch norm's output before a ReLU is not held twice)
  Tensor saved = a == Act::relu ? out.detach() : xc;
  return autograd::record(name, out, {x}, [saved, a, p](const Tensor& g) {
    Tensor gx = detail::new_empty(g, g.shape());
    if (a == Act::relu) relu_backward(saved, g.contiguous(), gx);
    else be(g).activation_backward(a, p, saved, g.contiguous(), gx);
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

ReluGradRule relu_grad_rule() { return g_relu_rule; }
void set_relu_grad_rule(ReluGradRule r) { g_relu_rule = r; }

Tensor relu(const Tensor& x) { return trace::traced(activation(Act::relu, {}, x, "relu"), "Relu", {x}); }
Tensor leaky_relu(const Tensor& x, double slope) {
  return trace::traced(activation(Act::leaky_relu, {.alpha = slope}, x, "leaky_relu"), "LeakyRelu", {x},
                       {{"alpha", slope}});
}
Tensor elu(const Tensor& x, double alpha) {
  return trace::traced(activation(Act::elu, {.alpha = alpha}, x, "elu"), "Elu", {x}, {{"alpha", alpha}});
}
Tensor sigmoid(const Tensor& x) { return trace::traced(activation(Act::sigmoid, {}, x, "sigmoid"), "Sigmoid", {x}); }
Tensor tanh(const Tensor& x) { return trace::traced(activation(Act::tanh, {}, x, "tanh"), "Tanh", {x}); }
Tensor gelu(const Tensor& x) { return activation(Act::gelu, {}, x, "gelu"); }
Tensor erf(const Tensor& x) { return activation(Act::erf, {}, x, "erf"); }
Tensor softplus(const Tensor& x) { return activation(Act::softplus, {}, x, "softplus"); }
Tensor hardswish(const Tensor& x) {
  return trace::traced(activation(Act::hardswish, {}, x, "hardswish"), "HardSwish", {x});
}
Tensor softmax(const Tensor& x, std::int64_t dim) {
  return trace::traced(softmax_impl(x, dim, false, "softmax"), "Softmax", {x}, {{"axis", dim}});
}
Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  return trace::traced(softmax_impl(x, dim, true, "log_softmax"), "LogSoftmax", {x}, {{"axis", dim}});
}

}  // namespace fovea
