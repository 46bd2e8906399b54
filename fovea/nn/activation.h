#pragma once
// Activation layers, torch.nn.ReLU, LeakyReLU, ELU, Sigmoid, Tanh, GELU, Hardswish, Softmax and
// LogSoftmax (the functional forms are fovea::relu and so on):
//   auto act = nn::make<nn::LeakyReLU>({.negative_slope = 0.2});
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
class LeakyReLU : public Module {
 public:
  using Options = LeakyReLUOptions;
  explicit LeakyReLU(Options o = {}) : Module("LeakyReLU"), o_(o) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, o_.negative_slope); }
  std::string extra_repr() const override;
 private:
  Options o_;
};
struct ELUOptions {
  double alpha = 1.0;
};
class ELU : public Module {
 public:
  using Options = ELUOptions;
  explicit ELU(Options o = {}) : Module("ELU"), o_(o) {}
  Tensor forward(const Tensor& x) override { return elu(x, o_.alpha); }
  std::string extra_repr() const override;
 private:
  Options o_;
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
class Hardswish : public Module {
 public:
  Hardswish() : Module("Hardswish") {}
  Tensor forward(const Tensor& x) override { return hardswish(x); }
};
struct SoftmaxOptions {
  std::int64_t dim = 1;
};
class Softmax : public Module {
 public:
  using Options = SoftmaxOptions;
  explicit Softmax(Options o = {}) : Module("Softmax"), o_(o) {}
  Tensor forward(const Tensor& x) override { return softmax(x, o_.dim); }
  std::string extra_repr() const override;
 private:
  Options o_;
};
struct LogSoftmaxOptions {
  std::int64_t dim = 1;
};
class LogSoftmax : public Module {
 public:
  using Options = LogSoftmaxOptions;
  explicit LogSoftmax(Options o = {}) : Module("LogSoftmax"), o_(o) {}
  Tensor forward(const Tensor& x) override { return log_softmax(x, o_.dim); }
  std::string extra_repr() const override;
 private:
  Options o_;
};

}  // namespace fovea::nn
