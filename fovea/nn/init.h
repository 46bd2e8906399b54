#pragma once
// Weight initialisation (PyTorch's torch.nn.init with the same formulas and defaults).
#include <string>
#include <utility>

#include "fovea/core/generator.h"
#include "fovea/core/tensor.h"

namespace fovea::nn::init {

enum class FanMode { fan_in, fan_out };

// (fan_in, fan_out) of a weight: (out, in, k...) -> (in * prod(k), out * prod(k))
std::pair<std::int64_t, std::int64_t> fans(const Tensor& w);
// gain for a nonlinearity: linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2/(1+a^2)), selu 3/4
double gain(const std::string& nonlinearity, double param = 0.01);

void uniform_(const Tensor& t, double lo, double hi, Generator& g = default_generator());
void normal_(const Tensor& t, double mean, double std, Generator& g = default_generator());
void constant_(const Tensor& t, double v);
// He et al. 2015 (https://arxiv.org/abs/1502.01852): bound = gain * sqrt(3 / fan)
void kaiming_uniform_(const Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                      const std::string& nonlinearity = "leaky_relu", Generator& g = default_generator());
void kaiming_normal_(const Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                     const std::string& nonlinearity = "leaky_relu", Generator& g = default_generator());
// Glorot and Bengio 2010: bound = gain * sqrt(6 / (fan_in + fan_out))
void xavier_uniform_(const Tensor& t, double gain = 1.0, Generator& g = default_generator());
void xavier_normal_(const Tensor& t, double gain = 1.0, Generator& g = default_generator());

// PyTorch's default for conv, transposed conv and linear layers: kaiming_uniform_(w, a = sqrt(5)),
// i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias b (if defined).
void default_layer_init_(const Tensor& w, const Tensor& b, Generator& g = default_generator());

}  // namespace fovea::nn::init
