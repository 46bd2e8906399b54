// `fovea summary --memory`: the estimate made on the meta device against the tensor bytes a real
// training step on the CPU has alive at its peak (the CPU allocator's own counters).
#include <gtest/gtest.h>

#include "fovea/analysis/memory.h"
#include "fovea/backend/backend.h"
#include "fovea/backend/meta_memory.h"
#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"
#include "fovea/train/trainer.h"

using namespace fovea;

namespace {

struct Case {
  std::string model;
  Shape input;
  std::int64_t batch;
  std::string optimizer;  // "sgd" (momentum 0.9) or "adam"
  std::int64_t classes = 10;
};

// the trainer's optimizer of that kind (SGD: momentum 0.9)
std::unique_ptr<optim::Optimizer> make(const std::string& kind, const std::vector<Tensor>& p) {
  train::RunConfig c;
  c.optimizer = kind;
  return train::make_optimizer(c, p);
}

analysis::MemoryEstimate estimate(const Case& c) {
  DefaultDeviceGuard meta(kMeta);
  auto net = models::create(c.model, {.num_classes = c.classes, .in_channels = c.input[0], .small_input = true});
  return analysis::estimate_memory(*net, c.input, {.batch = c.batch, .optimizer = [&](const std::vector<Tensor>& p) {
                                                     return make(c.optimizer, p);
                                                   }});
}

// The most tensor bytes alive during the second of two real steps (the trainer's order:
// zero_grad, forward, loss, backward, update), counting from before the network was built.
std::int64_t measured_peak(const Case& c) {
  manual_seed(0);
  const std::int64_t base = backend::cpu_memory_stats().live_bytes;
  auto net = models::create(c.model, {.num_classes = c.classes, .in_channels = c.input[0], .small_input = true});
  net->train();
  auto opt = make(c.optimizer, net->trainable_parameters());
  std::int64_t peak = 0;
  for (int step = 0; step < 2; ++step) {
    Tensor x = randn({c.batch, c.input[0], c.input[1], c.input[2]});
    std::vector<std::int64_t> labels(static_cast<size_t>(c.batch));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i) % c.classes;
    Tensor y = from_vector(labels, {c.batch});
    if (step == 1) backend::reset_cpu_peak_memory();
    opt->zero_grad();
    Tensor loss = cross_entropy((*net)(x), y);
    loss.backward();
    opt->step();
    if (step == 1) peak = backend::cpu_memory_stats().peak_bytes - base;
  }
  return peak;
}

double ratio(const Case& c) {
  const auto e = estimate(c);
  const auto real = measured_peak(c);
  const double r = static_cast<double>(e.peak) / static_cast<double>(real);
  std::printf("%-12s batch %3lld %-4s estimate %8.2f MB  measured %8.2f MB  ratio %.3f\n", c.model.c_str(),
              static_cast<long long>(c.batch), c.optimizer.c_str(), static_cast<double>(e.peak) / 1e6,
              static_cast<double>(real) / 1e6, r);
  return r;
}

}  // namespace

TEST(MemoryEstimate, WithinFifteenPercentOfAMeasuredTrainingStep) {
  for (const auto& c : std::vector<Case>{{"resnet18", {3, 32, 32}, 32, "sgd"},
                                         {"mobilenet_v2", {3, 32, 32}, 16, "adam"},
                                         {"densenet121", {3, 32, 32}, 8, "sgd"}})
    EXPECT_NEAR(ratio(c), 1.0, 0.15) << c.model;
}

// What the estimate leaves out: oneDNN runs LeNet-5's first convolution (6 channels) in a layout
// padded to 16 channels (12.8 MB at batch 256) and copies into and out of it; such scratch space
// of the kernels is not counted, so the estimate stays below what is measured.
TEST(MemoryEstimate, LeavesOutTheKernelsLayoutCopies) {
  const double r = ratio({"lenet5", {1, 28, 28}, 256, "sgd"});
  EXPECT_LT(r, 1.0);
  EXPECT_GT(r, 0.75);
}
