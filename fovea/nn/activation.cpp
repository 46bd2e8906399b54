#include "fovea/nn/activation.h"

namespace fovea::nn {

std::string LeakyReLU::extra_repr() const { return fmt::format("negative_slope={}", o_.negative_slope); }
std::string ELU::extra_repr() const { return fmt::format("alpha={}", o_.alpha); }
std::string Softmax::extra_repr() const { return fmt::format("dim={}", o_.dim); }
std::string LogSoftmax::extra_repr() const { return fmt::format("dim={}", o_.dim); }

PReLU::PReLU(Options o) : WithOptions("PReLU", o) {
  if (o.num_parameters < 1) fail("PReLU", "num_parameters must be >= 1, got {}", o.num_parameters);
  weight = register_parameter("weight", full({o.num_parameters}, o.init));
}

// max(x, 0) + a min(x, 0), a broadcast over dim 1 when there is one slope per channel (not
// relu: the backward rules of guided backprop and deconvnet are ReLU's alone)
Tensor PReLU::forward(const Tensor& x) {
  Tensor a = weight;
  if (o_.num_parameters > 1) {
    if (x.dim() < 2 || x.size(1) != o_.num_parameters)
      fail("PReLU", "{} slopes for input {} (expected {} channels in dim 1)", o_.num_parameters, shape_str(x.shape()),
           o_.num_parameters);
    Shape s(static_cast<std::size_t>(x.dim() - 1), 1);
    s[0] = o_.num_parameters;
    a = weight.reshape(s);
  }
  const Tensor zero = scalar_like(0.0, x);
  return maximum(x, zero) + a * minimum(x, zero);
}

std::string PReLU::extra_repr() const { return fmt::format("num_parameters={}", o_.num_parameters); }

}  // namespace fovea::nn
