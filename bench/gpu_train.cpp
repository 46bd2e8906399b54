// Training throughput on a GPU (issue 8's table): synthetic data already on the device, SGD with
// momentum, images/s over timed steps after warm-up; the "graph" row replays a CUDA graph of the
// step. bench/gpu/bench.py runs the same rows with
// PyTorch and prints both; bench/gpu/check.sh runs everything on the lent GPU machine.
// Usage: bench_gpu_train [cuda|cpu] [seconds per row]. One JSON object per line.
#include <cstdio>
#include <string>

#include "bench/bench_util.h"
#include "fovea/backend/backend.h"
#include "fovea/backend/graph.h"
#include "fovea/models/classic_nets.h"
#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/sgd.h"

using namespace fovea;

int main(int argc, char** argv) {
  const Device dev = Device::parse(argc > 1 ? argv[1] : "cuda");
  const double budget = argc > 2 ? std::atof(argv[2]) : 5.0;
  if (dev.type == DeviceType::cuda && !backend::cuda_available()) {
    std::printf("{\"error\": \"no CUDA device: build with FOVEA_CUDA on a machine with a GPU\"}\n");
    return 1;
  }
  struct Row {
    const char* name;
    const char* model;
    std::int64_t size, batch, channels;
    Precision precision = Precision::f32;
    bool graph = false;  // the step captured once as a CUDA graph and replayed (fovea/backend/graph.h)
  };
  const Row rows[] = {{"resnet50 224 b128", "resnet50", 224, 128, 3},
                      {"resnet50 224 b128 bf16", "resnet50", 224, 128, 3, Precision::bf16},
                      {"resnet18 224 b128", "resnet18", 224, 128, 3},
                      {"vgg16 224 b64", "vgg16", 224, 64, 3},
                      {"densenet121 224 b64", "densenet121", 224, 64, 3},
                      {"lenet5 28 b256", "lenet5", 28, 256, 1},
                      {"lenet5 28 b256 graph", "lenet5", 28, 256, 1, Precision::f32, true}};
  for (const auto& r : rows) {
    manual_seed(0);
    auto net = models::create(r.model, {.num_classes = 1000, .in_channels = r.channels});
    net->to(dev);
    net->train();
    const Tensor x = randn({r.batch, r.channels, r.size, r.size}, {.device = dev});
    const Tensor y = zeros({r.batch}, {.dtype = DType::i64, .device = dev});
    optim::SGD opt(net->parameters(), {.lr = 0.01, .momentum = 0.9});
    Tensor loss;
    auto step = [&] {
      {
        AutocastGuard autocast(r.precision);
        loss = cross_entropy((*net)(x), y);
      }
      opt.zero_grad();
      loss.backward();
      opt.step();
    };
    DeviceGraph graph;
    if (r.graph) {
      step();  // eager first: algorithm search, momentum buffers
      graph = DeviceGraph::capture(dev, step);
    }
    const double s = fovea::bench::median_seconds(
        [&] {
          if (r.graph) graph.replay();
          else step();
          loss.item();  // waits for the device
        },
        budget, 3, 5);
    std::printf("{\"row\": \"%s\", \"images_per_sec\": %.1f}\n", r.name, static_cast<double>(r.batch) / s);
    std::fflush(stdout);
  }
  return 0;
}
