// One row of bench/models.py, timed with fovea in a process of its own (so that the parent can
// read this process's peak memory): a training step or an inference pass of a zoo model at the
// size fovea train uses. Or the machine's f32 matrix-multiply peak (a 2048^3 matmul).
//   bench_models THREADS peak BUDGET
//   bench_models THREADS train|infer MODEL SIZE CHANNELS BATCH SMALL_INPUT(0|1) BUDGET
// Prints one JSON object.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "fovea/analysis/summary.h"
#include "fovea/autograd/grad_mode.h"
#include "fovea/core/threads.h"
#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/sgd.h"

using namespace fovea;
using fovea::bench::median_seconds;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s THREADS peak BUDGET | THREADS train|infer MODEL SIZE C BATCH SMALL BUDGET\n",
                 argv[0]);
    return 2;
  }
  set_num_threads(std::atoi(argv[1]));
  const std::string kind = argv[2];
  if (kind == "peak") {
    NoGradGuard ng;
    Tensor a = randn({2048, 2048}), b = randn({2048, 2048});
    const double s = median_seconds([&] { matmul(a, b); }, std::atof(argv[3]));
    std::printf("{\"gflops\": %.1f}\n", 2.0 * 2048 * 2048 * 2048 / s / 1e9);
    return 0;
  }
  if (argc != 9) return 2;
  const std::string model = argv[3];
  const std::int64_t size = std::atoll(argv[4]), channels = std::atoll(argv[5]), batch = std::atoll(argv[6]);
  const bool train = kind == "train", small = std::strcmp(argv[7], "1") == 0;
  const double budget = std::atof(argv[8]);
  const models::ModelOptions o{.num_classes = train ? 10 : 1000, .in_channels = channels, .small_input = small};
  std::int64_t macs = 0, params = 0;
  {
    DefaultDeviceGuard meta(kMeta);
    auto net = models::create(model, o);
    macs = analysis::summarize(*net, {channels, size, size}).macs;
    params = net->num_parameters();
  }
  manual_seed(0);
  auto net = models::create(model, o);
  Tensor x = randn({batch, channels, size, size});
  std::size_t runs = 0;
  double s;
  if (train) {
    net->train();
    Tensor y = from_vector(std::vector<std::int64_t>(static_cast<std::size_t>(batch), 1), {batch});
    optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
    s = median_seconds(
        [&] {
          opt.zero_grad();
          cross_entropy((*net)(x), y).backward();
          opt.step();
        },
        budget, 2, 3, &runs);
  } else {
    net->eval();
    NoGradGuard ng;
    s = median_seconds([&] { (*net)(x); }, budget, 2, 3, &runs);
  }
  // a training step: forward, backward-data and backward-weights, about 3x the forward's work
  const double flops = (train ? 3 : 1) * 2.0 * static_cast<double>(macs) * static_cast<double>(batch);
  std::printf(
      "{\"images_per_sec\": %.3f, \"ms\": %.3f, \"gflops\": %.2f, \"params\": %lld, \"macs\": %lld, \"runs\": %zu}\n",
      static_cast<double>(batch) / s, s * 1e3, flops / s / 1e9, static_cast<long long>(params),
      static_cast<long long>(macs), runs);
}
