#pragma once
// The standard layers. Construct with option structs:
//   auto conv = nn::make<nn::Conv2d>({.in = 3, .out = 64, .kernel = 7, .stride = 2, .padding = 3});
#include <optional>

#include "fovea/nn/module.h"
#include "fovea/ops/ops.h"

namespace fovea::nn {

template <typename M>
std::shared_ptr<M> make(typename M::Options o) {
  return std::make_shared<M>(std::move(o));
}
template <typename M>
std::shared_ptr<M> make() {
  return std::make_shared<M>();
}

struct Conv2dOptions {
  std::int64_t in = 0, out = 0;
  Pair kernel = 3;
  Pair stride = 1;
  Padding padding = 0;
  Pair dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

// weight: (out, in/groups, kH, kW), bias: (out); PyTorch's default init
class Conv2d : public Module {
 public:
  using Options = Conv2dOptions;
  explicit Conv2d(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_parameters();
  const Options& options() const { return o_; }
  Tensor weight, bias;

 private:
  Options o_;
};

struct LinearOptions {
  std::int64_t in = 0, out = 0;
  bool bias = true;
};

class Linear : public Module {
 public:
  using Options = LinearOptions;
  explicit Linear(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  void reset_parameters();
  const Options& options() const { return o_; }
  Tensor weight, bias;

 private:
  Options o_;
};

struct BatchNorm2dOptions {
  std::int64_t features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
  bool scale = true;  // false (with affine): a learnt shift but no learnt scale, as Keras's scale=False
};

// buffers: running_mean, running_var, num_batches_tracked (torchvision's keys)
class BatchNorm2d : public Module {
 public:
  using Options = BatchNorm2dOptions;
  explicit BatchNorm2d(Options o);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const Options& options() const { return o_; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  Options o_;
};

// activations
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

// pooling (fovea::Pool2dOptions: kernel, stride (0 = kernel), padding, ceil_mode, count_include_pad)
class MaxPool2d : public Module {
 public:
  using Options = Pool2dOptions;
  explicit MaxPool2d(Options o) : Module("MaxPool2d"), o_(o) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, o_); }
  std::string extra_repr() const override;
  const Options& options() const { return o_; }
 private:
  Options o_;
};
class AvgPool2d : public Module {
 public:
  using Options = Pool2dOptions;
  explicit AvgPool2d(Options o) : Module("AvgPool2d"), o_(o) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, o_); }
  std::string extra_repr() const override;
  const Options& options() const { return o_; }
 private:
  Options o_;
};

struct DropoutOptions {
  double p = 0.5;
};
class Dropout : public Module {
 public:
  using Options = DropoutOptions;
  explicit Dropout(Options o = {});
  Tensor forward(const Tensor& x) override { return dropout(x, o_.p, is_training()); }
  std::string extra_repr() const override;
 private:
  Options o_;
};

struct FlattenOptions {
  std::int64_t start = 1, end = -1;
};
class Flatten : public Module {
 public:
  using Options = FlattenOptions;
  explicit Flatten(Options o = {}) : Module("Flatten"), o_(o) {}
  Tensor forward(const Tensor& x) override { return x.flatten(o_.start, o_.end); }
  std::string extra_repr() const override;
 private:
  Options o_;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// Runs its children in order; children are named "0", "1", ... as in PyTorch.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<ModulePtr> ms);
  Sequential& add(ModulePtr m);
  Sequential& add(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  std::size_t size() const { return named_children().size(); }
  ModulePtr operator[](std::size_t i) const { return named_children().at(i).second; }

 protected:
  bool adopt_child(const std::string&, const ModulePtr&) override { return true; }  // runs its children
};

}  // namespace fovea::nn
