// Zoo models, training steps and inference, timed with fovea; bench/models.py runs the same rows
// with torchvision and prints both. Also measures the machine's f32 matrix-multiply peak (a
// 2048^3 matmul) so inference rows can be put against it. One JSON object per line.
#include <algorithm>
#include <chrono>
#include <cstdio>
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

namespace {

std::int64_t macs_of(const std::string& name, std::int64_t classes, std::int64_t size) {
  DefaultDeviceGuard meta(kMeta);
  auto net = models::create(name, {.num_classes = classes, .in_channels = 3});
  return analysis::summarize(*net, {3, size, size}).macs;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const double budget = argc > 2 ? std::atof(argv[2]) : 3.0;
  set_num_threads(threads);
  {
    NoGradGuard ng;
    Tensor a = randn({2048, 2048}), b = randn({2048, 2048});
    double s = median_seconds([&] { matmul(a, b); }, budget / 2);
    std::printf("{\"row\": \"peak\", \"gflops\": %.1f}\n", 2.0 * 2048 * 2048 * 2048 / s / 1e9);
  }
  struct Row {
    const char* row;
    const char* model;
    std::int64_t size, batch;
    bool train;
  };
  for (const Row& r :
       {Row{"resnet18 train 32px b64", "resnet18", 32, 64, true},
        Row{"resnet18 infer 224 b1", "resnet18", 224, 1, false},
        Row{"resnet18 infer 224 b16", "resnet18", 224, 16, false}, Row{"vgg16 infer 224 b1", "vgg16", 224, 1, false},
        Row{"densenet121 train 32px b32", "densenet121", 32, 32, true}}) {
    const std::int64_t classes = r.train ? 10 : 1000;
    manual_seed(0);
    auto net = models::create(r.model, {.num_classes = classes, .in_channels = 3});
    Tensor x = randn({r.batch, 3, r.size, r.size});
    double s;
    if (r.train) {
      net->train();
      Tensor y = from_vector(std::vector<std::int64_t>(static_cast<size_t>(r.batch), 1), {r.batch});
      optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
      s = median_seconds(
          [&] {
            opt.zero_grad();
            cross_entropy((*net)(x), y).backward();
            opt.step();
          },
          budget);
    } else {
      net->eval();
      NoGradGuard ng;
      s = median_seconds([&] { (*net)(x); }, budget);
    }
    const double macs = static_cast<double>(macs_of(r.model, classes, r.size)) * static_cast<double>(r.batch);
    std::printf("{\"row\": \"%s\", \"images_per_sec\": %.2f, \"ms\": %.3f, \"gflops\": %.1f}\n", r.row,
                static_cast<double>(r.batch) / s, s * 1e3, (r.train ? 3 : 1) * 2 * macs / s / 1e9);
    std::fflush(stdout);
  }
}
