// A training loop written by hand with fovea's data pipeline: Fashion-MNIST through a
// DataLoader with augmentation, a model from the zoo, AdamW with a one-cycle schedule, and the
// metrics and progress display `fovea train` uses. Run: build/examples/fashion_mnist_loop [epochs]
#include <fmt/core.h>

#include "fovea/autograd/grad_mode.h"
#include "fovea/data/dataloader.h"
#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/optim.h"
#include "fovea/train/metrics.h"
#include "fovea/train/progress.h"

using namespace fovea;

int main(int argc, char** argv) {
  const std::int64_t epochs = argc > 1 ? std::atoll(argv[1]) : 2;
  auto train_set = data::fashion_mnist(data::kFashionMnistDir, true);
  auto test_set = data::fashion_mnist(data::kFashionMnistDir, false);
  auto [mean, std] = data::channel_stats(*train_set);

  auto train_tf = data::compose({data::to_tensor(), data::random_horizontal_flip(), data::normalize(mean, std)});
  auto test_tf = data::compose({data::to_tensor(), data::normalize(mean, std)});
  data::DataLoader train_loader(train_set, train_tf, {.batch_size = 64, .shuffle = true, .workers = 1, .seed = 1});
  data::DataLoader test_loader(test_set, test_tf, {.batch_size = 256, .shuffle = false, .workers = 1});

  manual_seed(1);
  auto model = models::create("lenet5", {.num_classes = 10, .in_channels = 1});
  optim::AdamW opt(model->parameters(), {.lr = 3e-3, .weight_decay = 1e-4});
  optim::OneCycleLR sched(opt, {.max_lr = 3e-3, .total_steps = epochs * train_loader.num_batches()});

  train::Progress progress(stdout, train::Progress::is_terminal(stdout));
  for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
    model->train();
    train_loader.start_epoch(epoch);
    progress.start_epoch(epoch + 1, epochs, train_loader.num_batches());
    while (auto b = train_loader.next()) {
      Tensor logits = (*model)(b->images);
      Tensor loss = cross_entropy(logits, b->labels);
      opt.zero_grad();
      loss.backward();
      opt.step();
      sched.step();
      NoGradGuard ng;
      progress.update(b->labels.numel(), loss.item(),
                      static_cast<std::int64_t>(sum(eq(argmax(logits, 1), b->labels)).item()));
    }
    NoGradGuard ng;
    model->eval();
    train::Metrics m(10);
    test_loader.start_epoch(0);
    while (auto b = test_loader.next()) {
      Tensor logits = (*model)(b->images);
      m.update(logits, b->labels, cross_entropy(logits, b->labels).item());
    }
    progress.end_epoch(fmt::format("test loss {:.4f}  top-1 {:.2f}%", m.loss(), 100 * m.top1()));
    if (epoch + 1 == epochs) fmt::print("\n{}", train::per_class_table(m, test_set->classes()));
  }
}
