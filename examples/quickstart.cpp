// Quickstart: build a small CNN from modules, train it with SGD + a cosine schedule on a
// synthetic task (which quadrant of a noisy 16x16 image holds a faint square), save the weights as
// safetensors, load them into a fresh network and check the two agree.
#include <fmt/core.h>

#include <chrono>

#include "fovea/autograd/grad_mode.h"
#include "fovea/nn/nn.h"
#include "fovea/optim/optim.h"

using namespace fovea;

// images: (N,1,16,16) noise with a faint 3x3 square in quadrant `label` (0..3)
static std::pair<Tensor, Tensor> make_data(std::int64_t n, Generator& g) {
  Tensor x = rand({n, 1, 16, 16}, {}, g);
  std::vector<std::int64_t> labels(n);
  float* px = x.data<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    labels[i] = static_cast<std::int64_t>(g.below(4));
    std::int64_t r0 = (labels[i] / 2) * 8 + static_cast<std::int64_t>(g.below(6));
    std::int64_t c0 = (labels[i] % 2) * 8 + static_cast<std::int64_t>(g.below(6));
    for (std::int64_t r = r0; r < r0 + 3; ++r)
      for (std::int64_t c = c0; c < c0 + 3; ++c) px[i * 256 + r * 16 + c] += 0.3f;
  }
  return {x, from_vector(labels, {n})};
}

int main() {
  manual_seed(0);
  Generator data_gen(42);
  auto [train_x, train_y] = make_data(2048, data_gen);
  auto [test_x, test_y] = make_data(512, data_gen);

  auto net = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Conv2d>({.in = 1, .out = 8, .kernel = 3, .padding = 1}), nn::make<nn::BatchNorm2d>({.features = 8}),
      nn::make<nn::ReLU>(), nn::make<nn::MaxPool2d>({.kernel = 2}),
      nn::make<nn::Conv2d>({.in = 8, .out = 16, .kernel = 3, .padding = 1}), nn::make<nn::ReLU>(),
      nn::make<nn::MaxPool2d>({.kernel = 2}), nn::make<nn::Flatten>(),
      nn::make<nn::Linear>({.in = 16 * 4 * 4, .out = 4})});
  fmt::print("{}\n{} parameters\n\n", net->repr(), net->num_parameters());

  const int epochs = 4;
  const std::int64_t batch = 64, steps = 2048 / batch;
  optim::SGD opt(net->parameters(), {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
  optim::CosineAnnealingLR sched(opt, {.t_max = epochs * steps});
  auto t0 = std::chrono::steady_clock::now();
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    net->train();
    double total = 0;
    for (std::int64_t s = 0; s < steps; ++s) {
      Tensor xb = train_x.slice(0, s * batch, (s + 1) * batch);
      Tensor yb = train_y.slice(0, s * batch, (s + 1) * batch);
      opt.zero_grad();
      Tensor loss = cross_entropy((*net)(xb), yb);
      loss.backward();
      opt.step();
      sched.step();
      total += loss.item();
    }
    net->eval();
    NoGradGuard ng;
    Tensor pred = argmax((*net)(test_x), 1);
    double acc = sum(eq(pred, test_y).to(DType::f32)).item() / 512.0;
    fmt::print("epoch {}  train loss {:.4f}  test accuracy {:.1f}%\n", epoch, total / steps, 100 * acc);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("trained in {:.2f} s ({:.0f} images/s)\n", secs, epochs * 2048 / secs);

  const std::string path = "quickstart.safetensors";
  nn::save(*net, path, {{"example", "quickstart"}});
  auto copy = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Conv2d>({.in = 1, .out = 8, .kernel = 3, .padding = 1}), nn::make<nn::BatchNorm2d>({.features = 8}),
      nn::make<nn::ReLU>(), nn::make<nn::MaxPool2d>({.kernel = 2}),
      nn::make<nn::Conv2d>({.in = 8, .out = 16, .kernel = 3, .padding = 1}), nn::make<nn::ReLU>(),
      nn::make<nn::MaxPool2d>({.kernel = 2}), nn::make<nn::Flatten>(),
      nn::make<nn::Linear>({.in = 16 * 4 * 4, .out = 4})});
  nn::load(*copy, path);
  copy->eval();
  NoGradGuard ng;
  double diff = max(abs((*net)(test_x) - (*copy)(test_x))).item();
  fmt::print("saved {} and reloaded it: max difference of the logits {}\n", path, diff);
  return diff == 0 ? 0 : 1;
}
