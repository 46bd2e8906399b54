// Device parity: every op's forward and backward on CUDA against the CPU on the same random
// inputs, then whole models (logits and one training step). Skipped, with a message saying so,
// where fovea was built without CUDA or the machine has no GPU. TF32 is switched off except in
// the test that measures it (its tolerance is documented in docs/gpu.md).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "fovea/autograd/grad_mode.h"
#include "fovea/backend/backend.h"
#include "fovea/backend/graph.h"
#include "fovea/models/classic_nets.h"
#include "fovea/models/registry.h"
#include "fovea/nn/nn.h"
#include "fovea/optim/sgd.h"
#include "tests/cuda/cuda_test.h"
#include "tests/test_util.h"

using namespace fovea;

namespace {

const Device kCuda{DeviceType::cuda, 0};

class DeviceParity : public ::testing::Test {
 protected:
  void SetUp() override {
    FOVEA_SKIP_WITHOUT_CUDA("device parity");
    backend::set_cuda_math({.conv_tf32 = false, .matmul_tf32 = false});
  }
  void TearDown() override { backend::set_cuda_math({}); }
};

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// How a tolerance applies: to each element (tol max(1, |expected|)), or to the whole tensor's
// scale (tol max(1, max |expected|)), for low precision, whose error grows with the sums.
enum class Tol { elementwise, of_scale };

// f on CPU and on CUDA: the outputs and the gradients of (y * gy).sum() for every floating input.
void check(const std::string& what, const std::vector<Tensor>& inputs, const Fn& f, double tol = 1e-4,
           Tol rule = Tol::elementwise) {
  auto expect = [&](const Tensor& actual, const Tensor& expected, const std::string& name) {
    if (rule == Tol::of_scale) test::expect_close_to_scale(actual, expected, tol, name);
    else test::expect_close(actual, expected, tol, name);
  };
  std::vector<Tensor> cpu, gpu;
  for (auto& t : inputs) {
    const bool grad = is_floating(t.dtype());
    cpu.push_back(grad ? t.detach().clone().requires_grad_(true) : t);
    gpu.push_back(grad ? t.detach().to(kCuda).requires_grad_(true) : t.to(kCuda));
  }
  const Tensor yc = f(cpu);
  const Tensor yg = f(gpu);
  ASSERT_EQ(yg.device(), kCuda) << what;
  expect(yg.to(kCPU), yc, what + " forward");
  if (!yc.requires_grad()) return;
  const Tensor gy = randn(yc.shape(), {.dtype = yc.dtype()});
  yc.backward(gy);
  yg.backward(gy.to(kCuda));
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].requires_grad()) continue;
    const std::string name = what + " grad of input " + std::to_string(i);
    ASSERT_EQ(gpu[i].grad().defined(), cpu[i].grad().defined()) << name << " (defined on one device only)";
    if (cpu[i].grad().defined()) expect(gpu[i].grad().to(kCPU), cpu[i].grad(), name);  // running statistics get none
  }
}

Tensor r(const Shape& s) { return randn(s); }

TEST_F(DeviceParity, CopiesAndViews) {
  const Tensor x = r({3, 4, 5});
  test::expect_close(x.to(kCuda).to(kCPU), x, 0, "round trip");
  test::expect_close(x.permute({2, 0, 1}).to(kCuda).contiguous().to(kCPU), x.permute({2, 0, 1}).contiguous(), 0,
                     "strided to device");
  test::expect_close(x.to(kCuda).to(DType::f64).to(kCPU), x.to(DType::f64), 0, "dtype on device");
  test::expect_close(x.to(kCuda).to(DType::bf16).to(DType::f32).to(kCPU), x.to(DType::bf16).to(DType::f32), 0, "bf16");
  test::expect_close(x.to(kCuda).slice(1, 1, 3).to(kCPU), x.slice(1, 1, 3).contiguous(), 0, "slice to host");
}

TEST_F(DeviceParity, Elementwise) {
  check("add broadcast", {r({4, 1, 5}), r({3, 1})}, [](auto& v) { return v[0] + v[1]; });
  check("mul div", {r({4, 5}), abs(r({4, 5})) + 0.5}, [](auto& v) { return v[0] * v[1] / (v[1] + 1.0); });
  check("exp log sqrt", {abs(r({6, 7})) + 0.1}, [](auto& v) { return exp(v[0]) + log(v[0]) + sqrt(v[0]); });
  check("pow maximum", {abs(r({5, 5})) + 0.1, r({5, 5})}, [](auto& v) { return pow(v[0], 1.7) + maximum(v[0], v[1]); });
  check("clamp where", {r({5, 6})},
        [](auto& v) { return where(gt(v[0], scalar_like(0, v[0])), clamp(v[0], -0.5, 0.5), v[0] * 2.0); });
}

TEST_F(DeviceParity, Activations) {
  for (const char* name : {"relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "hardswish"})
    check(name, {r({4, 9})}, [name](auto& v) {
      const std::string n = name;
      if (n == "relu") return relu(v[0]);
      if (n == "leaky_relu") return leaky_relu(v[0], 0.1);
      if (n == "elu") return elu(v[0]);
      if (n == "sigmoid") return sigmoid(v[0]);
      if (n == "tanh") return tanh(v[0]);
      if (n == "gelu") return gelu(v[0]);
      return hardswish(v[0]);
    });
  check("softmax", {r({3, 10})}, [](auto& v) { return softmax(v[0], 1); });
  check("log_softmax dim 0", {r({6, 4, 3})}, [](auto& v) { return log_softmax(v[0], 0); });
  // the ReLU rules of guided backprop and deconvnet run on the device too
  for (auto rule : {ReluGradRule::guided, ReluGradRule::deconvnet}) {
    ReluGradRuleGuard g(rule);
    check("relu rule", {r({5, 5})}, [](auto& v) { return relu(v[0]); });
  }
}

TEST_F(DeviceParity, Reductions) {
  check("sum dims", {r({4, 5, 6})}, [](auto& v) { return sum(v[0], {0, 2}); });
  check("mean", {r({4, 5, 6})}, [](auto& v) { return mean(v[0], {1}, true); });
  check("max dim", {r({7, 8})}, [](auto& v) { return max(v[0], 1); });
  check("var", {r({7, 8})}, [](auto& v) { return var(v[0], {0}); });
  const Tensor x = r({9, 11});
  test::expect_close(argmax(x.to(kCuda), 1).to(kCPU), argmax(x, 1), 0, "argmax");
}

TEST_F(DeviceParity, MatmulAndLinear) {
  check("matmul batched broadcast", {r({2, 3, 4, 5}), r({5, 6})}, [](auto& v) { return matmul(v[0], v[1]); });
  check("matmul transposed views", {r({5, 4}), r({6, 5})}, [](auto& v) { return matmul(v[0].t(), v[1].t()); });
  check("linear", {r({8, 16}), r({10, 16}), r({10})}, [](auto& v) { return linear(v[0], v[1], v[2]); });
}

TEST_F(DeviceParity, Convolution) {
  struct Case {
    const char* name;
    Shape x, w;
    Conv2dOptions o;
  };
  const Case cases[] = {
      {"3x3 pad 1", {2, 3, 9, 9}, {4, 3, 3, 3}, {.padding = 1}},
      {"stride 2", {2, 4, 10, 10}, {6, 4, 3, 3}, {.stride = 2, .padding = 1}},
      {"dilation 2", {1, 3, 12, 12}, {5, 3, 3, 3}, {.padding = 2, .dilation = 2}},
      {"groups 2", {2, 4, 8, 8}, {6, 2, 3, 3}, {.padding = 1, .groups = 2}},
      {"depthwise", {2, 4, 8, 8}, {4, 1, 3, 3}, {.padding = 1, .groups = 4}},
      {"same stride 2 (asymmetric)", {1, 3, 10, 10}, {4, 3, 4, 4}, {.stride = 2, .padding = PadMode::same}},
      {"7x7 stride 2", {1, 3, 32, 32}, {8, 3, 7, 7}, {.stride = 2, .padding = 3}},
  };
  for (const auto& c : cases)
    check(c.name, {r(c.x), r(c.w) * 0.2, r({c.w[0]})}, [o = c.o](auto& v) { return conv2d(v[0], v[1], v[2], o); });
  check("conv_transpose2d", {r({2, 4, 5, 5}), r({4, 3, 3, 3}) * 0.2, r({3})},
        [](auto& v) { return conv_transpose2d(v[0], v[1], v[2], {.stride = 2, .padding = 1, .output_padding = 1}); });
}

TEST_F(DeviceParity, ConvolutionWithTf32) {
  backend::set_cuda_math({.conv_tf32 = true, .matmul_tf32 = true});
  // TF32 keeps 10 mantissa bits: about 1e-3 relative per product, 5e-3 on these sums
  check(
      "conv2d TF32", {r({2, 16, 12, 12}), r({16, 16, 3, 3}) * 0.1, r({16})},
      [](auto& v) { return conv2d(v[0], v[1], v[2], {.padding = 1}); }, 5e-3);
  check(
      "matmul TF32", {r({32, 64}), r({64, 48}) * 0.1}, [](auto& v) { return matmul(v[0], v[1]); }, 5e-3);
}

TEST_F(DeviceParity, Bf16Autocast) {
  // conv and linear compute in bf16 (8 mantissa bits) with f32 accumulation: operands rounded
  // by up to 2^-9 relative, so a sum of n products is off by about 2^-9 sqrt(n) times the typical
  // product, 1% of the largest gradient here (measured: 0.3%)
  AutocastGuard bf16(Precision::bf16);
  check(
      "conv2d bf16", {r({2, 16, 12, 12}), r({16, 16, 3, 3}) * 0.1, r({16})},
      [](auto& v) { return conv2d(v[0], v[1], v[2], {.padding = 1}); }, 1e-2, Tol::of_scale);
  check(
      "linear bf16", {r({8, 64}), r({32, 64}) * 0.1, r({32})}, [](auto& v) { return linear(v[0], v[1], v[2]); }, 1e-2,
      Tol::of_scale);
}

TEST_F(DeviceParity, Pooling) {
  check("max 2x2", {r({2, 3, 8, 8})}, [](auto& v) { return max_pool2d(v[0], {.kernel = 2}); });
  check("max 3x3 s2 ceil", {r({2, 3, 9, 9})},
        [](auto& v) { return max_pool2d(v[0], {.kernel = 3, .stride = 2, .ceil_mode = true}); });
  check("avg pad exclude", {r({2, 3, 7, 7})},
        [](auto& v) { return avg_pool2d(v[0], {.kernel = 3, .stride = 2, .padding = 1, .count_include_pad = false}); });
  check("avg ceil include", {r({1, 2, 8, 8})},
        [](auto& v) { return avg_pool2d(v[0], {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true}); });
  check("adaptive avg", {r({2, 3, 10, 7})}, [](auto& v) { return adaptive_avg_pool2d(v[0], {3, 4}); });
  check("adaptive max", {r({2, 3, 10, 7})}, [](auto& v) { return adaptive_max_pool2d(v[0], {3, 4}); });
  const Tensor x = r({1, 2, 6, 6});
  auto c = max_pool2d_with_indices(x, {.kernel = 2});
  auto g = max_pool2d_with_indices(x.to(kCuda), {.kernel = 2});
  test::expect_close(g.indices.to(kCPU), c.indices, 0, "max pool indices");
  check("max_unpool2d", {r({1, 2, 3, 3})}, [&](auto& v) {
    return max_unpool2d(v[0], c.indices.to(v[0].device()), {6, 6});
  });
}

TEST_F(DeviceParity, ResamplingAndNormalisation) {
  check("nearest x2", {r({1, 2, 5, 6})}, [](auto& v) { return upsample(v[0], {.scale = 2.0}); });
  check("bilinear", {r({1, 2, 5, 6})}, [](auto& v) {
    return upsample(v[0], {.size = {9, 11}, .mode = UpsampleMode::bilinear});
  });
  check("bilinear corners", {r({1, 2, 5, 6})}, [](auto& v) {
    return upsample(v[0], {.size = {8, 8}, .mode = UpsampleMode::bilinear, .align_corners = true});
  });
  check("batch_norm eval", {r({4, 3, 5, 5}), r({3}), abs(r({3})) + 0.5, r({3}), r({3})},
        [](auto& v) { return batch_norm(v[0], v[1].detach(), v[2].detach(), v[3], v[4], {.training = false}); });
  check("batch_norm train", {r({4, 3, 5, 5}), r({3}), r({3})}, [](auto& v) {
    return batch_norm(v[0], zeros({3}, {.device = v[0].device()}), ones({3}, {.device = v[0].device()}), v[1], v[2],
                      {.training = true});
  });
  // channels of more than 8192 elements are reduced in parts (norm_parts), with planes larger and
  // smaller than a block
  for (const Shape& big : {Shape{8, 4, 48, 48}, Shape{2048, 3, 5}})
    check("batch_norm train in parts " + shape_str(big), {r(big) * 3.0 + 1.0, r({big[1]}), r({big[1]})}, [](auto& v) {
      const std::int64_t C = v[0].size(1);
      return batch_norm(v[0], zeros({C}, {.device = v[0].device()}), ones({C}, {.device = v[0].device()}), v[1], v[2],
                        {.training = true});
    });
  check("local_response_norm", {r({2, 8, 4, 4})}, [](auto& v) { return local_response_norm(v[0], {.size = 5}); });
  check("pad cat", {r({2, 3, 4}), r({2, 3, 4})}, [](auto& v) {
    return cat({pad(v[0], {1, 2}), pad(v[1], {2, 1})}, 1);
  });
}

TEST_F(DeviceParity, LossesAndDropout) {
  const Tensor target = from_vector<std::int64_t>({0, 3, 1, 2, 3}, {5});
  check("cross_entropy", {r({5, 4})}, [&](auto& v) { return cross_entropy(v[0], target.to(v[0].device())); });
  check("mse", {r({5, 4}), r({5, 4})}, [](auto& v) { return mse_loss(v[0], v[1].detach()); });
  // dropout masks come from the host generator: the same on both devices
  Generator a(7), b(7);
  const Tensor x = r({50, 20});
  test::expect_close(dropout(x.to(kCuda), 0.3, true, b).to(kCPU), dropout(x, 0.3, true, a), 1e-6, "dropout");
}

// Kernels record a bad index or an integer division by zero instead of stopping the host; the
// next copy from the device throws it, and later work is unaffected.
TEST_F(DeviceParity, KernelErrorsSurfaceAtTheNextCopy) {
  const Tensor x = r({3, 4}).to(kCuda);
  const Tensor loss = cross_entropy(x, from_vector<std::int64_t>({0, 9, 1}, {3}).to(kCuda));
  const std::string e = test::error_of([&] { (void)loss.item(); });
  EXPECT_NE(e.find("[gather] index 9 out of range for size 4"), std::string::npos) << e;
  EXPECT_NE(e.find("found by a kernel on cuda:0"), std::string::npos) << e;
  EXPECT_TRUE(std::isfinite(cross_entropy(x, from_vector<std::int64_t>({0, 3, 1}, {3}).to(kCuda)).item()));

  const Tensor q = from_vector<std::int64_t>({4, 6}, {2}).to(kCuda) / from_vector<std::int64_t>({2, 0}, {2}).to(kCuda);
  const std::string d = test::error_of([&] { (void)q.to(kCPU); });
  EXPECT_NE(d.find("[div] integer division by zero"), std::string::npos) << d;
  const Tensor ok = from_vector<std::int64_t>({4, 6}, {2}).to(kCuda) / from_vector<std::int64_t>({2, 3}, {2}).to(kCuda);
  test::expect_close(ok.to(kCPU), from_vector<std::int64_t>({2, 2}, {2}), 0, "integer division");
}

// A captured LeNet-5 training step replayed on new batches gives what eager steps give.
TEST_F(DeviceParity, GraphReplaysATrainingStep) {
  auto make = [] {
    manual_seed(0);
    auto net = models::create("lenet5", {.num_classes = 10, .in_channels = 1});
    net->to(kCuda);
    net->train();
    return net;
  };
  auto eager = make(), graphed = make();
  optim::SGD oe(eager->parameters(), {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
  optim::SGD og(graphed->parameters(), {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
  const Tensor x = zeros({16, 1, 28, 28}, {.device = kCuda});
  const Tensor y = zeros({16}, {.dtype = DType::i64, .device = kCuda});
  Tensor loss;
  auto step = [&](nn::Module& m, optim::SGD& o) {
    loss = cross_entropy(m(x), y);
    o.zero_grad();
    loss.backward();
    o.step();
  };
  auto batch = [&](int i) {
    manual_seed(100 + i);
    x.copy_(randn({16, 1, 28, 28}));
    std::vector<std::int64_t> labels(16);
    for (auto& l : labels) l = static_cast<std::int64_t>(rand({1}).item() * 10);
    y.copy_(from_vector(labels, {16}));
  };
  batch(0);
  step(*graphed, og);  // eager warm-up: momentum buffers, gradients
  step(*eager, oe);
  const DeviceGraph g = DeviceGraph::capture(kCuda, [&] { step(*graphed, og); });
  const Tensor graph_loss = loss;
  // tensors made after the capture, of the step's activation sizes, never share the graph's memory
  std::vector<Tensor> kept;
  for (std::int64_t n : {16 * 6 * 28 * 28, 16 * 6 * 14 * 14, 16 * 16 * 10 * 10, 16 * 16 * 5 * 5, 16 * 120, 16 * 84})
    kept.push_back(full({n}, 3.0, {.device = kCuda}));
  for (int i = 1; i <= 3; ++i) {
    batch(i);
    g.replay();
    const double lg = graph_loss.item();
    step(*eager, oe);
    EXPECT_NEAR(lg, loss.item(), 1e-5) << "loss of step " << i;
  }
  const auto pe = eager->named_parameters(), pg = graphed->named_parameters();
  for (std::size_t i = 0; i < pe.size(); ++i)
    test::expect_close(pg[i].second.to(kCPU), pe[i].second.to(kCPU), 1e-5, pe[i].first + " after 3 replays");
  for (const Tensor& t : kept) EXPECT_EQ(min(t).item(), 3.0) << "a tensor of " << t.numel() << " was overwritten";
}

TEST_F(DeviceParity, GraphCaptureRefusesHostTraffic) {
  const Tensor x = randn({4, 4}, {.device = kCuda});
  const std::string e = test::error_of([&] { DeviceGraph::capture(kCuda, [&] { (void)sum(x * 2.0).item(); }); });
  EXPECT_NE(e.find("[graph] capturing on cuda:0 failed"), std::string::npos) << e;
  EXPECT_NE(e.find("may not copy between host and device"), std::string::npos) << e;
  EXPECT_NEAR(sum(x * 2.0).item(), 2 * sum(x).item(), 1e-5);  // the device works on afterwards
}

// Whole models: logits equal, and after one SGD step the parameters still agree.
void check_model(const std::string& name, Shape input) {
  manual_seed(0);
  auto cpu = models::create(name, {.num_classes = 10, .in_channels = 3, .small_input = input[2] <= 64});
  manual_seed(0);
  auto gpu = models::create(name, {.num_classes = 10, .in_channels = 3, .small_input = input[2] <= 64});
  gpu->to(kCuda);
  const Tensor x = r(input);
  const Tensor y = from_vector<std::int64_t>(std::vector<std::int64_t>(input[0], 3), {input[0]});
  cpu->eval();
  gpu->eval();
  {
    NoGradGuard ng;
    test::expect_close((*gpu)(x.to(kCuda)).to(kCPU), (*cpu)(x), 1e-3, name + " logits");
  }
  cpu->train();
  gpu->train();
  optim::SGD oc(cpu->parameters(), {.lr = 0.01, .momentum = 0.9});
  optim::SGD og(gpu->parameters(), {.lr = 0.01, .momentum = 0.9});
  auto step = [&](nn::Module& m, optim::SGD& o, const Tensor& xi, const Tensor& yi) {
    Tensor loss = cross_entropy(m(xi), yi);
    for (const auto& aux : m.auxiliary_outputs()) loss = loss + cross_entropy(aux.logits, yi) * aux.weight;
    o.zero_grad();
    loss.backward();
    o.step();
    return loss.item();
  };
  manual_seed(1);  // the same dropout masks on both devices (GoogLeNet)
  const double loss_gpu = step(*gpu, og, x.to(kCuda), y.to(kCuda));
  manual_seed(1);
  const double loss_cpu = step(*cpu, oc, x, y);
  EXPECT_NEAR(loss_gpu, loss_cpu, 1e-3) << name << " loss";
  const auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  for (std::size_t i = 0; i < pc.size(); ++i)
    test::expect_close(pg[i].second.to(kCPU), pc[i].second, 1e-3, name + " " + pc[i].first + " after a step");
}

TEST_F(DeviceParity, Resnet18) { check_model("resnet18", {4, 3, 32, 32}); }
TEST_F(DeviceParity, Densenet121) { check_model("densenet121", {2, 3, 32, 32}); }
TEST_F(DeviceParity, Googlenet) { check_model("googlenet", {2, 3, 64, 64}); }

TEST_F(DeviceParity, Bf16TrainingStepOfResnet18) {
  manual_seed(0);
  auto net = models::create("resnet18", {.num_classes = 10, .in_channels = 3, .small_input = true});
  net->to(kCuda);
  net->train();
  optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
  const Tensor x = r({8, 3, 32, 32}).to(kCuda);
  const Tensor y = zeros({8}, {.dtype = DType::i64, .device = kCuda});
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) {
    Tensor loss;
    {
      AutocastGuard bf16(Precision::bf16);
      loss = cross_entropy((*net)(x), y);
    }
    opt.zero_grad();
    loss.backward();
    opt.step();
    (i == 0 ? first : last) = loss.item();
  }
  for (auto& p : net->parameters()) EXPECT_EQ(p.dtype(), DType::f32);  // f32 master weights
  EXPECT_TRUE(std::isfinite(last));
  EXPECT_LT(last, first);  // five steps on one batch lower its loss
}

// Autocast changes nothing for CPU tensors (it applies to CUDA only).
TEST(Autocast, CpuTensorsAreUnaffected) {
  const Tensor x = r({2, 3, 8, 8}), w = r({4, 3, 3, 3}), b = r({4});
  const Tensor ref = conv2d(x, w, b, {.padding = 1});
  AutocastGuard bf16(Precision::bf16);
  test::expect_close(conv2d(x, w, b, {.padding = 1}), ref, 0, "conv2d under autocast on the CPU");
  EXPECT_EQ(autocast_precision(), Precision::bf16);
}

TEST(DeviceGraph, OnlyCudaDevicesRecord) {
  const std::string e = test::error_of([] { DeviceGraph::capture(kCPU, [] {}); });
  EXPECT_NE(e.find("[graph] graphs record the work of a cuda device; cpu has none"), std::string::npos) << e;
  EXPECT_NE(test::error_of([] { DeviceGraph().replay(); }).find("never captured"), std::string::npos);
}

TEST(DeviceAvailability, ClearErrorWithoutCuda) {
  if (backend::cuda_available()) GTEST_SKIP() << "a CUDA device is present";
  const std::string e = test::error_of([] { zeros({2}).to(kCuda); });
  EXPECT_NE(e.find("cuda"), std::string::npos) << e;
}

}  // namespace
