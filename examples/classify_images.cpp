// Classify image files with a trained model, as a deployed program does: from a fovea train
// checkpoint or from the ONNX file `fovea export` wrote (whose metadata carries the input size,
// the normalisation and the class names: docs/onnx.md, "Metadata").
//   classify_images MODEL.onnx|CHECKPOINT.safetensors IMAGE...
// For example, after `make demo`:
//   build/fovea export --checkpoint build/demo/best.safetensors --out lenet5.onnx
//   build/examples/classify_images lenet5.onnx shirt.png
#include <fmt/core.h>

#include <algorithm>

#include "fovea/autograd/grad_mode.h"
#include "fovea/core/threads.h"
#include "fovea/io/image.h"
#include "fovea/onnx/import.h"
#include "fovea/ops/ops.h"
#include "fovea/train/checkpoint.h"
#include "fovea/train/deploy.h"
#include "fovea/train/trainer.h"

using namespace fovea;

int main(int argc, char** argv) {
  use_short_spin_wait(argv);  // as the fovea command does (docs/backend.md, "How idle threads wait")
  if (argc < 3) {
    fmt::print(stderr, "usage: {} MODEL.onnx|CHECKPOINT.safetensors IMAGE...\n", argv[0]);
    return 2;
  }
  try {
    const std::string model_path = argv[1];
    nn::ModulePtr model;
    train::Preprocess pre;  // input size, mean / std, class names
    if (onnx::is_onnx_path(model_path)) {
      model = onnx::load_model(model_path);
      pre = train::preprocess_of(onnx::inspect(model_path), model_path);
    } else {
      auto trained = train::load_trained(model_path);
      model = trained.model;
      pre = train::preprocess_of(trained.config);
    }
    model->eval();
    const auto transform = train::transform_of(pre);  // pixel / 255, resize, normalise
    const int channels = pre.input.size() == 3 ? static_cast<int>(pre.input[0]) : 0;
    NoGradGuard no_grad;
    Generator g(0);
    for (int i = 2; i < argc; ++i) {
      const Tensor x = transform(io::read_image(argv[i], channels), g).unsqueeze(0);  // (1,C,H,W)
      const auto p = softmax((*model)(x), 1).to_vector<float>();
      const auto best = std::max_element(p.begin(), p.end()) - p.begin();
      const std::string name = pre.classes.empty() ? std::to_string(best) : pre.classes[best];
      fmt::print("{}: {} ({:.1f}%)\n", argv[i], name, 100 * p[best]);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
