// One epoch of LeNet-5 on Fashion-MNIST through fovea's trainer (batch 64, SGD momentum 0.9,
// lr 0.05, no schedule), then inference over the test set. Prints one JSON line;
// bench/lenet5_fashion.py runs it beside the PyTorch twin.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fovea/core/threads.h"
#include "fovea/train/trainer.h"

using namespace fovea;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 1;
  set_num_threads(threads);
  auto dir = std::filesystem::temp_directory_path() / fmt::format("fovea_bench_lenet5_{}", ::getpid());
  train::TrainOptions o;
  o.config = {.model = "lenet5",
              .data = "fashion-mnist",
              .epochs = epochs,
              .batch_size = 64,
              .optimizer = "sgd",
              .lr = 0.05,
              .momentum = 0.9,
              .weight_decay = 0,
              .schedule = "none",
              .workers = 1};
  o.out_dir = dir.string();
  o.quiet = true;
  o.log = std::fopen("/dev/null", "w");
  auto r = train::train(o);
  std::ifstream in(dir / "metrics.json");
  auto j = nlohmann::json::parse(in);
  double train_ips = j["epochs"].back()["train_images_per_sec"].get<double>();

  auto ck = train::load_checkpoint((dir / "last.safetensors").string());
  train::RunConfig c = ck.config;
  auto ds = train::open_data(c);
  auto model = train::build_model(c);
  model->load_state_dict(ck.model);
  data::DataLoader loader(ds.test, train::eval_transform(c), {.batch_size = 64, .shuffle = false, .workers = 1});
  train::evaluate(*model, loader);  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  auto m = train::evaluate(*model, loader);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"train_images_per_sec\": %.1f, \"infer_images_per_sec\": %.1f, \"test_accuracy\": %.4f}\n", train_ips,
              static_cast<double>(m.count()) / secs, r.last_top1);
  std::filesystem::remove_all(dir);
}
