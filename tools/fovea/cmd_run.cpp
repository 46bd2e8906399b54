// `fovea run`: a model in eval mode on a tensor file or on image files; the output tensor is
// written as safetensors.
#include <fmt/core.h>

#include <filesystem>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/image.h"
#include "fovea/io/safetensors.h"
#include "fovea/models/registry.h"
#include "fovea/nn/serialize.h"
#include "fovea/onnx/import.h"
#include "fovea/ops/ops.h"
#include "fovea/train/deploy.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

constexpr const char* kOp = "run";

struct Args {
  std::string model, checkpoint, weights, tensor, output, device = "cpu";
  std::vector<std::string> images;
  std::int64_t num_classes = 1000;
};

// The model and how image files become its input: a checkpoint's normalisation, an ONNX file's
// metadata (docs/onnx.md), or pixel / 255 for a zoo or spec model with weights.
std::pair<nn::ModulePtr, train::Preprocess> load(const Args& a, std::int64_t channels) {
  if (!a.checkpoint.empty()) {
    auto t = train::load_trained(a.checkpoint);
    return {t.model, train::preprocess_of(t.config)};
  }
  if (a.model.empty()) fail(kOp, "give a model (zoo name, .json or .onnx) or --checkpoint FILE");
  if (onnx::is_onnx_path(a.model)) {
    auto model = models::create(a.model);
    if (!a.weights.empty()) nn::load(*model, a.weights);  // an ONNX graph's own state_dict keys
    return {model, train::preprocess_of(onnx::inspect(a.model), a.model)};
  }
  if (a.weights.empty()) fail(kOp, "--weights is required for a zoo or spec model");
  auto model = models::create(a.model, {.num_classes = a.num_classes, .in_channels = channels});
  cli::load_weights(*model, a.weights);
  return {model, {}};
}

}  // namespace

void add_run(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("run", "run a model on image files or a tensor file; write the output tensor");
  cmd->add_option("model", a->model, "a zoo model, a network spec file (.json) or an ONNX file (.onnx)");
  cmd->add_option("--checkpoint", a->checkpoint, "or: a checkpoint written by fovea train");
  cmd->add_option("--weights", a->weights,
                  "weights: a state dict with torchvision's key names (.safetensors, torch.save .pth / .pt) or a "
                  "fovea checkpoint");
  cmd->add_option("images", a->images, "PNG or JPEG files (preprocessed as the checkpoint or ONNX file says)");
  cmd->add_option("--tensor", a->tensor, "or: a safetensors file holding a tensor named 'input' (N,C,H,W)");
  cmd->add_option("--output", a->output, "where to write the tensor 'output'")->required();
  cmd->add_option("--num-classes", a->num_classes, "zoo models: the classifier's outputs")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->callback([a] {
    if (!a->checkpoint.empty() && !a->model.empty()) {  // no MODEL with --checkpoint: the first word is an image
      a->images.insert(a->images.begin(), a->model);
      a->model.clear();
    }
    if (a->images.empty() == a->tensor.empty()) fail(kOp, "give image files or --tensor FILE (one of them)");
    Tensor x;
    if (!a->tensor.empty()) {
      auto in = io::load_safetensors(a->tensor);
      if (!in.contains("input")) fail(kOp, "{} holds no tensor named 'input'", a->tensor);
      x = in.at("input");
      if (x.dim() != 4) fail(kOp, "the input must be (N,C,H,W), got {}", shape_str(x.shape()));
      if (x.dtype() != DType::f32) x = x.to(DType::f32);
    }
    auto [model, pre] = load(*a, x.defined() ? x.size(1) : 3);
    if (!a->images.empty()) {
      const int channels = pre.input.size() == 3 ? static_cast<int>(pre.input[0]) : 0;
      const auto transform = train::transform_of(pre);
      Generator g(0);
      std::vector<Tensor> xs;
      for (const auto& f : a->images) {
        xs.push_back(transform(io::read_image(f, channels), g));
        if (xs.back().shape() != xs.front().shape())
          fail(kOp, "{} is {} but {} is {}: give images of one size, or a checkpoint or ONNX file that resizes them", f,
               shape_str(xs.back().shape()), a->images.front(), shape_str(xs.front().shape()));
      }
      x = stack(xs, 0);
    }
    model->eval();
    NoGradGuard ng;
    const Device dev = Device::parse(a->device);
    model->to(dev);
    Tensor y = (*model)(x.to(dev)).to(kCPU);
    const std::string what = a->checkpoint.empty() ? a->model : a->checkpoint;
    io::save_safetensors(a->output, {{"output", y}}, {{"model", what}});
    fmt::print("{} {} -> {} written to {}\n", what, shape_str(x.shape()), shape_str(y.shape()), a->output);
  });
}

}  // namespace fovea::cli
