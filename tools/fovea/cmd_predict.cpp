// `fovea predict`: the top-k classes of images (files, or test images by index), by a checkpoint
// or by an ONNX file (its metadata gives the normalisation and class names: docs/onnx.md).
#include <fmt/core.h>

#include <sstream>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/image.h"
#include "fovea/models/registry.h"
#include "fovea/onnx/import.h"
#include "fovea/ops/ops.h"
#include "fovea/train/deploy.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

constexpr const char* kOp = "predict";

}  // namespace

void add_predict(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "print the most likely classes of images");
  struct Args {
    std::string checkpoint, model, indices, device = "cpu";
    std::vector<std::string> images;
    std::int64_t top = 3;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint written by fovea train");
  cmd->add_option("--model", a->model, "or: an ONNX file (fovea export writes its normalisation and classes)");
  cmd->add_option("images", a->images, "PNG or JPEG files");
  cmd->add_option("--test-index", a->indices, "comma-separated indices into the checkpoint's test data");
  cmd->add_option("--top", a->top, "how many classes to show")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->callback([a] {
    if (a->images.empty() && a->indices.empty()) fail(kOp, "give image files or --test-index");
    if (a->top < 1) fail(kOp, "--top must be >= 1, got {}", a->top);
    if (a->checkpoint.empty() == a->model.empty()) fail(kOp, "give --checkpoint FILE or --model FILE.onnx");
    nn::ModulePtr model;
    train::Preprocess pre;
    train::RunConfig c;
    if (!a->checkpoint.empty()) {
      auto t = train::load_trained(a->checkpoint);
      model = t.model;
      c = t.config;
      pre = train::preprocess_of(c);
    } else {
      if (!onnx::is_onnx_path(a->model)) fail(kOp, "--model takes an ONNX file (.onnx), got {}", a->model);
      if (!a->indices.empty()) fail(kOp, "--test-index needs --checkpoint (an ONNX file names no test data)");
      pre = train::preprocess_of(onnx::inspect(a->model), a->model);
      if (pre.mean.empty())
        fmt::print(stderr,
                   "note: {} holds no normalisation (metadata fovea.mean / fovea.std): images go in as pixel / 255\n",
                   a->model);
      model = models::create(a->model);
    }
    model->eval();
    const Device dev = Device::parse(a->device);
    model->to(dev);
    const auto transform = train::transform_of(pre);
    const int channels = pre.input.size() == 3 ? static_cast<int>(pre.input[0]) : 0;
    std::vector<std::pair<std::string, Tensor>> inputs;  // name, (C,H,W) u8
    for (auto& f : a->images) inputs.emplace_back(f, io::read_image(f, channels));
    if (!a->indices.empty()) {
      train::check_checkpoint_data(c, kOp);
      auto ds = train::open_data(c).test;
      std::stringstream ss(a->indices);
      std::string item;
      while (std::getline(ss, item, ',')) {
        std::int64_t i = -1;
        try {
          i = std::stoll(item);
        } catch (const std::exception&) {
        }
        if (i < 0 || i >= ds->size()) fail(kOp, "test index '{}' out of range [0, {})", item, ds->size());
        auto ex = ds->get(i);
        inputs.emplace_back(fmt::format("{} (true: {})", ds->source(i), c.classes[ex.label]), ex.image);
      }
    }
    NoGradGuard ng;
    Generator g(0);
    for (auto& [name, img] : inputs) {
      Tensor x = transform(img, g).unsqueeze(0).to(dev);
      Tensor logits = (*model)(x);
      if (logits.dim() != 2 || logits.size(0) != 1)
        fail(kOp, "the model must return logits (1,K) for one image, got {}", shape_str(logits.shape()));
      auto p = softmax(logits, 1).to_vector<float>();
      const auto classes = static_cast<std::int64_t>(p.size());
      if (!pre.classes.empty() && static_cast<std::int64_t>(pre.classes.size()) != classes)
        fail(kOp, "the model gives {} classes but its metadata names {}", classes, pre.classes.size());
      const std::int64_t k = std::min<std::int64_t>(a->top, classes);
      std::vector<std::int64_t> order(p.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](auto x1, auto x2) { return p[x1] > p[x2]; });
      fmt::print("{}\n", name);
      for (std::int64_t r = 0; r < k; ++r)
        fmt::print("  {:>6.2f}%  {}\n", 100 * p[order[r]],
                   pre.classes.empty() ? std::to_string(order[r]) : pre.classes[order[r]]);
    }
  });
}

}  // namespace fovea::cli
