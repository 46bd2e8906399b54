// The largest training batch that fits a memory budget, from the estimate `fovea summary
// --memory` prints (docs/analysis.md, "Memory of a training step"). Nothing is trained or
// allocated: each batch size is tried on the meta device.
//   batch_for_memory MODEL CxHxW BUDGET_MB [sgd|adam|adamw]
// For example: build/examples/batch_for_memory resnet50 3x224x224 4000 adam
#include <fmt/core.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "fovea/analysis/memory.h"
#include "fovea/models/registry.h"
#include "fovea/train/trainer.h"

using namespace fovea;

int main(int argc, char** argv) {
  if (argc < 4) {
    fmt::print(stderr, "usage: {} MODEL CxHxW BUDGET_MB [sgd|adam|adamw]\n", argv[0]);
    return 2;
  }
  try {
    const std::string model = argv[1], optimizer = argc > 4 ? argv[4] : "sgd";
    std::int64_t c = 0, h = 0, w = 0;
    if (std::sscanf(argv[2], "%" SCNd64 "x%" SCNd64 "x%" SCNd64, &c, &h, &w) != 3)
      fail("batch_for_memory", "bad size '{}'", argv[2]);
    const auto budget = static_cast<std::int64_t>(std::stod(argv[3]) * 1e6);

    DefaultDeviceGuard meta(kMeta);  // the network is built without memory
    auto net = models::create(model, {.num_classes = 10, .in_channels = c, .small_input = h <= 64 && w <= 64});
    train::RunConfig config;  // the trainer's optimizer settings (SGD: momentum 0.9)
    config.optimizer = optimizer;
    config.validate();
    auto peak_at = [&](std::int64_t batch) {
      analysis::MemoryOptions o{
          .batch = batch, .optimizer = [&](const std::vector<Tensor>& p) { return train::make_optimizer(config, p); }};
      return analysis::estimate_memory(*net, {c, h, w}, o).peak;
    };
    if (peak_at(1) > budget) {
      fmt::print("{} does not fit {} MB even at batch 1 ({:.0f} MB)\n", model, argv[3], peak_at(1) / 1e6);
      return 1;
    }
    std::int64_t lo = 1, hi = 2;  // peak_at(lo) fits; grow hi until it does not, then bisect
    while (peak_at(hi) <= budget) lo = hi, hi *= 2;
    while (hi - lo > 1) {
      const std::int64_t mid = (lo + hi) / 2;
      (peak_at(mid) <= budget ? lo : hi) = mid;
    }
    fmt::print("{} at {}x{}x{} with {}: batch {} fits {} MB (estimated peak {:.0f} MB of tensors)\n", model, c, h, w,
               optimizer, lo, argv[3], peak_at(lo) / 1e6);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
