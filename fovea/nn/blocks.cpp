#include "fovea/nn/blocks.h"

namespace fovea::nn {

Sequential::Sequential(std::initializer_list<ModulePtr> ms) : Module("Sequential") {
  for (auto& m : ms) add(m);
}

Sequential& Sequential::add(ModulePtr m) { return add(std::to_string(size()), std::move(m)); }

Sequential& Sequential::add(const std::string& name, ModulePtr m) {
  add_child(name, std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& [n, c] : named_children()) h = (*c)(h);
  return h;
}

DepthwiseSeparableConv2d::DepthwiseSeparableConv2d(Options o) : WithOptions("DepthwiseSeparableConv2d", o) {
  if (o.in <= 0 || o.out <= 0)
    fail("DepthwiseSeparableConv2d", "in and out channels must be positive, got in={} out={}", o.in, o.out);
  if (o.multiplier < 1) fail("DepthwiseSeparableConv2d", "multiplier must be >= 1, got {}", o.multiplier);
  const std::int64_t mid = o.in * o.multiplier;
  depthwise = register_module("depthwise", make<Conv2d>({.in = o.in,
                                                         .out = mid,
                                                         .kernel = o.kernel,
                                                         .stride = o.stride,
                                                         .padding = o.padding,
                                                         .dilation = o.dilation,
                                                         .groups = o.in,
                                                         .bias = o.bias}));
  if (o.norm) {
    bn = register_module("bn", make<BatchNorm2d>({.features = mid}));
    relu = register_module("relu", make<ReLU>());
  }
  pointwise = register_module("pointwise", make<Conv2d>({.in = mid, .out = o.out, .kernel = 1, .bias = o.bias}));
}

Tensor DepthwiseSeparableConv2d::forward(const Tensor& x) {
  Tensor h = (*depthwise)(x);
  if (bn) h = (*relu)((*bn)(h));
  return (*pointwise)(h);
}

Residual::Residual(Options o) : Module("Residual") {
  if (!o.body) fail("Residual", "a body module is required");
  body = register_module("body", o.body);
  if (o.shortcut) shortcut = register_module("shortcut", o.shortcut);
  if (o.activation) activation = register_module("activation", o.activation);
}

Tensor Residual::forward(const Tensor& x) {
  Tensor y = (*body)(x);
  Tensor s = shortcut ? (*shortcut)(x) : x;
  // add() would broadcast a (N,C,1,1) body output silently
  if (y.shape() != s.shape())
    fail("Residual", "the body gives {} but the {} gives {}; give a shortcut that matches", shape_str(y.shape()),
         shortcut ? "shortcut" : "identity shortcut", shape_str(s.shape()));
  y = y + s;
  return activation ? (*activation)(y) : y;
}

Concat::Concat(Options o) : Module("Concat"), dim_(o.dim) {
  for (auto& m : o.branches) add(m);
}

Concat& Concat::add(ModulePtr m) { return add(std::to_string(size()), std::move(m)); }

Concat& Concat::add(const std::string& name, ModulePtr m) {
  if (!m) fail("Concat", "branch '{}' is null", name);
  add_child(name, std::move(m));
  return *this;
}

bool Residual::adopt_child(const std::string& name, const ModulePtr& m) {
  ModulePtr* slot = name == "body"         ? &body
                    : name == "shortcut"   ? &shortcut
                    : name == "activation" ? &activation
                                           : nullptr;
  if (slot) *slot = m;
  return slot != nullptr;
}

Tensor Concat::forward(const Tensor& x) {
  if (named_children().empty()) fail("Concat", "has no branches");
  std::vector<Tensor> outs;
  for (auto& [n, c] : named_children()) outs.push_back((*c)(x));
  return cat(outs, dim_);
}

std::string Concat::extra_repr() const { return dim_ == 1 ? "" : fmt::format("dim={}", dim_); }

}  // namespace fovea::nn
