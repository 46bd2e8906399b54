// Explain a trained checkpoint: the first test image of every class, the five maps of the
// visualisation article (vanilla, guided backprop, deconvnet, Grad-CAM, guided Grad-CAM), one
// figure. Usage: explain_maps CHECKPOINT OUT.png   (a checkpoint from `make demo`:
// build/demo/best.safetensors)
#include <fmt/core.h>

#include "fovea/explain/render.h"
#include "fovea/io/image.h"
#include "fovea/train/trainer.h"

using namespace fovea;

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: {} CHECKPOINT OUT.png\n", argv[0]);
    return 2;
  }
  try {
    auto [model, c] = train::load_trained(argv[1]);  // the network, its classes and normalisation
    auto test = train::open_data(c).test;
    auto transform = train::eval_transform(c);

    // the first test image of each class, normalised as in training
    std::vector<Tensor> xs, shown;
    std::vector<std::int64_t> labels;
    Generator g(0);
    for (std::int64_t i = 0; i < test->size() && static_cast<std::int64_t>(labels.size()) < c.num_classes; ++i) {
      auto ex = test->get(i);
      if (std::find(labels.begin(), labels.end(), ex.label) != labels.end()) continue;
      labels.push_back(ex.label);
      xs.push_back(transform(ex.image, g));
      shown.push_back(ex.image);
    }
    const Tensor x = stack(xs, 0);                                         // (N,C,H,W)
    const Tensor target = from_vector<std::int64_t>(labels, {x.size(0)});  // explain the true class

    const explain::Explanation e = explain::explain(*model, x, target);
    fmt::print("CAM layer: {}\n", e.layer);
    std::vector<explain::FigureRow> rows;
    for (std::int64_t i = 0; i < x.size(0); ++i) rows.push_back({shown[i], c.classes[labels[i]], &e, i});
    io::write_png(argv[2], explain::figure(rows, explain::default_methods()));
    fmt::print("written {}\n", argv[2]);
  } catch (const std::exception& ex) {
    fmt::print(stderr, "error: {}\n", ex.what());
    return 1;
  }
  return 0;
}
