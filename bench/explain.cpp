// The five maps (vanilla, guided backprop, deconvnet, Grad-CAM, guided Grad-CAM) of one 224x224
// image on resnet18, timed with fovea, against the cost of one forward+backward pass;
// bench/explain.py runs the same with PyTorch and prints both. One JSON object per line.
#include <cstdio>
#include <string>

#include "bench/bench_util.h"
#include "fovea/core/threads.h"
#include "fovea/explain/explain.h"
#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"

using namespace fovea;
using fovea::bench::median_seconds;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const double budget = argc > 2 ? std::atof(argv[2]) : 3.0;
  set_num_threads(threads);
  manual_seed(0);
  auto net = models::create("resnet18", {.num_classes = 1000, .in_channels = 3});
  net->eval();
  const Tensor x = randn({1, 3, 224, 224});
  const Tensor target = from_vector<std::int64_t>({7}, {1});
  auto row = [](const char* name, double s) { std::printf("{\"row\": \"%s\", \"seconds\": %.6f}\n", name, s); };
  // a training-style pass: logits, then backward into every weight and the input
  row("forward+backward", median_seconds(
                              [&] {
                                Tensor xi = x.clone().requires_grad_(true);
                                sum((*net)(xi).select(1, 7)).backward();
                                net->zero_grad();
                              },
                              budget));
  row("vanilla", median_seconds([&] { explain::gradient_map(*net, x, target); }, budget));
  row("five maps", median_seconds([&] { explain::explain(*net, x, target); }, budget));
  return 0;
}
