// Conv2d forward+backward timings on the ResNet-18 and LeNet-5 layer shapes.
// Prints one JSON object per shape; bench/ops.py runs it beside the PyTorch twin.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "fovea/ops/ops.h"

using namespace fovea;

struct Case {
  const char* name;
  std::int64_t n, c, h, o, k, s, p;
};

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::stoi(argv[1]) : 2;
  double budget = argc > 2 ? std::stod(argv[2]) : 1.0;  // seconds per case
  omp_set_num_threads(threads);
  const std::vector<Case> cases{{"resnet18.conv1", 32, 3, 224, 64, 7, 2, 3},
                                {"resnet18.layer1", 32, 64, 56, 64, 3, 1, 1},
                                {"resnet18.layer2.0", 32, 64, 56, 128, 3, 2, 1},
                                {"resnet18.layer2", 32, 128, 28, 128, 3, 1, 1},
                                {"resnet18.layer2.ds", 32, 64, 56, 128, 1, 2, 0},
                                {"resnet18.layer3.0", 32, 128, 28, 256, 3, 2, 1},
                                {"resnet18.layer3", 32, 256, 14, 256, 3, 1, 1},
                                {"resnet18.layer3.ds", 32, 128, 28, 256, 1, 2, 0},
                                {"resnet18.layer4.0", 32, 256, 14, 512, 3, 2, 1},
                                {"resnet18.layer4", 32, 512, 7, 512, 3, 1, 1},
                                {"resnet18.layer4.ds", 32, 256, 14, 512, 1, 2, 0},
                                {"lenet5.c1", 64, 1, 28, 6, 5, 1, 2},
                                {"lenet5.c3", 64, 6, 14, 16, 5, 1, 0}};
  for (const auto& c : cases) {
    Tensor x = randn({c.n, c.c, c.h, c.h}).requires_grad_();
    Tensor w = (randn({c.o, c.c, c.k, c.k}) * 0.1).detach().requires_grad_();
    Tensor b = zeros({c.o}).requires_grad_();
    Conv2dOptions o{.stride = c.s, .padding = c.p};
    Tensor gy = randn(conv2d(x.detach(), w.detach(), b.detach(), o).shape());
    auto step = [&] {
      x.set_grad({});
      w.set_grad({});
      b.set_grad({});
      conv2d(x, w, b, o).backward(gy);
    };
    std::size_t runs = 0;
    const double median = fovea::bench::median_seconds(step, budget, 3, 5, &runs);
    std::printf("{\"name\": \"%s\", \"ms\": %.4f, \"iters\": %zu}\n", c.name, median * 1e3, runs);
    std::fflush(stdout);
  }
}
