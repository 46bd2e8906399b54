#pragma once
// Modules that compose other modules: Sequential, the depthwise-separable convolution (Xception,
// MobileNet), the residual connection (ResNet) and parallel branches concatenated along the
// channels (Inception).
#include <initializer_list>
#include <vector>

#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/module.h"
#include "fovea/nn/norm.h"

namespace fovea::nn {

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

struct DepthwiseSeparableConv2dOptions {
  std::int64_t in = 0, out = 0;
  Pair kernel = 3;  // the depthwise conv's; the pointwise conv is 1x1
  Pair stride = 1;
  Padding padding = 0;
  Pair dilation = 1;
  std::int64_t multiplier = 1;  // depthwise filters per input channel
  bool bias = true;             // on both convs
  bool norm = false;            // BatchNorm2d + ReLU between the two convs (MobileNet v1)
};

// A k x k conv per channel (groups = in) then a 1x1 conv mixing channels: in * m * k^2 +
// in * m * out weights instead of in * out * k^2 (https://arxiv.org/abs/1610.02357).
// Children: "depthwise", ["bn", "relu"], "pointwise".
class DepthwiseSeparableConv2d : public WithOptions<DepthwiseSeparableConv2dOptions> {
 public:
  explicit DepthwiseSeparableConv2d(Options o);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> depthwise, pointwise;
  std::shared_ptr<BatchNorm2d> bn;  // null unless norm
  std::shared_ptr<ReLU> relu;       // a module, so hooks (guided backprop) see it; null unless norm
};

struct ResidualOptions {
  ModulePtr body = nullptr;        // required
  ModulePtr shortcut = nullptr;    // the identity when null
  ModulePtr activation = nullptr;  // after the sum (ReLU in ResNet); none when null
};

// y = activation(body(x) + shortcut(x)) (He et al. 2015, https://arxiv.org/abs/1512.03385).
// Children: "body", "shortcut", "activation" (those given). The two paths must give one shape.
class Residual : public Module {
 public:
  using Options = ResidualOptions;
  explicit Residual(Options o);
  Tensor forward(const Tensor& x) override;
  ModulePtr body, shortcut, activation;

 protected:
  bool adopt_child(const std::string& name, const ModulePtr& m) override;
};

struct ConcatOptions {
  std::vector<ModulePtr> branches = {};  // named "0", "1", ...; add(name, m) names one
  std::int64_t dim = 1;                  // channels
};

// Applies every branch to the same input and concatenates the outputs along dim, as an
// Inception module does (Szegedy et al. 2014, https://arxiv.org/abs/1409.4842).
class Concat : public Module {
 public:
  using Options = ConcatOptions;
  explicit Concat(Options o = {});
  Concat& add(ModulePtr m);
  Concat& add(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  std::size_t size() const { return named_children().size(); }

 protected:
  bool adopt_child(const std::string&, const ModulePtr&) override { return true; }  // runs its children

 private:
  std::int64_t dim_;
};

}  // namespace fovea::nn
