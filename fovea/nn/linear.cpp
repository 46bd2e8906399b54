#include "fovea/nn/linear.h"

#include "fovea/nn/init.h"

namespace fovea::nn {

Linear::Linear(Options o) : WithOptions("Linear", o) {
  if (o.in <= 0 || o.out <= 0) fail("Linear", "in and out features must be positive, got in={} out={}", o.in, o.out);
  weight = register_parameter("weight", empty({o.out, o.in}));
  if (o.bias) bias = register_parameter("bias", empty({o.out}));
  reset_parameters();
}

void Linear::reset_parameters() { init::default_layer_init_(weight, bias); }
Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }
std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", o_.in, o_.out, o_.bias ? "True" : "False");
}

}  // namespace fovea::nn
