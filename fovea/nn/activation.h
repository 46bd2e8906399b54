#pragma once
// Activation layers, torch.nn.ReLU, LeakyReLU, PReLU, ELU, Sigmoid, Tanh, GELU, Softplus,
// Hardswish, Softmax and LogSoftmax (the functional forms are fovea::relu and so on):
//   auto act = nn::make<nn::LeakyReLU>({.negative_slope = 0.2});
//   auto learnt = nn::make<nn::PReLU>({.num_parameters = 64});
#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};
struct LeakyReLUOptions {
  double negative_slope = 0.01;
};
class LeakyReLU : public WithOptions<LeakyReLUOptions> {
 public:
  explicit LeakyReLU(Options o = {}) : WithOptions("LeakyReLU", o) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, o_.negative_slope); }
  std::string extra_repr() const override;
};
struct ELUOptions {
  double alpha = 1.0;
};
class ELU : public WithOptions<ELUOptions> {
 public:
  explicit ELU(Options o = {}) : WithOptions("ELU", o) {}
  Tensor forward(const Tensor& x) override { return elu(x, o_.alpha); }
  std::string extra_repr() const override;
};
class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};
class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override { return tanh(x); }
};
class GELU : public Module {
 public:
  GELU() : Module("GELU") {}
  Tensor forward(const Tensor& x) override { return gelu(x); }
};
class Softplus : public Module {
 public:
  Softplus() : Module("Softplus") {}
  Tensor forward(const Tensor& x) override { return softplus(x); }
};
struct PReLUOptions {
  std::int64_t num_parameters = 1;  // 1: one slope for all; C: one per channel (dim 1 of the input)
  double init = 0.25;
};
// x >= 0 ? x : a x with the slopes a learnt: parameter weight (num_parameters)
class PReLU : public WithOptions<PReLUOptions> {
 public:
  explicit PReLU(Options o = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  Tensor weight;
};
class Hardswish : public Module {
 public:
  Hardswish() : Module("Hardswish") {}
  Tensor forward(const Tensor& x) override { return hardswish(x); }
};
struct SoftmaxOptions {
  std::int64_t dim = 1;
};
class Softmax : public WithOptions<SoftmaxOptions> {
 public:
  explicit Softmax(Options o = {}) : WithOptions("Softmax", o) {}
  Tensor forward(const Tensor& x) override { return softmax(x, o_.dim); }
  std::string extra_repr() const override;
};
struct LogSoftmaxOptions {
  std::int64_t dim = 1;
};
class LogSoftmax : public WithOptions<LogSoftmaxOptions> {
 public:
  explicit LogSoftmax(Options o = {}) : WithOptions("LogSoftmax", o) {}
  Tensor forward(const Tensor& x) override { return log_softmax(x, o_.dim); }
  std::string extra_repr() const override;
};

}  // namespace fovea::nn
