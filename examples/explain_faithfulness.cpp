// Which explanation method is most faithful to a trained checkpoint? Every method on the first
// test images of each class, for each image's two most likely classes, then the deletion and
// insertion areas, average drop and increase in confidence of every method beside a random map.
// Usage: explain_faithfulness CHECKPOINT [IMAGES_PER_CLASS]   (a checkpoint from `make demo`:
// build/demo/best.safetensors)
#include <fmt/core.h>

#include <map>

#include "fovea/explain/faithfulness.h"
#include "fovea/train/trainer.h"

using namespace fovea;

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    fmt::print(stderr, "usage: {} CHECKPOINT [IMAGES_PER_CLASS]\n", argv[0]);
    return 2;
  }
  try {
    auto [model, c] = train::load_trained(argv[1]);  // the network, its classes and normalisation
    auto test = train::open_data(c).test;
    auto transform = train::eval_transform(c);
    const std::int64_t per_class = argc == 3 ? std::stoll(argv[2]) : 2;

    std::vector<Tensor> xs;
    std::map<std::int64_t, std::int64_t> count;
    Generator g(0);
    for (std::int64_t i = 0; i < test->size(); ++i)
      if (count[test->label(i)]++ < per_class) xs.push_back(transform(test->get(i).image, g));
    const Tensor x = stack(xs, 0);  // (N,C,H,W), normalised as in training

    explain::ExplainOptions o;
    o.methods = explain::all_methods();
    o.smoothgrad_samples = 10;
    o.ig_steps = 32;
    const Tensor targets = explain::predicted_classes(*model, x, 2);  // (N,2): most likely first
    const auto es = explain::explain_each(*model, x, targets, o);
    for (std::size_t r = 0; r < es.size(); ++r) {
      fmt::print(
          "\nrank {} class of each of {} images (CAM layer {}; integrated gradients' completeness error of "
          "the first image {:.3f})\n",
          r + 1, x.size(0), es[r].layer, explain::completeness_error(es[r], 0));
      fmt::print("{:<22} {:>13} {:>14} {:>14} {:>11}\n", "method", "deletion AUC", "insertion AUC", "average drop",
                 "increase");
      for (const auto& [method, f] : explain::evaluate(*model, x, es[r], o.methods, {.steps = 25}))
        fmt::print("{:<22} {:>13.4f} {:>14.4f} {:>13.1f}% {:>10.1f}%\n", method, f.mean_deletion_auc,
                   f.mean_insertion_auc, f.average_drop, f.increase);
    }
  } catch (const std::exception& ex) {
    fmt::print(stderr, "error: {}\n", ex.what());
    return 1;
  }
  return 0;
}
