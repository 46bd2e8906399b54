#include <gtest/gtest.h>

#include "fovea/autograd/grad_mode.h"
#include "fovea/autograd/node.h"
#include "fovea/nn/nn.h"
#include "fovea/ops/ops.h"

using namespace fovea;

TEST(Autograd, SimpleChainAndAccumulation) {
  Tensor x = from_vector<double>({1, 2, 3}, {3}, {.dtype = DType::f64, .requires_grad = true});
  Tensor y = sum(x * x * 3.0);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6, 12, 18}));
  sum(x * 2.0).backward();  // accumulates
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{8, 14, 20}));
}

TEST(Autograd, DiamondGraph) {
  Tensor x = from_vector<double>({2}, {1}, {.dtype = DType::f64, .requires_grad = true});
  Tensor a = x * 3.0, b = exp(x);
  sum(a * b + a).backward();  // d/dx (3x e^x + 3x) = 3e^x + 3x e^x + 3
  double e2 = std::exp(2.0);
  EXPECT_NEAR(x.grad().item(), 3 * e2 + 6 * e2 + 3, 1e-9);
}

TEST(Autograd, RetainGraph) {
  Tensor x = ones({2}, {.requires_grad = true});
  Tensor y = sum(exp(x));
  y.backward({}, true);
  y.backward();
  EXPECT_NEAR(x.grad().to_vector<float>()[0], 2 * std::exp(1.0), 1e-5);
  Tensor z = sum(exp(x));
  z.backward();
  EXPECT_THROW(z.backward(), Error);  // graph freed
}

TEST(Autograd, NoGradAndDetach) {
  Tensor x = ones({2}, {.requires_grad = true});
  {
    NoGradGuard ng;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
  }
  Tensor d = (x * 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE((x * 2.0).requires_grad());
  EXPECT_THROW(sum(d).backward(), Error);
}

TEST(Autograd, TensorHooks) {
  Tensor x = ones({3}, {.requires_grad = true});
  Tensor h = x * 2.0;
  std::vector<float> seen;
  h.register_hook([&](const Tensor& g) {
    seen = g.to_vector<float>();
    return g * 10.0;  // replaces the gradient flowing on
  });
  int leaf_calls = 0;
  int id = x.register_hook([&](const Tensor&) {
    leaf_calls++;
    return Tensor();
  });
  sum(h).backward();
  EXPECT_EQ(seen, (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{20, 20, 20}));
  EXPECT_EQ(leaf_calls, 1);
  x.remove_hook(id);
  x.set_grad({});
  sum(x * 1.0).backward();
  EXPECT_EQ(leaf_calls, 1);
}

TEST(Autograd, RetainGradOnNonLeaf) {
  Tensor x = ones({2}, {.requires_grad = true});
  Tensor h = x * 3.0;
  h.retain_grad();
  sum(h * h).backward();
  EXPECT_EQ(h.grad().to_vector<float>(), (std::vector<float>{6, 6}));
}

TEST(Autograd, ModuleHooks) {
  auto seq = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Linear>({.in = 4, .out = 3}), nn::make<nn::ReLU>(), nn::make<nn::Linear>({.in = 3, .out = 2})});
  Shape seen_out;
  auto relu_mod = (*seq)[1];
  int fh = relu_mod->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor& out) {
    seen_out = out.shape();
    return Tensor();
  });
  Tensor grad_in_seen, grad_out_seen;
  relu_mod->register_backward_hook([&](nn::Module&, const Tensor& gi, const Tensor& go) {
    grad_in_seen = gi;
    grad_out_seen = go;
    return clamp(gi, 0.0, std::nullopt);  // guided-backprop style rewrite
  });
  Tensor x = randn({5, 4}, {.requires_grad = true});
  sum((*seq)(x)).backward();
  EXPECT_EQ(seen_out, (Shape{5, 3}));
  ASSERT_TRUE(grad_in_seen.defined());
  ASSERT_TRUE(grad_out_seen.defined());
  EXPECT_EQ(grad_out_seen.shape(), (Shape{5, 3}));
  relu_mod->remove_hook(fh);
  seen_out.clear();
  (*seq)(x);
  EXPECT_TRUE(seen_out.empty());
}

// The graph must be freed after backward: no node outlives the step (LeakSanitizer checks the rest).
TEST(Autograd, GraphFreedAfterBackward) {
  Tensor w = randn({8, 8}, {.requires_grad = true});
  std::weak_ptr<autograd::Node> node;
  {
    Tensor y = relu(matmul(randn({4, 8}), w));
    node = y.grad_fn();
    sum(y).backward();
  }
  EXPECT_TRUE(node.expired());
}

TEST(Autograd, HundredTrainingStepsDoNotGrow) {
  auto net = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Conv2d>({.in = 1, .out = 4, .kernel = 3, .padding = 1}), nn::make<nn::BatchNorm2d>({.features = 4}),
      nn::make<nn::ReLU>(), nn::make<nn::MaxPool2d>({.kernel = 2}), nn::make<nn::Flatten>(),
      nn::make<nn::Linear>({.in = 4 * 4 * 4, .out = 3})});
  Tensor x = randn({6, 1, 8, 8});
  Tensor t = from_vector<std::int64_t>({0, 1, 2, 0, 1, 2}, {6});
  std::vector<long> counts;
  for (int step = 0; step < 100; ++step) {
    net->zero_grad();
    Tensor loss = cross_entropy((*net)(x), t);
    loss.backward();
    NoGradGuard ng;
    for (auto& p : net->parameters()) p.add_(p.grad(), -0.01);
    counts.push_back(net->parameters()[0].impl_ptr().use_count());
  }
  EXPECT_EQ(counts.front(), counts.back());
}

TEST(Autograd, EvalBatchNormTrainsBiasAlone) {
  auto bn = nn::make<nn::BatchNorm2d>({.features = 3});
  bn->eval();
  bn->weight.requires_grad_(false);
  sum((*bn)(randn({2, 3, 4, 4}))).backward();
  ASSERT_TRUE(bn->bias.grad().defined());
  EXPECT_EQ(bn->bias.grad().to_vector<float>(), (std::vector<float>{32, 32, 32}));
}

TEST(Autograd, QueuedCallbacksRunOnceAfterEveryGradient) {
  Tensor a = from_vector<double>({1, 2}, {2}, {.dtype = DType::f64, .requires_grad = true});
  Tensor b = from_vector<double>({3}, {1}, {.dtype = DType::f64, .requires_grad = true});
  std::vector<std::string> events;
  a.register_hook([&](const Tensor&) {
    events.push_back("a");
    autograd::queue_callback([&] {
      // every leaf's gradient is in place when the callback runs
      events.push_back(fmt::format("end a={} b={}", a.grad().defined(), b.grad().defined()));
      autograd::queue_callback([&] { events.push_back("queued by a callback"); });
    });
    return Tensor();
  });
  b.register_hook([&](const Tensor&) {
    events.push_back("b");
    return Tensor();
  });
  (sum(a * 2.0) + sum(b)).backward();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2], "end a=true b=true");
  EXPECT_EQ(events[3], "queued by a callback");
  // outside backward a queued callback never runs; a failed pass drops what it queued
  autograd::queue_callback([&] { events.push_back("outside"); });
  Tensor c = from_vector<double>({1}, {1}, {.dtype = DType::f64, .requires_grad = true});
  c.register_hook([&](const Tensor&) -> Tensor {
    autograd::queue_callback([&] { events.push_back("failed pass"); });
    throw Error("[test] hook failure");
  });
  EXPECT_THROW(sum(c).backward(), Error);
  sum(a).backward();
  for (const auto& e : events) EXPECT_TRUE(e != "outside" && e != "failed pass") << e;
}
