// `fovea predict`: the top-k classes of images (files, or test images by index).
#include <fmt/core.h>

#include <sstream>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/image.h"
#include "fovea/ops/ops.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

void add_predict(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "print the most likely classes of images");
  struct Args {
    std::string checkpoint, indices, device = "cpu";
    std::vector<std::string> images;
    std::int64_t top = 3;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint written by fovea train")->required();
  cmd->add_option("images", a->images, "PNG or JPEG files");
  cmd->add_option("--test-index", a->indices, "comma-separated indices into the checkpoint's test data");
  cmd->add_option("--top", a->top, "how many classes to show")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->callback([a] {
    if (a->images.empty() && a->indices.empty()) fail("predict", "give image files or --test-index");
    if (a->top < 1) fail("predict", "--top must be >= 1, got {}", a->top);
    auto ck = train::load_checkpoint(a->checkpoint);
    train::RunConfig c = ck.config;
    auto model = train::build_model(c);
    model->load_state_dict(ck.model);
    model->eval();
    const Device dev = Device::parse(a->device);
    model->to(dev);
    auto transform = train::eval_transform(c);
    std::vector<std::pair<std::string, Tensor>> inputs;  // name, (C,H,W) u8
    for (auto& f : a->images) inputs.emplace_back(f, io::read_image(f, static_cast<int>(c.in_channels)));
    if (!a->indices.empty()) {
      auto ds = train::open_data(c).test;
      std::stringstream ss(a->indices);
      std::string item;
      while (std::getline(ss, item, ',')) {
        std::int64_t i = -1;
        try {
          i = std::stoll(item);
        } catch (const std::exception&) {
        }
        if (i < 0 || i >= ds->size()) fail("predict", "test index '{}' out of range [0, {})", item, ds->size());
        auto ex = ds->get(i);
        inputs.emplace_back(fmt::format("{} #{} (true: {})", c.data, i, c.classes[ex.label]), ex.image);
      }
    }
    NoGradGuard ng;
    Generator g(0);
    const std::int64_t k = std::min<std::int64_t>(a->top, c.num_classes);
    for (auto& [name, img] : inputs) {
      Tensor x = transform(img, g).unsqueeze(0).to(dev);
      auto p = softmax((*model)(x), 1).to_vector<float>();
      std::vector<std::int64_t> order(p.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](auto x1, auto x2) { return p[x1] > p[x2]; });
      fmt::print("{}\n", name);
      for (std::int64_t r = 0; r < k; ++r) fmt::print("  {:>6.2f}%  {}\n", 100 * p[order[r]], c.classes[order[r]]);
    }
  });
}

}  // namespace fovea::cli
