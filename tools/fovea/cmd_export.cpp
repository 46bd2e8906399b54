// `fovea export`: a trained checkpoint (or a zoo / spec model with safetensors weights) as ONNX.
#include <fmt/core.h>

#include <filesystem>

#include "fovea/models/registry.h"
#include "fovea/models/spec.h"
#include "fovea/nn/serialize.h"
#include "fovea/onnx/export.h"
#include "fovea/train/deploy.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

void add_export(CLI::App& app) {
  struct Args {
    std::string checkpoint, model, weights, input, out;
    std::int64_t opset = 17, num_classes = 1000;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("export", "write a model as ONNX (dynamic batch), for other runtimes");
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint written by fovea train");
  cmd->add_option("--model", a->model, "or: a zoo model or a network spec file (.json) ...");
  cmd->add_option(
      "--weights", a->weights,
      "... with these weights (torchvision's key names; .safetensors, torch.save .pth / .pt or a fovea checkpoint)");
  cmd->add_option("--input,--input-shape", a->input, "C x H x W, e.g. 3x224x224 (default: the checkpoint's or spec's)");
  cmd->add_option("--num-classes", a->num_classes, "zoo models: the classifier's outputs")->capture_default_str();
  cmd->add_option("--opset", a->opset, "ONNX opset, 11 to 17")->capture_default_str();
  cmd->add_option("--out", a->out, "the .onnx file to write")->required();
  cmd->add_flag("--force", a->force, "overwrite --out when it exists");
  cmd->callback([a] {
    if (std::filesystem::exists(a->out) && !a->force)
      fail("export", "{} exists; choose another --out or pass --force to overwrite it", a->out);
    nn::ModulePtr model;
    Shape input;
    std::string what;
    train::Preprocess pre;  // a checkpoint's normalisation and classes go into the file's metadata
    if (!a->checkpoint.empty()) {
      if (!a->model.empty()) fail("export", "give --checkpoint or --model, not both");
      auto t = train::load_trained(a->checkpoint);
      model = t.model;
      input = t.config.input;
      what = a->checkpoint;
      pre = train::preprocess_of(t.config);
    } else if (!a->model.empty()) {
      if (a->input.empty() && !models::is_spec_path(a->model))
        fail("export", "--input CxHxW is required with a zoo model");
      Shape chw = a->input.empty() ? models::load_spec(a->model).input : parse_chw(a->input, "export");
      model = models::create(a->model, {.num_classes = a->num_classes, .in_channels = chw[0]});
      if (!a->weights.empty()) cli::load_weights(*model, a->weights);
      input = chw;
      what = a->model;
    } else {
      fail("export", "give --checkpoint FILE, or --model NAME --input CxHxW [--weights FILE]");
    }
    if (!a->input.empty()) input = parse_chw(a->input, "export");
    pre.input = input;
    onnx::save_model(*model, input, a->out, {.opset = a->opset, .metadata = train::onnx_metadata(pre)});
    fmt::print("{} (input N x {}) -> {} (opset {}{})\n", what, shape_str(input), a->out, a->opset,
               a->checkpoint.empty() ? "" : "; normalisation and class names in its metadata");
  });
}

}  // namespace fovea::cli
