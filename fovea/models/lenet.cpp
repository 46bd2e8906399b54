// LeNet-5 in its common modern form (LeCun et al. 1998 with ReLU and max-pooling):
// conv 6@5x5 pad 2 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 -> classes.
// Input (C,28,28); 61,706 parameters for one channel and 10 classes.
#include "fovea/models/registry.h"
#include "fovea/nn/init.h"
#include "fovea/nn/nn.h"
#include "fovea/ops/ops.h"

namespace fovea::models {

std::vector<ZooEntry> zoo_lenet() {
  const char* paper = "LeCun et al. 1998, Gradient-based learning applied to document recognition";
  return {
      {{"lenet5", "LeNet-5, modern form: ReLU and max-pooling, 61,706 parameters at 10 classes", paper, {1, 28, 28}},
       lenet5},
      {{"lenet5_1998",
        "LeNet-5 as the paper built it: C3's connection table, trainable sub-sampling, scaled tanh, RBF output; "
        "60,000 trainable parameters + 840 fixed",
        paper,
        {1, 32, 32}},
       lenet5_1998}};
}

nn::ModulePtr lenet5(const ModelOptions& o) {
  auto features = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Conv2d>({.in = o.in_channels, .out = 6, .kernel = 5, .padding = 2}), nn::make<nn::ReLU>(),
      nn::make<nn::MaxPool2d>({.kernel = 2}), nn::make<nn::Conv2d>({.in = 6, .out = 16, .kernel = 5}),
      nn::make<nn::ReLU>(), nn::make<nn::MaxPool2d>({.kernel = 2})});
  auto classifier = std::make_shared<nn::Sequential>(
      std::initializer_list<nn::ModulePtr>{nn::make<nn::Linear>({.in = 16 * 5 * 5, .out = 120}), nn::make<nn::ReLU>(),
                                           nn::make<nn::Linear>({.in = 120, .out = 84}), nn::make<nn::ReLU>(),
                                           nn::make<nn::Linear>({.in = 84, .out = o.num_classes})});
  auto net = std::make_shared<nn::Sequential>();
  net->add("features", features);
  net->add("flatten", nn::make<nn::Flatten>());
  net->add("classifier", classifier);
  return net;
}

namespace {

// The paper's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (appendix A).
Tensor scaled_tanh(const Tensor& x) { return tanh(x * (2.0 / 3.0)) * 1.7159; }

class ScaledTanh : public nn::Module {
 public:
  ScaledTanh() : Module("ScaledTanh") {}
  Tensor forward(const Tensor& x) override { return scaled_tanh(x); }
};

// S2/S4: each map's 2x2 sums times a trainable coefficient plus a trainable bias, squashed.
class Subsampling : public nn::Module {
 public:
  explicit Subsampling(std::int64_t maps) : Module("Subsampling") {
    weight = register_parameter("weight", ones({maps}));
    bias = register_parameter("bias", zeros({maps}));
  }
  std::optional<nn::Window2d> window() const override { return nn::Window2d{.kernel = 2, .stride = 2}; }
  // x: (N,C,H,W) -> (N,C,H/2,W/2)
  Tensor forward(const Tensor& x) override {
    Tensor sums = avg_pool2d(x, {.kernel = 2}) * 4.0;
    return scaled_tanh(sums * weight.reshape({1, -1, 1, 1}) + bias.reshape({1, -1, 1, 1}));
  }
  Tensor weight, bias;
};

// C3: 16 maps of 5x5 over the 6 S2 maps with the paper's table I: maps 0-5 see 3 contiguous
// S2 maps, 6-11 see 4 contiguous, 12-14 four discontinuous, 15 all six (1,516 parameters).
class PartialConv : public nn::Module {
 public:
  PartialConv() : Module("PartialConv") {
    std::int64_t used = 0;
    for (auto& row : table()) used += static_cast<std::int64_t>(row.size());
    weight = register_parameter("weight", empty({used, 5, 5}));  // one 5x5 kernel per connection
    bias = register_parameter("bias", empty({16}));
    // each map's fan-in is its connections x 25, as the paper's uniform +-2.4/fan_in
    nn::init::uniform_(weight, -2.4 / 75, 2.4 / 75);
    nn::init::uniform_(bias, -2.4 / 75, 2.4 / 75);
  }
  static const std::vector<std::vector<int>>& table() {
    static const std::vector<std::vector<int>> t{{0, 1, 2},    {1, 2, 3},    {2, 3, 4},    {3, 4, 5},
                                                 {0, 4, 5},    {0, 1, 5},    {0, 1, 2, 3}, {1, 2, 3, 4},
                                                 {2, 3, 4, 5}, {0, 3, 4, 5}, {0, 1, 4, 5}, {0, 1, 2, 5},
                                                 {0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}, {0, 1, 2, 3, 4, 5}};
    return t;
  }
  std::optional<nn::Window2d> window() const override { return nn::Window2d{.kernel = 5}; }
  // x: (N,6,14,14) -> (N,16,10,10); the full (16,6,5,5) kernel is assembled with zeros where
  // the table has no connection, so one convolution computes all maps
  Tensor forward(const Tensor& x) override {
    Tensor none = zeros({5, 5}, {.dtype = weight.dtype(), .device = weight.device()});
    std::vector<Tensor> maps;
    std::int64_t k = 0;
    for (auto& row : table()) {
      std::vector<Tensor> inputs(6, none);
      for (int c : row) inputs[static_cast<size_t>(c)] = weight.select(0, k++);
      maps.push_back(stack(inputs, 0));
    }
    return conv2d(x, stack(maps, 0), bias);
  }
  Tensor weight, bias;
};

// The output layer: 10 Euclidean RBF units with fixed +-1 centres of 84 entries (the paper drew
// them as 7x12 bitmaps of the characters; fovea uses fixed pseudo-random codes). Logits are the
// negative squared distances, so cross entropy trains it.
class RbfOutput : public nn::Module {
 public:
  explicit RbfOutput(std::int64_t classes) : Module("RbfOutput") {
    Generator g(1998);
    Tensor c = empty({classes, 84}, {.device = kCPU});
    backend_free_fill(c, g);
    centres = register_buffer("centres", c.to(default_device()));
  }
  // x: (N,84) -> (N,classes) = -||x - centre||^2
  Tensor forward(const Tensor& x) override { return neg(sum(square(x.unsqueeze(1) - centres.unsqueeze(0)), {2})); }
  Tensor centres;

 private:
  static void backend_free_fill(const Tensor& c, Generator& g) {
    if (c.is_meta()) return;
    float* p = c.data<float>();
    for (std::int64_t i = 0; i < c.numel(); ++i) p[i] = g.uniform() < 0.5 ? -1.0f : 1.0f;
  }
};

}  // namespace

// LeCun et al. 1998, figure 2: 32x32 input, C1 6@5x5, S2, C3 (table I), S4, C5 120@5x5, F6 84,
// RBF output. Trainable: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164 = 60,000.
nn::ModulePtr lenet5_1998(const ModelOptions& o) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("c1", nn::make<nn::Conv2d>({.in = o.in_channels, .out = 6, .kernel = 5}));
  net->add("s2", std::make_shared<Subsampling>(6));
  net->add("c3", std::make_shared<PartialConv>());
  net->add("c3_act", std::make_shared<ScaledTanh>());
  net->add("s4", std::make_shared<Subsampling>(16));
  net->add("c5", nn::make<nn::Conv2d>({.in = 16, .out = 120, .kernel = 5}));
  net->add("c5_act", std::make_shared<ScaledTanh>());
  net->add("flatten", nn::make<nn::Flatten>());
  net->add("f6", nn::make<nn::Linear>({.in = 120, .out = 84}));
  net->add("f6_act", std::make_shared<ScaledTanh>());
  if (o.rbf_head) net->add("output", std::make_shared<RbfOutput>(o.num_classes));
  else net->add("output", nn::make<nn::Linear>({.in = 84, .out = o.num_classes}));
  return net;
}

}  // namespace fovea::models
