// Explanation timings on resnet18, printed one JSON object per line for bench/explain.py, which
// runs the same with PyTorch and prints both:
//   - one 224x224 image: the five maps (vanilla, guided backprop, deconvnet, Grad-CAM, guided
//     Grad-CAM) against the cost of one forward+backward pass;
//   - a batch (default 32 images of 224x224): every method, each with a target per image.
// Usage: bench_explain THREADS BUDGET [BATCH SIZE METHODS SAMPLES IG_STEPS]
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
  const std::int64_t batch = argc > 3 ? std::atoll(argv[3]) : 32;
  const std::int64_t size = argc > 4 ? std::atoll(argv[4]) : 224;
  const std::string methods = argc > 5 ? argv[5] : "all";
  const int samples = argc > 6 ? std::atoi(argv[6]) : 25;
  const std::int64_t ig_steps = argc > 7 ? std::atoll(argv[7]) : 50;
  set_num_threads(threads);
  manual_seed(0);
  auto net = models::create("resnet18", {.num_classes = 1000, .in_channels = 3});
  net->eval();
  const Tensor x = randn({1, 3, 224, 224});
  const Tensor target = from_vector<std::int64_t>({7}, {1});
  auto row = [](const std::string& name, double s) {
    std::printf("{\"row\": \"%s\", \"seconds\": %.6f}\n", name.c_str(), s);
    std::fflush(stdout);
  };
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

  // the batch: targets 0, 1, 2, ... (one per image); each method once at least, alone
  const Tensor xb = randn({batch, 3, size, size});
  std::vector<std::int64_t> t(static_cast<std::size_t>(batch));
  for (std::int64_t i = 0; i < batch; ++i) t[static_cast<std::size_t>(i)] = i % 1000;
  const Tensor tb = from_vector<std::int64_t>(t, {batch});
  explain::gradient_map(*net, xb, tb);  // warm: the first backward pass of this size allocates
  for (auto m : explain::parse_methods(methods)) {
    explain::ExplainOptions o;
    o.methods = {m};
    o.batch = batch;
    o.smoothgrad_samples = samples;
    o.ig_steps = ig_steps;
    row("batch " + explain::method_name(m), median_seconds([&] { explain::explain(*net, xb, tb, o); }, budget, 0, 1));
  }
  return 0;
}
